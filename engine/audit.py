"""The append-only audit history: who did what to which instance or task, when, with what data."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.tables import AuditEvent


def record_event(
    session: Session,
    clock: Clock,
    *,
    actor: str,
    event_type: str,
    instance_id: uuid.UUID | None = None,
    task_id: uuid.UUID | None = None,
    definition_key: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Append one history row; it commits or rolls back with the change it describes."""
    session.add(
        AuditEvent(
            instance_id=instance_id,
            task_id=task_id,
            definition_key=definition_key,
            event_type=event_type,
            actor=actor,
            occurred_at=clock.now(),
            data=_jsonable(data or {}),
        )
    )


def events_of_instance(session: Session, instance_id: uuid.UUID) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.instance_id == instance_id).order_by(AuditEvent.event_id)
    return list(session.scalars(query))


def _jsonable(data: dict[str, Any]) -> dict[str, Any]:
    # Submitted form data may hold dates or decimals; history keeps their ISO/str form.
    result: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return result
