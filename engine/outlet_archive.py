"""An outlet's archive (网点档案): its staff records, its assessments and its monthly volumes.

The monthly installation and repair volumes are counted from the outlet's finished cases, so the
archive and the fee settlement that works from them cannot disagree with the cases themselves.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import record_event
from engine.clock import Clock
from engine.errors import ValidationError
from engine.identity import Actor
from engine.network import OutletInfo, get_outlet, outlet_info, require_keeper
from engine.states import InstanceStatus
from engine.tables import Instance, OutletAssessment, OutletStaff


@dataclass(frozen=True)
class StaffRecord:
    staff_id: uuid.UUID
    name: str
    role: str
    certified_on: date | None


@dataclass(frozen=True)
class Assessment:
    assessed_at: datetime
    passed: bool
    score: int | None
    notes: str | None
    instance_id: uuid.UUID | None


@dataclass(frozen=True)
class OutletArchive:
    outlet: OutletInfo
    staff: tuple[StaffRecord, ...]
    assessments: tuple[Assessment, ...]
    # {"2026-01": {"complaint_handling": 3, ...}}: finished cases per month and process.
    monthly_volumes: dict[str, dict[str, int]]
    onboarding_instance_id: uuid.UUID | None


def archive_of(session: Session, code: str) -> OutletArchive:
    """Raises: NotFoundError."""
    outlet = get_outlet(session, code)
    staff = session.scalars(select(OutletStaff).where(OutletStaff.outlet_code == code)
                            .order_by(OutletStaff.created_at, OutletStaff.name))
    assessments = session.scalars(select(OutletAssessment).where(OutletAssessment.outlet_code == code)
                                  .order_by(OutletAssessment.assessed_at))
    volumes: dict[str, dict[str, int]] = {}
    finished = session.execute(select(Instance.ended_at, Instance.definition_key).where(
        Instance.outlet_code == code, Instance.status == InstanceStatus.COMPLETED))
    for ended_at, key in finished:
        if ended_at is None:
            continue
        month = volumes.setdefault(ended_at.strftime("%Y-%m"), {})
        month[key] = month.get(key, 0) + 1
    return OutletArchive(
        outlet_info(outlet),
        tuple(StaffRecord(s.staff_id, s.name, s.role, s.certified_on) for s in staff),
        tuple(Assessment(a.assessed_at, a.passed, a.score, a.notes, a.instance_id) for a in assessments),
        dict(sorted(volumes.items())), outlet.onboarding_instance_id)


def add_staff(session: Session, clock: Clock, *, actor: Actor, code: str, name: str, role: str,
              certified_on: date | None = None) -> StaffRecord:
    """Raises: NotFoundError, PermissionDeniedError, ValidationError."""
    outlet = get_outlet(session, code)
    require_keeper(actor, outlet.region_code)
    record = staff_record(session, clock, code=code, name=name, role=role, certified_on=certified_on)
    record_event(session, clock, actor=actor.username, event_type="outlet_staff_added",
                 data={"code": code, "name": record.name, "role": record.role,
                       "certified_on": certified_on.isoformat() if certified_on else None})
    session.flush()
    return StaffRecord(record.staff_id, record.name, record.role, record.certified_on)


def staff_record(session: Session, clock: Clock, *, code: str, name: Any, role: Any,
                 certified_on: date | None) -> OutletStaff:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ValidationError("a staff member's name is 1-200 characters", field="name")
    if not isinstance(role, str) or not role.strip() or len(role) > 100:
        raise ValidationError("a role is 1-100 characters", field="role")
    record = OutletStaff(staff_id=uuid.uuid4(), outlet_code=code, name=name.strip(), role=role.strip(),
                         certified_on=certified_on, created_at=clock.now())
    session.add(record)
    return record
