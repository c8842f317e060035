"""Service tasks done by workers (Camunda 7's external tasks), as `WorkflowRun` drives them.

The library runs a service task by calling its hook, which does nothing and leaves the task
STARTED: the workflow waits there, as at a user task. Tixi hands the task to a worker and, when the
worker reports, completes it with the worker's variables or throws the worker's BPMN error to the
error boundary events attached to it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.bpmn.specs.defaults import ServiceTask
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import ErrorEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState


@dataclass(frozen=True)
class WaitingServiceTask:
    task_id: uuid.UUID
    process_key: str
    element_id: str


class ExternalWork:
    """What `WorkflowRun` does with service tasks; mixed into it, sharing its workflow and tracking."""

    _workflow: BpmnWorkflow
    _tasks: Callable[[int], list[SpiffTask]]
    _tracking: Callable[[datetime, Callable[[], Any]], list[Any]]

    def waiting_service_tasks(self) -> list[WaitingServiceTask]:
        return [WaitingServiceTask(t.id, str(t.workflow.spec.name), t.task_spec.bpmn_id)
                for t in self._tasks(TaskState.STARTED) if isinstance(t.task_spec, ServiceTask)]

    def complete_service_task(self, task_id: uuid.UUID, variables: dict[str, Any], now: datetime) -> list[Any]:
        """Finish a waiting service task with the worker's variables and run on. Raises: KeyError."""
        task = self._service_task(task_id)

        def run() -> None:
            task.data.update(variables)
            task.complete()
            self._workflow.do_engine_steps()

        return self._tracking(now, run)

    def catches_service_error(self, task_id: uuid.UUID, code: str) -> bool:
        """Whether an error boundary event on the waiting service task catches `code`. Raises: KeyError."""
        return bool(self._catchers(self._service_task(task_id), _error(code, {})))

    def throw_service_error(self, task_id: uuid.UUID, code: str, variables: dict[str, Any],
                            now: datetime) -> list[Any]:
        """Throw a worker's BPMN error to the first error boundary event on the task that catches it.

        Raises: KeyError (no such waiting service task, or nothing catches the error: ask first).
        """
        task = self._service_task(task_id)
        event = _error(code, variables)
        catchers = self._catchers(task, event)
        if not catchers:
            raise KeyError(code)

        def run() -> None:
            catcher = catchers[0]
            catcher.task_spec.catch(catcher, event)
            catcher.task_spec._update(catcher)
            self._workflow.do_engine_steps()

        return self._tracking(now, run)

    @staticmethod
    def _catchers(task: SpiffTask, event: BpmnEvent) -> list[SpiffTask]:
        # The boundary events are the task's siblings under the library's boundary split.
        siblings = task.parent.children if task.parent is not None else []
        return [s for s in siblings
                if s is not task and s.state == TaskState.WAITING
                and isinstance(getattr(s.task_spec, "event_definition", None), ErrorEventDefinition)
                and s.task_spec.catches(s, event)]

    def _service_task(self, task_id: uuid.UUID) -> SpiffTask:
        task = self._workflow.get_task_from_id(task_id)
        if task is None or task.state != TaskState.STARTED or not isinstance(task.task_spec, ServiceTask):
            raise KeyError(task_id)
        return task


def _error(code: str, variables: dict[str, Any]) -> BpmnEvent:
    return BpmnEvent(ErrorEventDefinition(code, code=code), payload=dict(variables))
