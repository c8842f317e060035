"""Running a workflow: the only module that drives SpiffWorkflow objects.

A `WorkflowRun` wraps one loaded workflow; callers get back frozen dataclasses of ours
(`ReadyUserTask`, `WaitingTimer`, `Step`), never library objects.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.defaults import ExclusiveGateway, UserTask
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from engine.bpmn import timing
from engine.bpmn.sandbox import SandboxLimitError, SandboxViolationError, attach_sandbox, make_script_engine
from engine.bpmn.serialization import cached_specs, dump_state, load_state


class WorkflowError(Exception):
    """The process failed while running: an expression raised, or the sandbox refused it."""

    def __init__(self, message: str, element_id: str | None, line: int | None = None) -> None:
        super().__init__(message)
        self.message, self.element_id, self.line = message, element_id, line


@dataclass(frozen=True)
class ReadyUserTask:
    task_id: uuid.UUID
    element_id: str


@dataclass(frozen=True)
class WaitingTimer:
    timer_id: uuid.UUID
    element_id: str
    due_at: datetime


@dataclass(frozen=True)
class Step:
    """A BPMN element the workflow finished; `chosen` is the next element after a gateway."""

    element_id: str
    element_type: str
    chosen: tuple[str, ...] = ()


class WorkflowRun:
    def __init__(self, workflow: BpmnWorkflow) -> None:
        self._workflow = workflow
        attach_sandbox(workflow)  # the script engine is not serialized: re-attach on every load

    @classmethod
    def start(cls, cache_key: str, spec: dict[str, Any], variables: dict[str, Any]) -> WorkflowRun:
        run = cls(_new_workflow(cache_key, spec))
        start_task = next(t for t in run._workflow.get_tasks() if t.task_spec.name == "Start")
        start_task.data.update(variables)
        return run

    @classmethod
    def load(cls, cache_key: str, spec: dict[str, Any], state: dict[str, Any], version: str) -> WorkflowRun:
        return cls(load_state(cache_key, spec, state, version))

    def dump(self) -> dict[str, Any]:
        return dump_state(self._workflow)

    @property
    def is_completed(self) -> bool:
        return bool(self._workflow.is_completed())

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

    def ready_user_tasks(self) -> list[ReadyUserTask]:
        return [
            ReadyUserTask(t.id, t.task_spec.bpmn_id)
            for t in self._workflow.get_tasks(state=TaskState.READY)
            if isinstance(t.task_spec, UserTask)
        ]

    def waiting_timers(self) -> list[WaitingTimer]:
        timers = []
        for task in self._workflow.get_tasks(state=TaskState.WAITING):
            definition = getattr(task.task_spec, "event_definition", None)
            if isinstance(definition, TimerEventDefinition):
                value = definition.details(task).value
                if isinstance(value, str):
                    timers.append(WaitingTimer(task.id, task.task_spec.bpmn_id, timing.parse_due(value)))
                elif isinstance(value, dict) and "next" in value:  # a cycle
                    timers.append(WaitingTimer(task.id, task.task_spec.bpmn_id, timing.parse_due(value["next"])))
        return timers

    def task_variables(self, task_id: uuid.UUID) -> dict[str, Any]:
        task = self._workflow.get_task_from_id(task_id)
        return dict(task.data) if task is not None else {}

    def variables(self) -> dict[str, Any]:
        """The case data: what the waiting tasks carry (merged), or the final data once finished."""
        if self._workflow.is_completed():
            last = self._workflow.last_task
            return {**self._workflow.data, **(last.data if last is not None else {})}
        merged: dict[str, Any] = dict(self._workflow.data)
        for task in self._workflow.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED):
            merged.update(task.data)
        return merged

    def evaluate(self, expression: str, variables: dict[str, Any]) -> Any:
        """Evaluate a designer's expression (e.g. an assignee) in the sandbox."""
        try:
            return make_script_engine().environment.evaluate(expression, dict(variables))
        except (SandboxViolationError, SandboxLimitError) as error:
            raise WorkflowError(str(error), None) from None
        except Exception as error:  # noqa: BLE001 - the expression is the designer's, any error is theirs
            raise WorkflowError(f"{type(error).__name__}: {error}", None) from None

    def cancel(self) -> None:
        self._workflow.cancel()

    def _tracking(self, now: datetime, action: Any) -> list[Step]:
        done_before = {t.id for t in self._workflow.get_tasks(state=TaskState.COMPLETED)}
        try:
            with timing.at(now):
                action()
        except SpiffWorkflowException as error:
            raise _workflow_error(error) from None
        steps = []
        for task in self._workflow.get_tasks(state=TaskState.COMPLETED):
            if task.id in done_before or task.task_spec.bpmn_id is None:
                continue
            chosen: tuple[str, ...] = ()
            if isinstance(task.task_spec, ExclusiveGateway):
                chosen = tuple(c.task_spec.bpmn_id for c in task.children if c.task_spec.bpmn_id)
            steps.append(Step(task.task_spec.bpmn_id, type(task.task_spec).__name__, chosen))
        return steps


def _new_workflow(cache_key: str, spec: dict[str, Any]) -> BpmnWorkflow:
    process_spec, subprocess_specs = cached_specs(cache_key, spec)
    return BpmnWorkflow(process_spec, dict(subprocess_specs), script_engine=make_script_engine())


def _workflow_error(error: SpiffWorkflowException) -> WorkflowError:
    task = getattr(error, "task", None)
    element_id = task.task_spec.bpmn_id if task is not None else None
    cause = error.__cause__ or error.__context__
    message = str(error).split("\n")[0]
    if isinstance(cause, (SandboxViolationError, SandboxLimitError)):
        message = f"{message}: {cause}"
    return WorkflowError(message, element_id, getattr(error, "line_number", None))
