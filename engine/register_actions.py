"""Processes that change the outlet register: onboarding enters an outlet, probation makes it active
or ends it, revocation revokes it.

A designer marks the element with `camunda:property name="outlet_register"`; when that element
completes, its action runs on the case's data in the same transaction as the step, with the step's
actor in the history. Deploy refuses any other value (`REGISTER_ACTIONS`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import record_event
from engine.clock import Clock
from engine.errors import ProcessError
from engine.network import get_region
from engine.outlet_archive import staff_record
from engine.outlet_standing import change_standing, record_assessment
from engine.states import OutletStatus
from engine.tables import Instance, Outlet, User

ENTER, ACTIVATE, END, REVOKE = "enter", "activate", "end", "revoke"
REGISTER_ACTIONS = (ENTER, ACTIVATE, END, REVOKE)


def apply_register_actions(session: Session, clock: Clock, *, actor: str, record: Instance,
                           actions: list[str], variables: dict[str, Any]) -> None:
    """Run each register action of the elements a step completed, in order.

    Raises: ProcessError when the case's data cannot carry the action (e.g. no outlet code).
    """
    for action in actions:
        _ACTIONS[action](session, clock, actor, record, variables)


def _outlet_code(record: Instance, variables: dict[str, Any]) -> str:
    code = variables.get("outlet_code") or record.outlet_code
    if not isinstance(code, str) or not code:
        raise ProcessError("this step changes the outlet register, and the case names no outlet_code",
                           field="outlet_code")
    return code


def _enter(session: Session, clock: Clock, actor: str, record: Instance, variables: dict[str, Any]) -> None:
    """The agreement is issued: the outlet enters the register on probation, its applicant becomes its staff."""
    code = _outlet_code(record, variables)
    region = get_region(session, str(variables.get("region")), field="region")
    now = clock.now()
    issued = variables.get("issued_on")
    outlet = Outlet(code=code, name=str(variables.get("outlet_name") or code)[:200], region_code=region.code,
                    status=OutletStatus.PROBATION, outlet_class=_text(variables.get("outlet_class"), 50),
                    cities=[], agreement_no=_text(variables.get("agreement_no"), 100),
                    agreement_from=date.fromisoformat(issued) if isinstance(issued, str) else None,
                    onboarding_instance_id=record.instance_id, created_at=now, updated_at=now)
    session.add(outlet)
    applicant = session.scalar(select(User).where(User.username == record.started_by))
    bound = None
    if applicant is not None and applicant.outlet_code is None:
        applicant.outlet_code, applicant.region_code, bound = code, region.code, applicant.username
    record_event(session, clock, actor=actor, event_type="outlet_created", instance_id=record.instance_id,
                 data={"code": code, "name": outlet.name, "region_code": region.code, "status": outlet.status,
                       "agreement_no": outlet.agreement_no, "staff_bound": bound})


def _activate(session: Session, clock: Clock, actor: str, record: Instance, variables: dict[str, Any]) -> None:
    """Probation passed: the agreement is in force, and the engineers certified during probation
    become the outlet's staff records."""
    code = _outlet_code(record, variables)
    _assess(session, clock, code, record, variables, passed=True)
    engineers = variables.get("certified_engineers")
    for engineer in engineers if isinstance(engineers, list) else []:
        if isinstance(engineer, dict) and isinstance(engineer.get("name"), str):
            staff_record(session, clock, code=code, name=engineer["name"],
                         role=f"工程师 / engineer ({str(engineer.get('certificate_no', ''))[:50]})",
                         certified_on=clock.now().date())
    change_standing(session, clock, actor=actor, code=code, status=OutletStatus.ACTIVE,
                    reason="probation passed", instance_id=record.instance_id)


def _end(session: Session, clock: Clock, actor: str, record: Instance, variables: dict[str, Any]) -> None:
    code = _outlet_code(record, variables)
    _assess(session, clock, code, record, variables, passed=False)
    change_standing(session, clock, actor=actor, code=code, status=OutletStatus.ENDED,
                    reason="probation failed", instance_id=record.instance_id)


def _revoke(session: Session, clock: Clock, actor: str, record: Instance, variables: dict[str, Any]) -> None:
    change_standing(session, clock, actor=actor, code=_outlet_code(record, variables), status=OutletStatus.REVOKED,
                    reason=str(variables.get("reason") or "revoked"), instance_id=record.instance_id)


def _assess(session: Session, clock: Clock, code: str, record: Instance, variables: dict[str, Any], *,
            passed: bool) -> None:
    score = variables.get("assessment_score")
    record_assessment(session, clock, code=code, passed=passed,
                      score=score if isinstance(score, int) and not isinstance(score, bool) else None,
                      notes=_text(variables.get("assessment_notes"), 2000), instance_id=record.instance_id)


def _text(value: Any, limit: int) -> str | None:
    return str(value)[:limit] if isinstance(value, str) and value.strip() else None


_ACTIONS: dict[str, Callable[[Session, Clock, str, Instance, dict[str, Any]], None]] = {
    ENTER: _enter, ACTIVATE: _activate, END: _end, REVOKE: _revoke,
}
