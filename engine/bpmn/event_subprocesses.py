"""Event subprocesses as the standard runs them, where SpiffWorkflow 3.2 does not.

The library starts an event subprocess as a branch of the case's root task, beside the flow, and
then leaves both running: an interrupting one does not cancel the flow it interrupts, and a timer
event subprocess still waiting for its timer keeps the case open after the flow has ended. After
every step of a case (`settle`):
- once an interrupting event subprocess has started, everything else the case is doing is cancelled
  (the flow, other event subprocesses, their subprocesses), so its end is the case's end;
- once the flow has ended, an event subprocess that has not started is cancelled with it.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.task_specs import INTERRUPTS

_ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


def _branches(workflow: BpmnWorkflow) -> dict[Any, Any]:
    """The event subprocesses the case has as branches: their task id → their subworkflow."""
    return {branch.id: workflow.subprocesses[branch.id] for branch in workflow.task_tree.children
            if branch.id in workflow.subprocesses}


def _start_event(subworkflow: Any) -> SpiffTask | None:
    return next(iter(subworkflow.task_tree.children), None)


def _started(subworkflow: Any) -> bool:
    start = _start_event(subworkflow)
    return start is not None and start.has_state(TaskState.READY | TaskState.FINISHED_MASK)


def interrupting_branch(workflow: BpmnWorkflow) -> Any | None:
    """The id of the interrupting event subprocess that has started, if one has."""
    for branch_id, subworkflow in _branches(workflow).items():
        start = _start_event(subworkflow)
        if start is not None and _started(subworkflow) and start.task_spec.extensions.get(INTERRUPTS):
            return branch_id
    return None


def _subtree(task: SpiffTask) -> set[Any]:
    """Ids of a task and its descendants in its own workflow (iterative: a looping case's tree is deep)."""
    found, stack = set(), [task]
    while stack:
        current = stack.pop()
        found.add(current.id)
        stack.extend(current.children)
    return found


def settle(workflow: BpmnWorkflow) -> bool:
    """Cancel what an interrupting event subprocess ended, or event subprocesses the ended flow leaves waiting.

    Returns whether anything was cancelled (the caller then runs the engine's steps again).
    """
    branches = _branches(workflow)
    if not branches:
        return False
    interrupting = interrupting_branch(workflow)
    if interrupting is not None:
        keep = _subtree(workflow.tasks[interrupting])
        doomed = [t for t in workflow.tasks.values() if t.id not in keep and not t.has_state(TaskState.FINISHED_MASK)]
    else:
        in_branches = set().union(*(_subtree(workflow.tasks[b]) for b in branches))
        flow_active = any(t.has_state(_ACTIVE) and t.id not in in_branches and type(t.task_spec).__name__ != "_EndJoin"
                          for t in workflow.tasks.values())
        if flow_active:
            return False
        doomed = [workflow.tasks[b] for b, sub in branches.items()
                  if not _started(sub) and not workflow.tasks[b].has_state(TaskState.FINISHED_MASK)]
    cancelled = False
    for task in doomed:
        if task.id in workflow.tasks and not task.has_state(TaskState.FINISHED_MASK):
            task.cancel()
            cancelled = True
    if cancelled:
        # The case's end join waits for every branch and looks again only when updated.
        for join in [t for t in workflow.tasks.values() if t.state == TaskState.WAITING
                     and type(t.task_spec).__name__ == "_EndJoin"]:
            join.task_spec._update(join)
    return cancelled
