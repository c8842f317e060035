"""The SpiffWorkflow adapter: the only module that drives the library's workflow objects.

A `WorkflowRun` wraps one loaded workflow (with the subprocesses of its call activities);
callers get back frozen dataclasses of ours (`ReadyUserTask`, `WaitingTimer`, `Step`, ...),
never library objects.
"""

from __future__ import annotations

import ast
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.defaults import ExclusiveGateway, UserTask
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimerEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState

from engine.bpmn import budget, event_subprocesses, spiff_patches, timing
from engine.bpmn.event_subprocesses import interrupting_branch
from engine.bpmn.event_work import (
    EventWork,
    ThrownMessage,
    event_definitions,
    process_key_of,
)
from engine.bpmn.external_work import ExternalWork
from engine.bpmn.sandbox import SandboxError, attach_sandbox, make_script_engine
from engine.bpmn.send_back_work import SendingBack
from engine.bpmn.serialization import (
    DEFAULT_SPILL_AT,
    SpecSource,
    SpillIndex,
    StoredState,
    cached_specs,
    dump_state,
    load_state,
    same_state,
    task_tables,
)


class WorkflowError(Exception):
    """The process failed while running: an expression raised, or the sandbox refused it."""

    def __init__(self, message: str, element_id: str | None, line: int | None = None) -> None:
        super().__init__(message)
        self.message, self.element_id, self.line = message, element_id, line
        self.steps: list[Step] = []
        self.budget: str | None = None  # which advance budget ran out (engine.bpmn.budget), if that was why


# The library's own bookkeeping tasks, which are no BPMN elements of the designer's.
_INTERNAL = {"BpmnStartTask", "_EndJoin", "SimpleBpmnTask"}


@dataclass(frozen=True)
class ReadyUserTask:
    task_id: uuid.UUID
    process_key: str
    element_id: str


@dataclass(frozen=True)
class WaitingTimer:
    timer_id: uuid.UUID
    process_key: str
    element_id: str
    due_at: datetime


@dataclass(frozen=True)
class Step:
    """A BPMN element the workflow finished; `chosen` are the next elements after a gateway."""

    process_key: str
    element_id: str
    element_type: str
    chosen: tuple[str, ...] = ()
    data: dict[str, Any] | None = None  # what a business-rule task decided


class WorkflowRun(ExternalWork, SendingBack, EventWork):
    limits = budget.DEFAULT_LIMITS  # what one advance may spend; the engine sets the server's

    def __init__(self, workflow: BpmnWorkflow, index: SpillIndex | None = None) -> None:
        self._workflow = workflow
        self._index = index or SpillIndex()
        self.touched = False  # changed since loaded or last saved (a held copy of it is then stale)
        self.data_bytes = 0  # the case data's size as JSON at the last save (0: not measured here)
        self.thrown: list[ThrownMessage] = []  # thrown since the last `take_thrown`, for the host to deliver
        attach_sandbox(workflow)  # the script engine is not serialized: re-attach on every load
        spiff_patches.answer_task_queries_from_tables(workflow)
        spiff_patches.call_before_each_task(workflow, budget.count_step)

    @classmethod
    def start(cls, cache_key: str, spec: SpecSource, variables: dict[str, Any],
              start_element: str | None = None) -> WorkflowRun:
        """A new workflow holding `variables`; `start_element` picks one of several start events."""
        spiff_patches.install()
        process_spec, subprocess_specs = cached_specs(cache_key, spec)
        run = cls(BpmnWorkflow(process_spec, dict(subprocess_specs), script_engine=make_script_engine()))
        start_task = next(t for t in run._workflow.get_tasks() if t.task_spec.name == "Start")
        start_task.data.update(variables)
        if start_element is not None:
            run._only_start_event(start_element)
        return run

    @classmethod
    def load(cls, cache_key: str, spec: SpecSource, state: dict[str, Any], chunks: Sequence[dict[str, Any]],
             version: str) -> WorkflowRun:
        spiff_patches.install()
        return cls(*load_state(cache_key, spec, state, chunks, version))

    def dump(self, *, spill_at: int = DEFAULT_SPILL_AT) -> StoredState:
        # `touched` stays set: the state is written, not yet saved (the flush or the commit may still fail).
        return dump_state(self._workflow, self._index, spill_at=spill_at)

    def mark_saved(self) -> None:
        """The database now holds this workflow as it is: a held copy of it is current again."""
        self.touched = False

    def same_state_as(self, other: WorkflowRun) -> bool:
        return same_state(self._workflow, other._workflow)

    @property
    def is_completed(self) -> bool:
        """No task is left to finish (the library's own check walks the whole task tree to find that out)."""
        return bool(self._workflow.completed) or not self._tasks(TaskState.NOT_FINISHED_MASK)

    def advance(self, now: datetime) -> list[Step]:
        """Fire due timers and run automatic steps until the workflow waits on people or time."""
        return self._tracking(now, lambda: (self._workflow.refresh_timers(), self._workflow.do_engine_steps()))

    def complete_user_task(self, task_id: uuid.UUID, data: dict[str, Any], now: datetime) -> list[Step]:
        task = self._workflow.get_task_from_id(task_id)
        if task is None or task.state != TaskState.READY or not isinstance(task.task_spec, UserTask):
            raise KeyError(task_id)

        def run() -> None:
            task.data.update(data)
            task.run()
            self._workflow.do_engine_steps()

        return self._tracking(now, run)

    def prime_timer_start(self, element_id: str) -> None:
        """Make a timer start event fire exactly once on the next advance.

        The host's scheduler decided the round is due and started this instance; left alone, the
        library would wait for the timer again (a duration), or fire every missed round of a cycle
        and then wait for the next one inside this instance.
        """
        self.touched = True
        for task in self._workflow.get_tasks():
            if task.task_spec.bpmn_id == element_id and task.workflow is self._workflow:
                if isinstance(task.task_spec.event_definition, CycleTimerEventDefinition):
                    task._set_internal_data(event_value={"cycles": 1, "next": "1970-01-01T00:00:00+00:00",
                                                         "duration": 1.0})
                else:
                    task._set_internal_data(event_fired=True)

    def retry(self, variables: dict[str, Any], now: datetime) -> list[Step]:
        """Run the failed steps again (after an admin fixed the cause, e.g. supplied a missing variable)."""
        failed = list(self._tasks(TaskState.ERROR))
        if not failed:
            raise KeyError("no failed step")

        def run() -> None:
            for task in failed:
                task.data.update(variables)
                task._set_state(TaskState.READY)
            self._workflow.do_engine_steps()

        return self._tracking(now, run)

    def reached_end_events(self) -> list[str]:
        """End events of the top process this instance has reached, in the order it reached them.

        Once an interrupting event subprocess ran, its end is the case's outcome too: it replaced the flow.
        """
        interrupting = interrupting_branch(self._workflow)
        ends = [t for t in self._tasks(TaskState.COMPLETED)
                if (t.workflow is self._workflow
                    or (interrupting is not None and getattr(t.workflow, "parent_task_id", None) == interrupting))
                and type(t.task_spec).__name__ == "EndEvent"]
        return [t.task_spec.bpmn_id for t in sorted(ends, key=lambda t: t.last_state_change)]

    def ready_user_tasks(self) -> list[ReadyUserTask]:
        return [
            ReadyUserTask(t.id, process_key_of(t), t.task_spec.bpmn_id)
            for t in self._tasks(TaskState.READY)
            if isinstance(t.task_spec, UserTask)
        ]

    def waiting_timers(self) -> list[WaitingTimer]:
        timers = []
        for task in self._tasks(TaskState.WAITING):
            for definition, element_id in event_definitions(task):
                if not isinstance(definition, TimerEventDefinition):
                    continue
                value = definition.details(task).value
                if isinstance(value, dict) and "next" in value:  # a cycle
                    value = value["next"]
                if isinstance(value, str):
                    timers.append(WaitingTimer(task.id, process_key_of(task), element_id, timing.parse_due(value)))
        return timers

    def task_variables(self, task_id: uuid.UUID) -> dict[str, Any]:
        task = self._workflow.get_task_from_id(task_id)
        return dict(task.data) if task is not None else {}

    def variables(self) -> dict[str, Any]:
        """The case data: what the waiting tasks carry (merged), or the final data once finished."""
        if self.is_completed:
            last = self._workflow.last_task
            return {**self._workflow.data, **(last.data if last is not None else {})}
        merged: dict[str, Any] = dict(self._workflow.data)
        for task in self._tasks(TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR):
            merged.update(task.data)
        return merged

    def evaluate(self, expression: str, variables: dict[str, Any]) -> Any:
        """Evaluate a designer's expression (e.g. an assignee) in the sandbox."""
        try:
            return make_script_engine().environment.evaluate(expression, dict(variables))
        except SandboxError as error:
            raise WorkflowError(str(error), None) from None
        except Exception as error:  # noqa: BLE001 - the expression is the designer's; any error is theirs
            raise WorkflowError(f"{type(error).__name__}: {error}", None) from None

    def cancel(self) -> None:
        self.touched = True
        self._workflow.cancel()

    def _only_start_event(self, element_id: str) -> None:
        """Keep only the chosen start event of a process that has several (timer, message, plain)."""
        for task in self._workflow.get_tasks(state=TaskState.FUTURE | TaskState.LIKELY | TaskState.MAYBE):
            spec = task.task_spec
            if type(spec).__name__ == "StartEvent" and spec.bpmn_id != element_id and task.workflow is self._workflow:
                task.cancel()

    def _tasks(self, state: int) -> list[SpiffTask]:
        """The tasks in `state`, of the workflow and the subprocesses of its call activities.

        A scan of their task tables, not the library's walk of the task tree: a case that loops
        makes the tree deep, and the walk costs several times more per task.
        """
        # `_state` is the field behind the `state` property, read without the property's call.
        return [t for _, table in task_tables(self._workflow) for t in table.values() if t._state & state]

    def _tracking(self, now: datetime, action: Callable[[], Any]) -> list[Step]:
        self.touched = True
        done_before = {t.id for t in self._tasks(TaskState.COMPLETED)}
        try:
            with spiff_patches.at(now), budget.spending(self.limits):
                try:
                    action()
                    self._fire_true_conditions(done_before)
                    if event_subprocesses.settle(self._workflow):
                        self._workflow.do_engine_steps()
                finally:
                    self._collect_thrown()  # also what was thrown before a failing step: that much ran
        except SpiffWorkflowException as error:
            failure = _workflow_error(error)
            failure.budget = budget.exhausted(error)
        except Exception as error:  # noqa: BLE001 - the library raises bare errors (e.g. a bad timer value)
            failed = [t.task_spec.bpmn_id for t in self._tasks(TaskState.ERROR)] or [self._waiting_timer_element()]
            failure = WorkflowError(f"{type(error).__name__}: {error}", failed[0])
            failure.budget = budget.exhausted(error)
        else:
            return self._steps_since(done_before)
        failure.steps = self._steps_since(done_before)  # what ran before the failing step
        raise failure from None

    def _waiting_timer_element(self) -> str | None:
        """The timer the library choked on: reached (its parent is done) but without a due time."""
        reached = [
            t for t in self._tasks(TaskState.NOT_FINISHED_MASK)
            if isinstance(getattr(t.task_spec, "event_definition", None), TimerEventDefinition)
            and t.parent is not None and t.parent.state == TaskState.COMPLETED
            and t._get_internal_data("event_value") is None
        ]
        return reached[0].task_spec.bpmn_id if reached else None

    def _steps_since(self, done_before: set[uuid.UUID]) -> list[Step]:
        steps = []
        finished = [t for t in self._tasks(TaskState.COMPLETED) if t.id not in done_before]
        for task in sorted(finished, key=lambda t: t.last_state_change):  # in the order they ran
            if task.task_spec.bpmn_id is None or type(task.task_spec).__name__ in _INTERNAL:
                continue
            done_before.add(task.id)
            chosen: tuple[str, ...] = ()
            data = None
            if isinstance(task.task_spec, ExclusiveGateway):
                chosen = tuple(_next_elements(task))
                data = _gateway_inputs(task)
            if type(task.task_spec).__name__ == "BusinessRuleTask":
                data = _decision_record(task)
            # Tixi's own specs name the BPMN element they stand for (`tixi_type`), not their class.
            element_type = getattr(task.task_spec, "tixi_type", type(task.task_spec).__name__)
            steps.append(Step(process_key_of(task), task.task_spec.bpmn_id, element_type, chosen, data))
        return steps


def _gateway_inputs(task: SpiffTask) -> dict[str, Any]:
    """The conditions a gateway weighed and the values of the variables they read: why it chose."""
    conditions = [c.args[0] for c, _ in task.task_spec.cond_task_specs
                  if c is not None and c.args and isinstance(c.args[0], str)]
    names: set[str] = set()
    for condition in conditions:
        try:
            names.update(n.id for n in ast.walk(ast.parse(condition.strip(), mode="eval")) if isinstance(n, ast.Name))
        except SyntaxError:
            continue
    return {"conditions": conditions, "inputs": {n: task.data[n] for n in sorted(names) if n in task.data}}


def _next_elements(task: SpiffTask) -> list[str]:
    """The BPMN elements after a task, looking through the library's own tasks (e.g. a boundary-event split)."""
    found: list[str] = []
    for child in task.children:
        if child.task_spec.bpmn_id:
            found.append(child.task_spec.bpmn_id)
        else:
            found.extend(_next_elements(child))
    return found


def _decision_record(task: SpiffTask) -> dict[str, Any]:
    """Which DMN table decided what, and from which inputs: for the history."""
    engine = getattr(task.task_spec, "dmnEngine", None)
    decision = getattr(engine, "decision_table", None)
    inputs = {}
    outputs = {}
    if decision is not None:
        for input_spec in decision.inputs:
            name = (input_spec.expression or "").strip()
            if name in task.data:
                inputs[name] = task.data[name]
        for output_spec in decision.outputs:
            if output_spec.name in task.data:
                outputs[output_spec.name] = task.data[output_spec.name]
    return {"decision": getattr(decision, "id", None), "inputs": inputs, "outputs": outputs}


def _workflow_error(error: SpiffWorkflowException) -> WorkflowError:
    task = getattr(error, "task", None)
    element_id = task.task_spec.bpmn_id if task is not None else None
    cause = error.__cause__ or error.__context__
    message = str(error).split("\n")[0]
    if cause is not None and str(cause) not in message:
        message = f"{message}: {type(cause).__name__}: {cause}"
    return WorkflowError(message, element_id, getattr(error, "line_number", None))
