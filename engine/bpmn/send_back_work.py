"""退回 / Send back, as `WorkflowRun` drives it: the library's own reset to an earlier user task.

`BpmnWorkflow.reset_from_task_id` drops every task after the one reset to (the ready task where
the case is included) and makes that one ready again with the data it is given; the task keeps its
id, so the host reopens its row instead of creating one (engine/step_sync.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.defaults import UserTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState


class SendingBack:
    """What `WorkflowRun` does to send a case back; mixed into it, sharing its workflow and tracking."""

    _workflow: BpmnWorkflow
    _tracking: Callable[[datetime, Callable[[], Any]], list[Any]]

    def send_back(self, task_id: uuid.UUID, element_id: str, now: datetime) -> tuple[uuid.UUID, list[Any]]:
        """Reopen user task `element_id` where ready task `task_id`'s case passed it last (退回).

        The library's own reset drops everything after it (the ready task included); the reopened
        step keeps the data it was completed with, so its form shows the values last submitted.
        Returns the reopened task's id (the step's last one) and the steps run after.
        Raises: KeyError (`task_id` is no ready user task), LookupError (the path here did not pass
        `element_id` in the same process).
        """
        task = self._ready_user_task(task_id)
        target = next((t for t in self._path_to(task) if t.task_spec.bpmn_id == element_id), None)
        if target is None:
            raise LookupError(element_id)
        data = dict(target.data)
        steps = self._tracking(now, lambda: (self._workflow.reset_from_task_id(target.id, data),
                                             self._workflow.do_engine_steps()))
        return target.id, steps

    def passed_user_steps(self, task_id: uuid.UUID) -> set[str]:
        """The user tasks the case completed on its way to ready task `task_id` (in the same process)."""
        try:
            return {t.task_spec.bpmn_id for t in self._path_to(self._ready_user_task(task_id))}
        except KeyError:
            return set()

    def _ready_user_task(self, task_id: uuid.UUID) -> SpiffTask:
        task = self._workflow.get_task_from_id(task_id)
        if task is None or task.state != TaskState.READY or not isinstance(task.task_spec, UserTask):
            raise KeyError(task_id)
        return task

    @staticmethod
    def _path_to(task: SpiffTask) -> list[SpiffTask]:
        """The completed user tasks among `task`'s ancestors, latest first (a loop's last round first)."""
        found, earlier = [], task.parent
        while earlier is not None:
            if earlier.state == TaskState.COMPLETED and isinstance(earlier.task_spec, UserTask):
                found.append(earlier)
            earlier = earlier.parent
        return found
