"""Loaded workflows kept in memory between transactions, so a busy case is not rebuilt at every step.

A workflow is taken out of the cache by the transaction that loads it (no two transactions ever
share one) and goes back only when that transaction commits: with the state revision it saved,
or, if it only read, the revision it was loaded at. A transaction that rolls back, or changed the
workflow without saving it, drops it. The revision is a fresh value at every write of the state,
so a copy is used only while the database still holds exactly the state it was saved as; another
server's write, or a rolled-back one, is a miss and the workflow is loaded from the database.

The cache is an object the app (or a CLI command, or a worker) owns: `attach` registers its
listeners on that owner's sessionmaker only, so sessions of other factories never see it.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass

from cachetools import LRUCache
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from engine.bpmn.serialization import json_bytes
from engine.bpmn.spiff_adapter import WorkflowRun

_HELD_KEY = "tixi_held_workflows"


@dataclass
class _Held:
    run: WorkflowRun
    cache_key: str  # the definition versions the workflow was built from
    revision: uuid.UUID | None
    saved: bool  # by this transaction: a rollback undoes it


# What a kept workflow costs beyond its case data: the library's task objects and their bookkeeping.
_OVERHEAD_BYTES = 64 * 1024


class WorkflowCache:
    """At most `size` workflows, and at most `max_bytes` of memory, counting each by its case data.

    One LRU bound does both: an entry weighs its case data plus a fixed overhead, and never less
    than `max_bytes / size`, so no more than `size` entries ever fit.
    """

    def __init__(self, size: int, *, max_bytes: int = 64 * 1024 * 1024) -> None:
        self._lock = threading.Lock()
        self._size = size
        self._max_bytes = max(max_bytes, 1)
        least = self._max_bytes // max(size, 1)
        self._cache: LRUCache[uuid.UUID, _Held] = LRUCache(
            maxsize=self._max_bytes, getsizeof=lambda entry: max(least, _OVERHEAD_BYTES + entry.run.data_bytes))

    def attach(self, factory: sessionmaker[Session]) -> None:
        """Give workflows back when a session of `factory` commits, drop them when it rolls back."""
        event.listen(factory, "after_commit", self._return_committed)
        event.listen(factory, "after_soft_rollback", self._drop_rolled_back)

    def take(self, instance_id: uuid.UUID, revision: uuid.UUID | None, cache_key: str) -> WorkflowRun | None:
        """The cached workflow of an instance if it is at `revision`; it leaves the cache either way."""
        with self._lock:
            held = self._cache.pop(instance_id, None)
        if held is None or revision is None or held.revision != revision or held.cache_key != cache_key:
            return None
        return held.run

    @staticmethod
    def hold(session: Session, instance_id: uuid.UUID, run: WorkflowRun, cache_key: str,
             revision: uuid.UUID | None, *, saved: bool) -> None:
        """Note that this transaction has the workflow at `revision`: as loaded, or as it `saved` it."""
        session.info.setdefault(_HELD_KEY, {})[instance_id] = _Held(run, cache_key, revision, saved)

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def _return_committed(self, session: Session) -> None:
        if session.in_nested_transaction():
            return  # a savepoint's release, which SQLAlchemy also reports here: the transaction goes on
        self._give_back(session.info.pop(_HELD_KEY, {}))

    def _drop_rolled_back(self, session: Session, previous_transaction: SessionTransaction) -> None:
        """A rollback (of a savepoint too) undoes what was saved: forget every workflow changed or saved.

        Workflows that were only read are as the database still has them: at the end of the whole
        transaction they go back (a request that only reads never commits).
        """
        held: dict[uuid.UUID, _Held] = session.info.get(_HELD_KEY, {})
        for instance_id in [i for i, entry in held.items() if entry.run.touched or entry.saved]:
            del held[instance_id]
        if previous_transaction.parent is None:
            # Only the end of the whole transaction: a failed flush rolls back an inner transaction
            # of its own too, and the transaction it belongs to has not ended then.
            self._give_back(session.info.pop(_HELD_KEY, {}))

    def _give_back(self, held: dict[uuid.UUID, _Held]) -> None:
        if self._size <= 0:
            return
        for entry in held.values():
            if entry.run.data_bytes == 0 and not entry.run.touched:
                # Only read in this transaction: weighed here, once, rather than at every load
                # (a transaction that saves weighs its workflow as it writes it).
                entry.run.data_bytes = json_bytes(entry.run.variables())
        with self._lock:
            for instance_id, entry in held.items():
                if entry.run.touched or entry.revision is None or entry.run.is_completed:
                    continue  # changed after its last save, or never saved, or done: not worth keeping
                if not entry.saved and instance_id in self._cache:
                    continue  # a read that began before another transaction's save: keep the saved one
                if self._cache.getsizeof(entry) > self._max_bytes:
                    continue  # one case larger than the whole budget is rebuilt each time instead
                self._cache[instance_id] = entry  # most recently used; the least recent fall out
