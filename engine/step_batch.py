"""A batch of steps in one transaction (the timer tick): the reads it makes once, not once per step.

A step on its own reads its case's task and timer rows in statements of its own (engine/step_sync.py),
and the audience of each new task's notification in another (engine/notifications/outbox.py). The
timer tick fires up to a hundred cases in one transaction: it locks them, then loads all their task,
timer and spilled-state rows in one query each (`open_batch`); a new task's audience is read once
per set of groups and kept for the batch (`shared_audience`); and the batch may flush once, at its
end, so each table's rows go out in one statement (`step_flushes`).

What a batch holds is valid only in the transaction that opened it, and only for cases that
transaction locked: every write step locks its case's row first, so no other transaction changes
their rows meanwhile. Each case's rows are handed out once (`take_*`): a second save of the same
case in the batch (a message thrown back to it) may follow rows added by the first, so it reads
them again. A step that is not in a batch finds nothing here and reads as before.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, SessionTransaction

from engine.bpmn.serialization import CHUNKS_KEY
from engine.tables import Instance, InstanceStateChunk, Task, Timer

_KEY = "tixi_step_batch"


@dataclass
class _Batch:
    owner: SessionTransaction
    tasks: dict[uuid.UUID, list[Task]] = field(default_factory=dict)
    timers: dict[uuid.UUID, list[Timer]] = field(default_factory=dict)
    chunks: dict[uuid.UUID, list[dict[str, Any]]] = field(default_factory=dict)
    audiences: dict[Hashable, list[Any]] = field(default_factory=dict)
    one_flush: bool = False


def open_batch(session: Session, records: Sequence[Instance], *,
               one_flush: bool = False) -> dict[uuid.UUID, list[Timer]]:
    """Load every task and timer row of these cases (locked by the caller) for the batch's steps, and the
    spilled chunks of those that have any (read when the workflow cache does not hold the case); returns the timers.

    With `one_flush`, a saved step does not flush (`step_flushes`): the batch's rows go out together
    at its end, one multi-row statement per table instead of one per case, and the caller flushes.

    Timers are read after the lock, in a statement of their own: the claim's snapshot may predate
    the commit of a worker that fired one of them just before this one got the row.
    """
    owner = session.get_transaction()
    assert owner is not None, "a batch belongs to a transaction"
    batch = _Batch(owner, one_flush=one_flush)
    tasks: dict[uuid.UUID, list[Task]] = defaultdict(list)
    timers: dict[uuid.UUID, list[Timer]] = defaultdict(list)
    ids = [record.instance_id for record in records]
    for task in session.scalars(select(Task).where(Task.instance_id.in_(ids))):
        tasks[task.instance_id].append(task)
    for timer in session.scalars(select(Timer).where(Timer.instance_id.in_(ids))):
        timers[timer.instance_id].append(timer)
    batch.tasks = {instance_id: tasks.get(instance_id, []) for instance_id in ids}
    batch.timers = {instance_id: timers.get(instance_id, []) for instance_id in ids}
    spilled = [record.instance_id for record in records if record.state.get(CHUNKS_KEY)]
    if spilled:
        chunks: dict[uuid.UUID, list[dict[str, Any]]] = {instance_id: [] for instance_id in spilled}
        for instance_id, tasks_of_chunk in session.execute(
                select(InstanceStateChunk.instance_id, InstanceStateChunk.tasks)
                .where(InstanceStateChunk.instance_id.in_(spilled))
                .order_by(InstanceStateChunk.instance_id, InstanceStateChunk.seq)):
            chunks[instance_id].append(tasks_of_chunk)
        batch.chunks = chunks
    session.info[_KEY] = batch
    return {instance_id: list(rows) for instance_id, rows in batch.timers.items()}


def _batch(session: Session) -> _Batch | None:
    batch: _Batch | None = session.info.get(_KEY)
    if batch is None:
        return None
    if batch.owner is not session.get_transaction():  # left by a transaction that has ended
        del session.info[_KEY]
        return None
    return batch


def take_tasks(session: Session, instance_id: uuid.UUID) -> list[Task] | None:
    """Every task row of the case, once, if a batch loaded them; else None (read them yourself)."""
    batch = _batch(session)
    return batch.tasks.pop(instance_id, None) if batch is not None else None


def take_chunks(session: Session, instance_id: uuid.UUID) -> list[dict[str, Any]] | None:
    """The case's spilled chunks, oldest first, once, if a batch loaded them; else None (read them yourself)."""
    batch = _batch(session)
    return batch.chunks.pop(instance_id, None) if batch is not None else None


def take_timers(session: Session, instance_id: uuid.UUID) -> list[Timer] | None:
    """Every timer row of the case, once, if a batch loaded them; else None (read them yourself)."""
    batch = _batch(session)
    return batch.timers.pop(instance_id, None) if batch is not None else None


def step_flushes(session: Session) -> bool:
    """Whether a saved step flushes now; not in a batch that flushes once at its end."""
    batch = _batch(session)
    return batch is None or not batch.one_flush


def shared_audience(session: Session, key: Hashable, read: Callable[[], list[Any]]) -> list[Any]:
    """The rows `read` returns, read once per `key` in a batch (who hears of a task and how); outside one, read."""
    batch = _batch(session)
    if batch is None:
        return read()
    if key not in batch.audiences:
        batch.audiences[key] = read()
    return batch.audiences[key]
