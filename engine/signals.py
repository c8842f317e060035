"""Signals: a named broadcast to every waiting signal catch and boundary event, and a new case of every process a signal starts.

`POST /api/signals` broadcasts to the cases the sender may message (the same rule as messages:
admins, the process's starters for the cases their place allows, whoever sees the case) and
starts the processes the sender may start; a signal thrown inside a case broadcasts to every case
(the process routes it, not a person), in the same transaction as the throwing step.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import record_event
from engine.bundles import bundle_of
from engine.clock import Clock
from engine.definitions import get_definition_row, list_definitions
from engine.errors import ValidationError
from engine.identity import Actor
from engine.incidents import advance_or_incident
from engine.instances import launch_instance
from engine.permissions import Permission, has, may_start
from engine.signal_tables import SignalSubscription
from engine.states import InstanceStatus
from engine.tables import Instance
from engine.visibility import case_allows, instance_visible_to
from engine.workflow_store import load_run


@dataclass(frozen=True)
class SignalOutcome:
    resumed: list[uuid.UUID] = field(default_factory=list)
    started: list[uuid.UUID] = field(default_factory=list)


def broadcast_signal(
    session: Session, clock: Clock, *, actor: Actor, name: str, variables: dict[str, Any] | None = None,
    sender: uuid.UUID | None = None,
) -> SignalOutcome:
    """Deliver signal `name` to every waiting case `actor` may reach and start every process it starts.

    No receiver is no error: a broadcast reaches whoever listens (BPMN). Raises: ValidationError.
    """
    if not name.strip():
        raise ValidationError("a signal needs a name", field="name")
    variables = dict(variables or {})
    outcome = SignalOutcome()
    now = clock.now()
    listening = select(SignalSubscription.instance_id).where(SignalSubscription.signal_name == name)
    query = (select(Instance).where(Instance.instance_id.in_(listening), Instance.status == InstanceStatus.RUNNING)
             .order_by(Instance.started_at, Instance.instance_id))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=Instance)  # as the timer worker and messages hold a case they advance
    for record in session.scalars(query).all():
        if record.instance_id == sender or not may_reach(session, actor, record):
            continue
        _deliver(session, clock, actor=actor, record=record, name=name, variables=variables, now=now)
        outcome.resumed.append(record.instance_id)
    for info in list_definitions(session):
        if info.kind != "process":
            continue
        definition = get_definition_row(session, info.key, kind="process")
        starts = [e["element_id"] for e in definition.elements.get("start_events", [])
                  if e["kind"] == "signal" and e.get("signal") == name]
        starters = definition.elements.get("starter_groups", [])
        if not starts or (not has(actor, Permission.ADMINISTER) and not may_start(actor, starters)):
            continue
        detail = launch_instance(session, clock, actor=actor, definition=definition, business_key=None,
                                 variables=variables, start_element=starts[0],
                                 trigger={"signal": name, "start_event": starts[0]})
        outcome.started.append(detail.summary.instance_id)
    return outcome


def _deliver(session: Session, clock: Clock, *, actor: Actor, record: Instance, name: str,
             variables: dict[str, Any], now: datetime) -> None:
    bundle = bundle_of(session, record)
    run = load_run(record, bundle)
    record_event(session, clock, actor=actor.username, event_type="signal_received",
                 instance_id=record.instance_id, definition_key=record.definition_key,
                 data={"signal": name, "variables": variables})
    advance_or_incident(session, clock, actor=actor.username, record=record, bundle=bundle, run=run,
                        action=lambda: run.deliver_signal(name, variables, now))


def may_reach(session: Session, actor: Actor, record: Instance) -> bool:
    """Who may message or signal a case: admins; members of the process's starter groups for cases their place in the organisation allows; whoever sees the case."""
    if has(actor, Permission.ADMINISTER):
        return True
    starters: list[str] = bundle_of(session, record).definition.elements.get("starter_groups", [])
    if actor.in_any(starters) and case_allows(actor, outlet_code=record.outlet_code, region=record.region):
        return True
    return session.scalar(select(Instance.instance_id).where(
        Instance.instance_id == record.instance_id, instance_visible_to(actor))) is not None
