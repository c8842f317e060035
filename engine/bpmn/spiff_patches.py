"""Every change Tixi makes to SpiffWorkflow's own behaviour, in one place.

The library offers no hook for these, so each replaces something of the library's. What each one
relies on is checked by tests/engine/test_spiff_patches.py, which fails when an upgrade of the
library changes it: read that test before upgrading SpiffWorkflow.

- `install()` (process-wide, idempotent; `WorkflowRun` calls it before it builds or loads a workflow):
  deeper task iterators; a clock for the timer module; a computed timer cycle under a minute fails
  the step that reaches it (`engine.bpmn.cycles`); a decision output no state can hold fails its
  business-rule task (`engine.bpmn.storable`); a thrown Camunda message without `camunda:expression`
  carries the sender's case data (as the standard message does) instead of failing on `None`; a
  thrown signal is handed out to the host even when an event of the same case caught it (a
  broadcast reaches every case).
- `answer_task_queries_from_tables(workflow)`: per workflow, the commonest task queries answered
  without walking the task tree.
- `call_before_each_task(workflow, hook)`: per workflow, a hook before every task the engine loop
  runs (the advance budget counts steps with it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from copy import deepcopy
from datetime import UTC, datetime, timedelta, tzinfo
from itertools import islice
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.util.task import BpmnTaskIterator
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition as CamundaMessageEventDefinition
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskIterator, TaskState

from engine.bpmn.cycles import MIN_PERIOD
from engine.bpmn.serialization import task_tables
from engine.bpmn.storable import unstorable_value

# The library's task iterators stop at depth 1,000; a loop adds three levels per round, so a case
# reopened some 330 times would lose sight of its new tasks and look finished. The iterator is
# not recursive, so a deeper limit costs nothing but the walk itself.
DEPTH_LIMIT = 10_000_000
# The iterators' keyword defaults as 3.2.0 declares them, with max_depth raised: TaskIterator(task,
# end_at_spec, max_depth, depth_first, task_filter), BpmnTaskIterator adds skip_subprocesses.
_TASK_ITERATOR_DEFAULTS = (None, DEPTH_LIMIT, True, None)
_BPMN_TASK_ITERATOR_DEFAULTS = (None, DEPTH_LIMIT, True, False, None)

_moment: ContextVar[datetime | None] = ContextVar("tixi_moment", default=None)


class ClockedDatetime(datetime):
    """The timer module's `datetime`: `now()` answers the moment of the operation running (`at`)."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        moment = _moment.get()
        if moment is None:
            return datetime.now(tz)  # noqa: TID251 - outside an operation the library reads the wall clock, as it would unpatched
        return moment.astimezone(tz) if tz is not None else moment.astimezone().replace(tzinfo=None)


# The library's own versions, taken before any patch replaces them.
_parse_interval = TimerEventDefinition.parse_iso_recurring_interval
_decision_result = DMNEngine.result


def _interval_of_a_minute_or_more(expression: str) -> tuple[int, datetime, timedelta]:
    # A computed cycle of PT0S fired a round at every refresh and every timer tick, for ever. Raised
    # here, the reached timer fails its step: the start is refused or the instance gets an incident.
    cycles, start, duration = _parse_interval(expression)
    if duration < MIN_PERIOD:
        raise ValueError(f"cycle '{expression}' repeats more often than once a minute")
    return cycles, start, duration


def _storable_decision_result(self: DMNEngine, task: Any) -> Any:
    # Every decision's outputs pass through `result` (hit policies UNIQUE, FIRST and COLLECT alike).
    result = _decision_result(self, task)
    found = unstorable_value(result, "")
    if found:
        raise WorkflowTaskException(
            f"decision output '{found[0]}' {found[1]}, which cannot be stored; "
            "correct the output cell of the decision table and retry", task=task)
    return result


def _throw_message(self: CamundaMessageEventDefinition, task: SpiffTask) -> None:
    # The library evaluates `camunda:expression` for the payload, and a throw without one (the
    # modeler's default) failed on `None`: such a message carries the case data, as the standard's does.
    if self.expression is None:
        result = deepcopy(task.data)
    else:
        result = task.workflow.script_engine.evaluate(task, self.expression)
    task.workflow.top_workflow.catch(BpmnEvent(self, payload={"payload": result, "result_var": self.result_var}))


def _throw_signal(self: SignalEventDefinition, task: SpiffTask) -> None:
    # The library hands out only the events no task of the case caught; a signal is for every case.
    event = BpmnEvent(self, payload=deepcopy(task.data))
    top = task.workflow.top_workflow
    top.catch(event)
    if event not in top.bpmn_events:
        top.bpmn_events.append(event)


def install() -> None:
    """Apply the process-wide patches (idempotent)."""
    TaskIterator.__init__.__defaults__ = _TASK_ITERATOR_DEFAULTS
    BpmnTaskIterator.__init__.__defaults__ = _BPMN_TASK_ITERATOR_DEFAULTS
    # The timer module reads `datetime.now` itself: its module-level name is the only way in.
    spiff_timer.datetime = ClockedDatetime
    TimerEventDefinition.parse_iso_recurring_interval = staticmethod(_interval_of_a_minute_or_more)
    DMNEngine.result = _storable_decision_result
    CamundaMessageEventDefinition.throw = _throw_message
    SignalEventDefinition.throw = _throw_signal


@contextmanager
def at(moment: datetime) -> Iterator[None]:
    """Run workflow code as if the time were `moment` (aware); a context variable, so other threads are unaffected."""
    token = _moment.set(moment.astimezone(UTC))
    try:
        yield
    finally:
        _moment.reset(token)


def answer_task_queries_from_tables(workflow: BpmnWorkflow) -> None:
    """Answer the library's commonest task queries from its task tables when that gives the same answer.

    After every task it completes the library walks the whole task tree for waiting tasks, and
    between engine steps for ready ones. A case that loops makes that tree deep: at a thousand
    rounds these walks were most of a step's time. The tables hold the same tasks (every task of
    the tree and of its subprocesses), so when at most one task is in the state asked for, the
    walk's answer is known without walking: nothing, or that task. With more, the order in which
    the walk meets them matters, and the library walks as before.
    """
    walk = workflow.get_tasks

    def get_tasks(first_task: SpiffTask | None = None, **kwargs: Any) -> list[SpiffTask]:
        if first_task is None and kwargs.keys() == {"state"}:
            state = kwargs["state"]
            found = list(islice((t for _, table in task_tables(workflow) for t in table.values()
                                 if t._state & state), 2))
            if len(found) <= 1:
                return found
        tasks: list[SpiffTask] = walk(first_task, **kwargs)
        return tasks

    refresh = workflow.update_waiting_tasks

    def update_waiting_tasks() -> None:
        # The library's own version walks only this workflow's tree (not its subprocesses').
        if any(t._state == TaskState.WAITING for t in workflow.tasks.values()):
            refresh()

    workflow.get_tasks = get_tasks
    workflow.update_waiting_tasks = update_waiting_tasks


def call_before_each_task(workflow: BpmnWorkflow, hook: Callable[[SpiffTask], None]) -> None:
    """Make the library's engine loop call `hook` before each task it runs.

    `do_engine_steps` takes a callback called before each task it runs, in the workflow and in
    the subprocesses of its call activities; every caller of ours and of the library goes through
    this one method, so wrapping it covers them all.
    """
    run_steps: Callable[..., None] = workflow.do_engine_steps

    def do_engine_steps(will_complete_task: Callable[[SpiffTask], Any] | None = None,
                        did_complete_task: Callable[[SpiffTask], Any] | None = None) -> None:
        def before(task: SpiffTask) -> None:
            hook(task)
            if will_complete_task is not None:
                will_complete_task(task)

        run_steps(before, did_complete_task)

    workflow.do_engine_steps = do_engine_steps
