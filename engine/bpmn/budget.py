"""One budget per advance of a workflow: engine steps, CPU time, wall time and DMN cells.

Each expression and script has limits of its own (``sandbox_limits``), but nothing bounded their
sum: a script task -> gateway -> script task loop ran for ever inside one request (holding the
SQLite write lock), and a decision table of 100 rules, each within its own limit, took 17 s. An
advance (start, task completion, message, timer, retry) now runs inside ``spending(limits)``; the
library's engine loop calls ``AdvanceBudget.step`` before every task it runs, the sandbox calls
``check``, ``count_cell`` and ``charge`` around every evaluation, and the first limit passed raises
``BudgetExceededError``, which the runtime turns into a failure of the element it stopped at.

The budget also ends advances early when the server shuts down (``AdvanceLimits.stop``): a
request in flight then finishes within seconds instead of holding ``tixi serve`` open.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.task import Task as SpiffTask

STEPS, CPU, WALL, DMN_CELLS, SHUTDOWN = "steps", "cpu", "wall", "dmn_cells", "shutdown"


@dataclass(frozen=True)
class AdvanceLimits:
    """How much one advance may spend; the defaults are far above any case of this domain."""

    steps: int = 5_000
    cpu_seconds: float = 5.0
    wall_seconds: float = 10.0
    dmn_cells: int = 5_000
    # Set by the server when it shuts down: advances in flight stop at their next check.
    stop: threading.Event | None = None


DEFAULT_LIMITS = AdvanceLimits()


class BudgetExceededError(Exception):
    """An advance used up one of its budgets (`kind`: steps, cpu, wall, dmn_cells or shutdown)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class AdvanceBudget:
    """What one advance has spent so far, on the thread that runs it."""

    def __init__(self, limits: AdvanceLimits) -> None:
        self.limits = limits
        self._steps = 0
        self._cells = 0
        self._cpu_at_start = time.thread_time()
        self._cpu_elsewhere = 0.0  # spent by the sandbox process on this advance's behalf
        self._wall_deadline = time.monotonic() + limits.wall_seconds

    def step(self, task: SpiffTask) -> None:
        """Account for the engine step about to run `task`; past a limit, fail that task."""
        self._steps += 1
        try:
            if self._steps > self.limits.steps:
                raise BudgetExceededError(STEPS, f"the advance stopped after {self.limits.steps:,} engine steps")
            self.check()
        except BudgetExceededError as error:
            # Marked failed (not left ready) so that an admin's retry runs it again.
            task.error()
            raise WorkflowTaskException(str(error), task=task, exception=error) from error

    def count_cell(self) -> None:
        """Account for one evaluation inside a decision table: an input, a rule's cell or an output."""
        self._cells += 1
        if self._cells > self.limits.dmn_cells:
            raise BudgetExceededError(DMN_CELLS, f"the advance stopped after {self.limits.dmn_cells:,} DMN cells")
        self.check()

    def charge(self, cpu_seconds: float) -> None:
        self._cpu_elsewhere += cpu_seconds

    def check(self) -> None:
        if self.limits.stop is not None and self.limits.stop.is_set():
            raise BudgetExceededError(SHUTDOWN, "the advance was stopped because the server is shutting down")
        if time.monotonic() > self._wall_deadline:
            raise BudgetExceededError(WALL, f"the advance stopped after {self.limits.wall_seconds:g} s")
        if self.cpu_left() < 0:
            raise BudgetExceededError(CPU, f"the advance stopped after {self.limits.cpu_seconds:g} s of CPU time")

    def cpu_left(self) -> float:
        return self.limits.cpu_seconds - (time.thread_time() - self._cpu_at_start + self._cpu_elsewhere)

    def wall_left(self) -> float:
        return self._wall_deadline - time.monotonic()


_current: ContextVar[AdvanceBudget | None] = ContextVar("tixi_advance_budget", default=None)


@contextmanager
def spending(limits: AdvanceLimits) -> Iterator[AdvanceBudget]:
    """Run an advance under a fresh budget."""
    budget = AdvanceBudget(limits)
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


def current() -> AdvanceBudget | None:
    """The budget of the advance running on this thread, if any (deploy-time checks have none)."""
    return _current.get()


def count_step(task: SpiffTask) -> None:
    """Account a task the library is about to run to the current advance's budget (if one is being spent).

    `spiff_patches.call_before_each_task` calls it for every task of the workflow and of the
    subprocesses of its call activities.
    """
    budget = _current.get()
    if budget is not None:
        budget.step(task)


def exhausted(error: BaseException) -> str | None:
    """Which budget ran out, if that is what `error` (or an error it wraps) says."""
    seen: set[int] = set()
    pending: list[object] = [error]
    while pending:
        item = pending.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, BudgetExceededError):
            return item.kind
        pending += [item.__cause__, item.__context__, getattr(item, "exception", None)]
    return None
