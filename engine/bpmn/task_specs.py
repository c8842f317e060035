"""Tixi's own task specs and the parser that makes them, where the library's behaviour is not the standard's.

- A plain `bpmn:task` and a `bpmn:manualTask` are pass-through steps (Camunda 7 runs them so):
  the library marks them `manual`, so they wait READY for a person no queue shows, and the case
  stalls with nothing to do. Here they run on their own and the history records them.
- Converters for what the library's Camunda configuration forgets: a `bpmn:serviceTask` and the
  standard message definition of a send or receive task (its Camunda subclass takes the name
  "MessageEventDefinition", so the standard one is stored as "StandardMessageEventDefinition").

The pass-through specs keep the library's type names in the stored spec, so definitions deployed
before are restored as these specs too, and their stalled tasks run at their next advance.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.serializer.default.event_definition import MessageEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter, MultiInstanceTaskConverter
from SpiffWorkflow.bpmn.specs.defaults import ManualTask, NoneTask, ServiceTask, StartEvent
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import CamundaStartEventParser
from SpiffWorkflow.camunda.parser.task_spec import CamundaTaskParser
from SpiffWorkflow.camunda.specs.multiinstance_task import ParallelMultiInstanceTask, SequentialMultiInstanceTask
from SpiffWorkflow.camunda.specs.user_task import UserTask

from engine.bpmn.multi_instance import (
    TixiParallelMultiInstanceTask,
    TixiSequentialMultiInstanceTask,
    TixiUserTaskParser,
)

# The extension a start event of an event subprocess carries when it interrupts the flow around it.
INTERRUPTS = "tixi_interrupts"


class PassThroughTask(NoneTask):  # type: ignore[misc]
    """A `bpmn:task`: done as soon as it is reached."""

    tixi_type = "Task"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.manual = False


class PassThroughManualTask(ManualTask):  # type: ignore[misc]
    """A `bpmn:manualTask`: work done outside any system, so the engine only records that it was reached."""

    tixi_type = "ManualTask"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.manual = False


class StartEventParser(CamundaStartEventParser):  # type: ignore[misc]
    """Records `isInterrupting` of an event subprocess's start event, which the library reads nowhere.

    Kept in the spec's extensions (stored with it), so the run can cancel the interrupted flow
    (engine/bpmn/event_work.py). Specs stored before it lack the mark: they were deployed only
    when not interrupting, which is what no mark means.
    """

    def parse_extensions(self, node: Any = None) -> dict[str, Any]:
        extensions: dict[str, Any] = super().parse_extensions(node)
        parent = self.node.getparent()
        if (node is None and parent is not None and parent.get("triggeredByEvent") == "true"
                and self.node.get("isInterrupting", "true") != "false"):
            extensions[INTERRUPTS] = True
        return extensions


class TixiParser(CamundaParser):  # type: ignore[misc]
    OVERRIDE_PARSER_CLASSES = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("startEvent"): (StartEventParser, StartEvent),
        full_tag("task"): (CamundaTaskParser, PassThroughTask),
        full_tag("manualTask"): (CamundaTaskParser, PassThroughManualTask),
        full_tag("userTask"): (TixiUserTaskParser, UserTask),  # multi-instance (engine/bpmn/multi_instance.py)
    }


def _named(base: Any, typename: str) -> type:
    """A converter class that stores its specs under `typename` (the serializer builds it with two arguments)."""

    def __init__(self: Any, target_class: type, registry: Any) -> None:
        base.__init__(self, target_class, registry, typename=typename)

    return type(f"{typename}Converter", (base,), {"__init__": __init__})


# Entries for the serializer's configuration; `replaces` are the library's entries they take over.
CONVERTERS: dict[type, type] = {
    PassThroughTask: _named(BpmnTaskSpecConverter, "NoneTask"),
    PassThroughManualTask: _named(BpmnTaskSpecConverter, "ManualTask"),
    ServiceTask: BpmnTaskSpecConverter,
    MessageEventDefinition: _named(MessageEventDefinitionConverter, "StandardMessageEventDefinition"),
    # Stored under the library's names, so versions deployed before restore as Tixi's specs.
    TixiParallelMultiInstanceTask: _named(MultiInstanceTaskConverter, "ParallelMultiInstanceTask"),
    TixiSequentialMultiInstanceTask: _named(MultiInstanceTaskConverter, "SequentialMultiInstanceTask"),
}
REPLACES = (NoneTask, ManualTask, ParallelMultiInstanceTask, SequentialMultiInstanceTask)
