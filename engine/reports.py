"""The SLA report: per process, region and outlet, how many deadlines were met, breached or are open."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.errors import ValidationError
from engine.identity import Actor
from engine.permissions import Permission, require
from engine.states import DeadlineStatus
from engine.tables import Deadline, Instance
from engine.visibility import within_organisation


@dataclass(frozen=True)
class SlaRow:
    process_key: str
    region: str | None
    outlet_code: str | None
    met: int
    breached: int
    open: int

    @property
    def total(self) -> int:
        return self.met + self.breached + self.open


def sla_report(
    session: Session, clock: Clock, *, actor: Actor, start: datetime, end: datetime, process_key: str | None = None
) -> list[SlaRow]:
    """Deadlines started in [start, end). An open deadline already past due counts as breached.

    Raises: PermissionDeniedError, ValidationError.
    """
    require(actor, Permission.REPORT)
    if end <= start:
        raise ValidationError("the period must end after it starts", field="end")
    now = clock.now()
    query = (
        select(Deadline.process_key, Instance.region, Instance.outlet_code, Deadline.status, Deadline.due_at,
               Deadline.paused_at)
        .join(Instance, Instance.instance_id == Deadline.instance_id)
        .where(Deadline.started_at >= start, Deadline.started_at < end, Deadline.status != DeadlineStatus.CANCELLED)
    )
    if process_key:
        query = query.where(Deadline.process_key == process_key)
    # A reporter bound to a region or an outlet counts only the cases of their part of the network.
    query = query.where(within_organisation(actor))
    counts: dict[tuple[str, str | None, str | None], list[int]] = {}
    for key, region, outlet, status, due_at, paused_at in session.execute(query):
        row = counts.setdefault((key, region, outlet), [0, 0, 0])
        if status == DeadlineStatus.MET:
            row[0] += 1
        elif status == DeadlineStatus.BREACHED or (paused_at is None and due_at < now):
            row[1] += 1
        else:
            row[2] += 1
    return [SlaRow(k, r, o, *c) for (k, r, o), c in sorted(counts.items(), key=lambda i: tuple(str(x) for x in i[0]))]
