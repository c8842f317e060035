"""Message correlation: a named message resumes the one instance waiting for it, or starts a process.

Routing is by the `message_subscriptions` table (and the instance's business key), then by
correlation keys compared with the candidates' variables. No match, or more than one, is an
error that names why; nothing changes then.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import record_event
from engine.bpmn.event_work import ThrownMessage
from engine.bundles import bundle_of
from engine.clock import Clock
from engine.definitions import get_definition_row, list_definitions
from engine.errors import ConflictError, NotFoundError, PermissionDeniedError, ValidationError
from engine.identity import ADMIN_GROUP, Actor
from engine.incidents import advance_or_incident
from engine.instances import launch_instance
from engine.permissions import Permission, has, may_start
from engine.signals import broadcast_signal, may_reach
from engine.states import InstanceStatus
from engine.tables import Instance, MessageSubscription
from engine.workflow_store import load_run, route_thrown_messages_with


@dataclass(frozen=True)
class MessageOutcome:
    outcome: str  # "resumed" | "started"
    instance_id: uuid.UUID
    definition_key: str
    element_id: str
    incident: str | None = None


def correlate_message(
    session: Session,
    clock: Clock,
    *,
    actor: Actor,
    name: str,
    business_key: str | None = None,
    correlation_keys: dict[str, Any] | None = None,
    variables: dict[str, Any] | None = None,
    sender: uuid.UUID | None = None,
) -> MessageOutcome:
    """Raises: ValidationError, NotFoundError (no match), ConflictError (ambiguous), PermissionDeniedError.

    `sender`: the case that threw the message, never its own receiver.
    """
    if not name.strip():
        raise ValidationError("a message needs a name", field="name")
    correlation_keys, variables = dict(correlation_keys or {}), dict(variables or {})
    # Only the cases this person may message are candidates: one they may not reach answers as one
    # that is not there, so neither the status nor a count tells them a guessed key exists.
    waiting = [match for match in _waiting_matches(session, actor, name, business_key, correlation_keys)
               if match[0].instance_id != sender]
    if len(waiting) > 1:
        raise ConflictError(
            f"{len(waiting)} instances wait for message '{name}' with these correlation values; "
            "add a business_key or correlation_keys that single one out",
            message=name, matches=len(waiting))
    if waiting:
        return _resume(session, clock, actor, name, waiting[0], variables)
    return _start(session, clock, actor, name, business_key, correlation_keys, variables)


def _waiting_matches(
    session: Session, actor: Actor, name: str, business_key: str | None, correlation_keys: dict[str, Any]
) -> list[tuple[Instance, MessageSubscription]]:
    query = (
        select(Instance, MessageSubscription)
        .join(MessageSubscription, MessageSubscription.instance_id == Instance.instance_id)
        .where(MessageSubscription.message_name == name, Instance.status == InstanceStatus.RUNNING)
    )
    if business_key is not None:
        query = query.where(Instance.business_key == business_key)
    matches = []
    for record, subscription in session.execute(query):
        if not may_reach(session, actor, record):
            continue
        if correlation_keys and not _correlates(session, record, correlation_keys):
            continue
        matches.append((record, subscription))
    return matches


def _correlates(session: Session, record: Instance, correlation_keys: dict[str, Any]) -> bool:
    variables = load_run(record, bundle_of(session, record)).variables()
    for key, expected in correlation_keys.items():
        actual = str(record.instance_id) if key == "instance_id" else variables.get(key, _MISSING)
        if actual != expected:
            return False
    return True


_MISSING = object()


def _resume(
    session: Session, clock: Clock, actor: Actor, name: str, match: tuple[Instance, MessageSubscription],
    variables: dict[str, Any],
) -> MessageOutcome:
    record, subscription = match
    _hold_subscription(session, name, record, subscription)
    bundle = bundle_of(session, record)
    run = load_run(record, bundle)
    now = clock.now()
    record_event(session, clock, actor=actor.username, event_type="message_received",
                 instance_id=record.instance_id, definition_key=record.definition_key,
                 data={"message": name, "element": subscription.element_id, "variables": variables})
    failure = advance_or_incident(session, clock, actor=actor.username, record=record, bundle=bundle, run=run,
                                  action=lambda: run.deliver_message(subscription.task_id, variables, now))
    return MessageOutcome("resumed", record.instance_id, record.definition_key, subscription.element_id,
                          failure.message if failure else None)


def _hold_subscription(session: Session, name: str, record: Instance, subscription: MessageSubscription) -> None:
    """Lock the case, then make sure it still waits for this message.

    A timer of the same event-based gateway (or another message) may have won the race while this
    one was routed: the timer worker holds the case's row (FOR UPDATE) while it fires, so waiting for
    that row and reading the subscription again lets exactly one of them through. SQLite's BEGIN
    IMMEDIATE already serialises the two.

    Raises: ConflictError.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(Instance).where(Instance.instance_id == record.instance_id).with_for_update()
                        .execution_options(populate_existing=True))
    still = session.execute(select(MessageSubscription.task_id).where(
        MessageSubscription.task_id == subscription.task_id).execution_options(populate_existing=True)).first()
    if still is None or record.status != InstanceStatus.RUNNING:
        raise ConflictError(f"the case stopped waiting for message '{name}' at the same moment (another event "
                            "came first); nothing was delivered", message=name)


def _start(
    session: Session, clock: Clock, actor: Actor, name: str, business_key: str | None,
    correlation_keys: dict[str, Any], variables: dict[str, Any],
) -> MessageOutcome:
    starts = [
        (info.key, event["element_id"])
        for info in list_definitions(session) if info.kind == "process"
        for event in get_definition_row(session, info.key, info.version).elements.get("start_events", [])
        if event["kind"] == "message" and event.get("message") == name
    ]
    if not starts:
        where = f" with business_key '{business_key}'" if business_key else ""
        where += f" and correlation keys {sorted(correlation_keys)}" if correlation_keys else ""
        raise NotFoundError(f"no instance you may reach waits for message '{name}'{where}, and no process starts with it",
                            message=name)
    if len(starts) > 1:
        raise ConflictError(f"message '{name}' starts {len(starts)} processes: "
                            f"{', '.join(sorted(k for k, _ in starts))}", message=name)
    key, element_id = starts[0]
    definition = get_definition_row(session, key, kind="process")
    starters = definition.elements.get("starter_groups", [])
    if not has(actor, Permission.ADMINISTER) and not may_start(actor, starters):
        raise PermissionDeniedError(f"only members of {', '.join(starters)} may start '{key}'")
    detail = launch_instance(session, clock, actor=actor, definition=definition, business_key=business_key,
                             variables=variables, start_element=element_id,
                             trigger={"message": name, "start_event": element_id})
    return MessageOutcome("started", detail.summary.instance_id, key, element_id)


# How many cases one message may pass on through before the chain is cut (a case answering a case
# answering it, for ever); the cut message is recorded as unmatched.
MAX_MESSAGE_CHAIN = 10
_CHAIN_KEY = "tixi_message_chain"


def deliver_thrown_messages(session: Session, clock: Clock, actor: str, record: Instance,
                            thrown: list[ThrownMessage]) -> None:
    """Deliver the messages a step of `record` threw exactly as `POST /api/messages` would, in this transaction.

    Each is correlated by its name and the sender's business key (a service case's processes share
    it), among every running case but the sender: the process routes it, not a person, so no one's
    visibility narrows it; the person whose step threw it is named in both histories. A message no
    case waits for and no process starts with (or that several cases wait for) is recorded in the
    sender's history as unmatched and the sender runs on, as Camunda's throw event does; POST
    /api/messages refuses it with the same reason.
    """
    routing = Actor(actor, frozenset({ADMIN_GROUP}))
    depth = session.info.get(_CHAIN_KEY, 0)
    for signal in (t for t in thrown if t.kind == "signal"):
        if depth >= MAX_MESSAGE_CHAIN:
            continue
        session.info[_CHAIN_KEY] = depth + 1
        try:
            heard = broadcast_signal(session, clock, actor=routing, name=signal.name, sender=record.instance_id)
        finally:
            session.info[_CHAIN_KEY] = depth
        record_event(session, clock, actor=actor, event_type="signal_sent", instance_id=record.instance_id,
                     definition_key=record.definition_key,
                     data={"signal": signal.name, "resumed": [str(i) for i in heard.resumed],
                           "started": [str(i) for i in heard.started]})
    for message in (t for t in thrown if t.kind == "message"):
        data: dict[str, Any] = {"message": message.name, "business_key": record.business_key}
        if depth >= MAX_MESSAGE_CHAIN:
            record_event(session, clock, actor=actor, event_type="message_unmatched", instance_id=record.instance_id,
                         definition_key=record.definition_key,
                         data={**data, "reason": f"passed on through {MAX_MESSAGE_CHAIN} cases; the chain was cut"})
            continue
        session.info[_CHAIN_KEY] = depth + 1
        try:
            outcome = correlate_message(session, clock, actor=routing, name=message.name,
                                        business_key=record.business_key,
                                        variables={**message.variables}, sender=record.instance_id)
        except (NotFoundError, ConflictError, PermissionDeniedError) as error:
            record_event(session, clock, actor=actor, event_type="message_unmatched", instance_id=record.instance_id,
                         definition_key=record.definition_key, data={**data, "reason": error.detail})
            continue
        finally:
            session.info[_CHAIN_KEY] = depth
        record_event(session, clock, actor=actor, event_type="message_sent", instance_id=record.instance_id,
                     definition_key=record.definition_key,
                     data={**data, "outcome": outcome.outcome, "to_instance": str(outcome.instance_id),
                           "to_process": outcome.definition_key, "to_element": outcome.element_id})


route_thrown_messages_with(deliver_thrown_messages)


