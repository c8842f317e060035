"""Loading and saving an instance's workflow: the state row, its spilled chunks, the cache and the state check.

How a session loads and saves is set by the `WorkflowStore` on its sessionmaker (`session_factory`):
whether a workflow cache keeps loaded workflows between transactions, whether every save is
rebuilt and compared (`verify_state`), and after how many finished tasks they are spilled.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, object_session, sessionmaker

from engine.advance_limits import limits_of
from engine.audit import record_event
from engine.bpmn.event_work import ThrownMessage
from engine.bpmn.serialization import CHUNKS_KEY, DEFAULT_SPILL_AT, SERIALIZER_VERSION, json_bytes
from engine.bpmn.spiff_adapter import Step, WorkflowRun
from engine.bpmn.support import DEFAULT_TOPIC
from engine.bundles import Bundle
from engine.clock import Clock
from engine.config import MAX_CASE_DATA_BYTES, EngineConfig
from engine.db import flush, make_session_factory
from engine.deadlines import close_case_deadline
from engine.errors import CaseDataTooLargeError
from engine.notifications.outbox import notify_case_ended
from engine.states import InstanceStatus
from engine.step_batch import step_flushes, take_chunks
from engine.step_sync import sync_rows
from engine.tables import Instance, InstanceStateChunk
from engine.workflow_cache import WorkflowCache

_STORE_KEY = "tixi_workflow_store"

# Who delivers the messages a saved step threw to other cases (engine.messages, which sits above
# this module: delivering resumes or starts another case, which is saved here again).
ThrownMessageRouter = Callable[[Session, Clock, str, Instance, list[ThrownMessage]], None]
_thrown_message_router: list[ThrownMessageRouter] = []


def route_thrown_messages_with(router: ThrownMessageRouter) -> None:
    """Install the one router of thrown messages (engine.messages does, when it is imported)."""
    _thrown_message_router[:] = [router]


@dataclass(frozen=True)
class WorkflowStore:
    cache: WorkflowCache | None = None
    verify_state: bool = False
    spill_at: int = DEFAULT_SPILL_AT
    max_case_data_bytes: int = MAX_CASE_DATA_BYTES
    default_topic: str = DEFAULT_TOPIC


_PLAIN = WorkflowStore()


def session_factory(engine: Engine, config: EngineConfig) -> sessionmaker[Session]:
    """A sessionmaker whose sessions load and save workflows as `config` says, with a cache of their own."""
    factory = make_session_factory(engine)
    cache = (WorkflowCache(config.workflow_cache_size, max_bytes=config.workflow_cache_bytes)
             if config.workflow_cache_size > 0 else None)
    store = WorkflowStore(cache, config.verify_state, config.state_spill_at, config.max_case_data_bytes,
                          config.external_task_default_topic)
    factory.kw["info"] = {**factory.kw.get("info", {}), _STORE_KEY: store}
    if cache is not None:
        cache.attach(factory)
    return factory


def store_of(session: Session) -> WorkflowStore:
    """The session's store; a session not made by `session_factory` loads and saves without a cache."""
    store: WorkflowStore = session.info.get(_STORE_KEY, _PLAIN)
    return store


def load_run(record: Instance, bundle: Bundle) -> WorkflowRun:
    """The instance's workflow: this server's copy if it is current, else rebuilt from the database."""
    session = object_session(record)
    assert session is not None  # records come from the caller's session
    cache = store_of(session).cache
    run = cache.take(record.instance_id, record.state_revision, bundle.cache_key) if cache is not None else None
    if run is None:
        chunks: Sequence[dict[str, Any]] = []
        if record.state.get(CHUNKS_KEY):  # read by the timer tick's batch (engine/step_batch.py), else here
            batched = take_chunks(session, record.instance_id)
            chunks = batched if batched is not None else _spilled_chunks(session, record.instance_id)
        run = WorkflowRun.load(bundle.cache_key, lambda: bundle.spec, record.state, chunks, record.serializer_version)
    WorkflowCache.hold(session, record.instance_id, run, bundle.cache_key, record.state_revision, saved=False)
    run.limits = limits_of(session)
    return run


def _spilled_chunks(session: Session, instance_id: uuid.UUID) -> Sequence[dict[str, Any]]:
    """The instance's chunks of spilled finished tasks, oldest first."""
    return session.scalars(select(InstanceStateChunk.tasks).where(InstanceStateChunk.instance_id == instance_id)
                           .order_by(InstanceStateChunk.seq)).all()


def save_run(
    session: Session,
    clock: Clock,
    *,
    actor: str,
    record: Instance,
    bundle: Bundle,
    run: WorkflowRun,
    steps: list[Step],
    fired_timer_ids: frozenset[uuid.UUID] = frozenset(),
) -> None:
    """Write the workflow's new state and everything derived from it; the caller commits."""
    now = clock.now()
    store = store_of(session)
    variables = sync_rows(session, clock, actor=actor, record=record, bundle=bundle, run=run, steps=steps,
                          fired_timer_ids=fired_timer_ids, default_topic=store.default_topic)
    run.data_bytes = _case_data_bytes(variables, store.max_case_data_bytes)
    stored = run.dump(spill_at=store.spill_at)
    if stored.chunk is not None:
        session.add(InstanceStateChunk(instance_id=record.instance_id, seq=stored.chunk_seq, tasks=stored.chunk))
    record.state, record.state_revision = stored.state, uuid.uuid4()
    record.serializer_version = SERIALIZER_VERSION
    record.updated_at = now
    if run.is_completed and record.status == InstanceStatus.RUNNING:
        _complete(session, clock, actor=actor, record=record, bundle=bundle, run=run, variables=variables)
    if step_flushes(session):  # the timer tick's batch flushes all its cases at once
        flush(session)
    # Only after the flush: a save that loses the optimistic lock there leaves the run marked as
    # changed, so its copy (ahead of the database) is dropped with the rollback, never kept.
    run.mark_saved()
    WorkflowCache.hold(session, record.instance_id, run, bundle.cache_key, record.state_revision, saved=True)
    if store.verify_state:
        _verify_stored_state(session, record, bundle, run)
    thrown = run.take_thrown()
    if thrown:  # after this case's own save: the receiver may be started or resumed in this transaction
        if not _thrown_message_router:
            raise RuntimeError("a case threw a message, and engine.messages (which delivers it) is not loaded")
        _thrown_message_router[0](session, clock, actor, record, thrown)


def _case_data_bytes(variables: dict[str, Any], limit: int) -> int:
    """The size of the case's data as JSON; past `limit` the step is refused and nothing of it is kept.

    One case's data is held in memory by every server that works it (the workflow cache) and
    written at every step: a few large values would take a server's memory from every other case.

    Raises: CaseDataTooLargeError.
    """
    size = json_bytes(variables)
    if size > limit:
        raise CaseDataTooLargeError(
            f"the case's data would be {size:,} bytes; the limit is {limit:,}. Keep large content (files, "
            "photos, long logs) outside the case and store a reference to it", size=size, limit=limit)
    return size


def _complete(session: Session, clock: Clock, *, actor: str, record: Instance, bundle: Bundle, run: WorkflowRun,
              variables: dict[str, Any]) -> None:
    now = clock.now()
    record.status, record.ended_at = InstanceStatus.COMPLETED, now
    if bundle.definition.elements.get("case_sla"):
        close_case_deadline(session, instance_id=record.instance_id, completed=True, now=now)
    # A side branch (e.g. quality feedback) may finish last; the case's outcome is its main end.
    side = set(bundle.elements(record.definition_key).get("side_end_events", []))
    ends = run.reached_end_events()
    outcomes = [e for e in ends if e not in side] or ends
    end = outcomes[-1] if outcomes else None
    record_event(session, clock, actor=actor, event_type="ended", instance_id=record.instance_id,
                 definition_key=record.definition_key,
                 data={"end_event": end, "end_event_name": bundle.name_of(record.definition_key, end or ""),
                       "end_events": ends, "variables": variables})
    notify_case_ended(session, record=record, actor=actor, outcome=bundle.name_of(record.definition_key, end or ""),
                      now=now)


def _verify_stored_state(session: Session, record: Instance, bundle: Bundle, run: WorkflowRun) -> None:
    """Check that the state just written (row and chunks) rebuilds the same workflow (`verify_state`)."""
    reloaded = WorkflowRun.load(bundle.cache_key, lambda: bundle.spec, record.state,
                                _spilled_chunks(session, record.instance_id), record.serializer_version)
    if not run.same_state_as(reloaded):
        raise AssertionError(f"the stored state of instance {record.instance_id} does not rebuild its workflow")
