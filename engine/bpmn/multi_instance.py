"""Multi-instance user tasks run as Camunda 7 runs them, where the library's Camunda flavour does not.

SpiffWorkflow 3.2 reads `camunda:collection`, `camunda:elementVariable`, `loopCardinality` and
`completionCondition`, and Tixi queues each instance as a task of its own. Three gaps are closed here:
- Data: with a collection the library keeps only each instance's element variable and drops
  what its form submitted. Camunda 7 sets a completed task's variables on the case (the element
  variable and `loopCounter` stay the instance's own), so each instance's other data joins the
  case, a later instance's value winning.
- The completion condition reads Camunda's counters: `nrOfInstances`, `nrOfCompletedInstances`,
  `nrOfActiveInstances` (and the instance's own `loopCounter`), which the library does not set.
- A `loopCardinality` that is not a whole number makes the library rewrite the task spec itself,
  which Tixi shares between the cases of a version: it is an error on that case instead.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.mixins import BpmnSpecMixin
from SpiffWorkflow.camunda.parser.task_spec import UserTaskParser
from SpiffWorkflow.camunda.specs.multiinstance_task import ParallelMultiInstanceTask, SequentialMultiInstanceTask
from SpiffWorkflow.util.task import TaskState

LOOP_COUNTER = "loopCounter"


class _CamundaInstances:
    """What both the parallel and the sequential Camunda multi-instance task add to the library's."""

    cardinality: Any
    condition: Any
    output_item: Any
    data_output: Any

    def _update_hook(self, my_task: Any) -> Any:
        if my_task.state != TaskState.WAITING:
            # As the library's Camunda hook starts (it then skips this): take the data of the flow first,
            # so that the cardinality is read with the case's variables.
            BpmnSpecMixin._update_hook(self, my_task)
            my_task._set_state(TaskState.WAITING)
        if self.cardinality is not None:
            value = my_task.workflow.script_engine.evaluate(my_task, self.cardinality)
            if not isinstance(value, int) or isinstance(value, bool):
                raise WorkflowTaskException(f"loopCardinality '{self.cardinality}' is {value!r}, not a whole number: "
                                            "for a list of items use camunda:collection and camunda:elementVariable",
                                            task=my_task)
        return super()._update_hook(my_task)  # type: ignore[misc]

    def create_child(self, my_task: Any, item: Any, key_or_index: Any = None) -> None:
        index = len(list(self._instances(my_task)))  # type: ignore[attr-defined]
        super().create_child(my_task, item, key_or_index)  # type: ignore[misc]
        child = my_task.children[-1]
        child.data[LOOP_COUNTER] = index

    def merge_child(self, workflow: Any, child: Any) -> None:
        own = {LOOP_COUNTER}
        if self.output_item is not None:
            own.add(self.output_item.bpmn_id)
        if self.data_output is not None:
            own.add(self.data_output.bpmn_id)  # the collection: the library writes the element into it
        child.parent.data.update({k: v for k, v in child.data.items() if k not in own})
        super().merge_child(workflow, child)  # type: ignore[misc]

    def check_completion_condition(self, my_task: Any) -> Any:
        merged = my_task.internal_data.get("merged", [])
        if not merged or self.condition is None:
            return False
        last = next(c for c in my_task.children if str(c.id) == merged[-1])
        instances = list(self._instances(my_task))  # type: ignore[attr-defined]
        active = len([c for c in instances if not c.has_state(TaskState.FINISHED_MASK)])
        future = len(my_task.internal_data.get("remaining", []))
        if "cardinality" in my_task.internal_data:  # sequential, by count
            future = my_task.internal_data["cardinality"] - my_task.internal_data.get("current", 0)
        counters = {"nrOfCompletedInstances": len(merged), "nrOfActiveInstances": active,
                    "nrOfInstances": len(merged) + active + future}
        return my_task.workflow.script_engine.evaluate(last, self.condition, external_context=counters)


class TixiParallelMultiInstanceTask(_CamundaInstances, ParallelMultiInstanceTask):  # type: ignore[misc]
    pass


class TixiSequentialMultiInstanceTask(_CamundaInstances, SequentialMultiInstanceTask):  # type: ignore[misc]
    pass


class TixiUserTaskParser(UserTaskParser):  # type: ignore[misc]
    """The Camunda user-task parser, making Tixi's multi-instance specs."""

    def _add_multiinstance_task(self, loop_characteristics: Any) -> None:
        super()._add_multiinstance_task(loop_characteristics)
        # The library builds its own classes here; Tixi's differ only in behaviour, not in attributes.
        self.task.__class__ = (TixiSequentialMultiInstanceTask if isinstance(self.task, SequentialMultiInstanceTask)
                               else TixiParallelMultiInstanceTask)
