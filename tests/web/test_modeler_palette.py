"""Every element the bpmn-js palette and its replace menu offer, drawn by the real bpmn-js in Chromium,
saved as the modeler saves it and checked through the API: it runs, or it is refused naming the element.

The diagrams are not hand-written: bpmn-js (the modeler Tixi serves, the library Camunda Modeler is
built on) creates each element between a start and an end event, with its event definition, marker
or attachment as the menus set them, and writes the XML with its own exporter. No file may make the
server answer 5xx (issue 17); what docs/bpmn-support.md says runs must pass the check.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

# (case, bpmn-js shape attributes, how it is placed, passes the check?)
# "flow": between start and end; "boundary": attached to a plain task of the flow; "inside": the
# only content of an expanded subprocess between start and end; "loose": beside the flow.
CASES: list[tuple[str, dict[str, Any], str, bool]] = [
    ("task", {"type": "bpmn:Task"}, "flow", True),
    ("manual task", {"type": "bpmn:ManualTask"}, "flow", True),
    ("user task without groups", {"type": "bpmn:UserTask"}, "flow", False),
    ("service task (default topic)", {"type": "bpmn:ServiceTask"}, "flow", True),
    ("send task without message", {"type": "bpmn:SendTask"}, "flow", False),
    ("receive task without message", {"type": "bpmn:ReceiveTask"}, "flow", False),
    ("business rule task without decision", {"type": "bpmn:BusinessRuleTask"}, "flow", False),
    ("script task without script", {"type": "bpmn:ScriptTask"}, "flow", False),
    ("call activity without callee", {"type": "bpmn:CallActivity"}, "flow", False),
    ("exclusive gateway", {"type": "bpmn:ExclusiveGateway"}, "flow", True),
    ("parallel gateway", {"type": "bpmn:ParallelGateway"}, "flow", True),
    ("inclusive gateway", {"type": "bpmn:InclusiveGateway"}, "flow", True),
    ("complex gateway", {"type": "bpmn:ComplexGateway"}, "flow", False),
    ("event-based gateway", {"type": "bpmn:EventBasedGateway"}, "flow", False),
    ("intermediate throw event", {"type": "bpmn:IntermediateThrowEvent"}, "flow", True),
    ("message throw event", {"type": "bpmn:IntermediateThrowEvent",
                             "eventDefinitionType": "bpmn:MessageEventDefinition"}, "flow", False),
    ("message catch event", {"type": "bpmn:IntermediateCatchEvent",
                             "eventDefinitionType": "bpmn:MessageEventDefinition"}, "flow", False),
    ("timer catch event", {"type": "bpmn:IntermediateCatchEvent",
                           "eventDefinitionType": "bpmn:TimerEventDefinition"}, "flow", False),
    ("escalation throw event", {"type": "bpmn:IntermediateThrowEvent",
                                "eventDefinitionType": "bpmn:EscalationEventDefinition"}, "flow", False),
    ("conditional catch event", {"type": "bpmn:IntermediateCatchEvent",
                                 "eventDefinitionType": "bpmn:ConditionalEventDefinition"}, "flow", False),
    ("link catch event", {"type": "bpmn:IntermediateCatchEvent",
                          "eventDefinitionType": "bpmn:LinkEventDefinition"}, "flow", True),
    ("link throw event", {"type": "bpmn:IntermediateThrowEvent",
                          "eventDefinitionType": "bpmn:LinkEventDefinition"}, "flow", False),
    ("compensation throw event", {"type": "bpmn:IntermediateThrowEvent",
                                  "eventDefinitionType": "bpmn:CompensateEventDefinition"}, "flow", False),
    ("signal catch event", {"type": "bpmn:IntermediateCatchEvent",
                            "eventDefinitionType": "bpmn:SignalEventDefinition"}, "flow", False),
    ("signal throw event", {"type": "bpmn:IntermediateThrowEvent",
                            "eventDefinitionType": "bpmn:SignalEventDefinition"}, "flow", False),
    ("terminate end event", {"type": "bpmn:EndEvent",
                             "eventDefinitionType": "bpmn:TerminateEventDefinition"}, "loose", True),
    ("error end event", {"type": "bpmn:EndEvent", "eventDefinitionType": "bpmn:ErrorEventDefinition"}, "loose", True),
    ("empty expanded subprocess", {"type": "bpmn:SubProcess", "isExpanded": True}, "flow", False),
    ("empty collapsed subprocess", {"type": "bpmn:SubProcess", "isExpanded": False}, "flow", False),
    ("event subprocess", {"type": "bpmn:SubProcess", "triggeredByEvent": True, "isExpanded": True}, "loose", False),
    ("transaction", {"type": "bpmn:Transaction", "isExpanded": True}, "flow", False),
    ("ad-hoc subprocess", {"type": "bpmn:AdHocSubProcess", "isExpanded": True}, "flow", False),
    ("parallel multi-instance task", {"type": "bpmn:Task", "loop": "parallel"}, "flow", False),
    ("sequential multi-instance task", {"type": "bpmn:Task", "loop": "sequential"}, "flow", False),
    ("standard loop task", {"type": "bpmn:Task", "loop": "standard"}, "flow", False),
    ("compensation task (never reached)", {"type": "bpmn:Task", "isForCompensation": True}, "loose", True),
    ("timer boundary event", {"type": "bpmn:BoundaryEvent",
                              "eventDefinitionType": "bpmn:TimerEventDefinition"}, "boundary", False),
    ("message boundary event", {"type": "bpmn:BoundaryEvent",
                                "eventDefinitionType": "bpmn:MessageEventDefinition"}, "boundary", False),
    ("error boundary event (catches any error)", {"type": "bpmn:BoundaryEvent",
                              "eventDefinitionType": "bpmn:ErrorEventDefinition"}, "boundary", True),
    ("escalation boundary event", {"type": "bpmn:BoundaryEvent",
                                   "eventDefinitionType": "bpmn:EscalationEventDefinition"}, "boundary", False),
    ("compensation boundary event", {"type": "bpmn:BoundaryEvent",
                                     "eventDefinitionType": "bpmn:CompensateEventDefinition"}, "boundary", False),
    ("message start event", {"type": "bpmn:StartEvent",
                             "eventDefinitionType": "bpmn:MessageEventDefinition"}, "loose", False),
    ("timer start event", {"type": "bpmn:StartEvent", "eventDefinitionType": "bpmn:TimerEventDefinition"}, "loose", False),
    ("signal start event", {"type": "bpmn:StartEvent", "eventDefinitionType": "bpmn:SignalEventDefinition"}, "loose", False),
    ("conditional start event", {"type": "bpmn:StartEvent",
                                 "eventDefinitionType": "bpmn:ConditionalEventDefinition"}, "loose", False),
    ("data object", {"type": "bpmn:DataObjectReference"}, "loose", True),
    ("data store", {"type": "bpmn:DataStoreReference"}, "loose", True),
    ("text annotation", {"type": "bpmn:TextAnnotation"}, "loose", True),
    ("group", {"type": "bpmn:Group"}, "loose", True),
]

# Run in the modeler page: a second bpmn-js modeler off screen draws each case and saves it.
DRAW = """async (cases) => {
  const camunda = await (await fetch("/static/vendor/camunda-moddle.json")).json();
  const host = document.createElement("div");
  host.style.cssText = "position:absolute;left:-5000px;width:1200px;height:800px";
  document.body.appendChild(host);
  const saved = {};
  for (const [name, attrs, placement] of cases) {
    const modeler = new BpmnJS({ container: host, moddleExtensions: { camunda } });
    await modeler.createDiagram();
    const [factory, modeling, registry, moddle] = ["elementFactory", "modeling", "elementRegistry", "moddle"]
      .map((s) => modeler.get(s));
    const root = modeler.get("canvas").getRootElement();
    root.businessObject.isExecutable = true;
    const start = registry.filter((e) => e.type === "bpmn:StartEvent")[0];
    const { loop, ...shapeAttrs } = attrs;
    const end = modeling.createShape(factory.createShape({ type: "bpmn:EndEvent" }), { x: 900, y: 120 }, root);
    let element;
    if (placement === "boundary") {
      const task = modeling.createShape(factory.createShape({ type: "bpmn:Task" }), { x: 450, y: 120 }, root);
      modeling.connect(start, task);
      modeling.connect(task, end);
      element = modeling.createShape(factory.createShape(shapeAttrs), { x: 450, y: 160 }, task, { attach: true });
      const after = modeling.createShape(factory.createShape({ type: "bpmn:EndEvent" }), { x: 600, y: 300 }, root);
      modeling.connect(element, after);
    } else if (placement === "flow") {
      element = modeling.createShape(factory.createShape(shapeAttrs), { x: 450, y: 120 }, root);
      modeling.connect(start, element);
      modeling.connect(element, end);
    } else {
      modeling.connect(start, end);
      element = modeling.createShape(factory.createShape(shapeAttrs), { x: 450, y: 400 }, root);
    }
    if (loop) {
      const characteristics = loop === "standard" ? moddle.create("bpmn:StandardLoopCharacteristics")
        : moddle.create("bpmn:MultiInstanceLoopCharacteristics", { isSequential: loop === "sequential" });
      modeling.updateProperties(element, { loopCharacteristics: characteristics });
    }
    saved[name] = { id: element.id, xml: (await modeler.saveXML({ format: true })).xml };
    modeler.destroy();
  }
  host.remove();
  return saved;
}"""

CHECK = """async ([name, xml]) => {
  const result = await tixi.deploy(new Blob([xml], { type: "application/xml" }), name + ".bpmn", true);
  return { status: result.status, ok: result.ok, data: result.data };
}"""


def _problems(data: Any) -> str:
    errors = (data.get("errors") or []) if isinstance(data, dict) else []
    return " | ".join(f"{e.get('element')}: {e.get('problem') or e.get('message')}" for e in errors) or str(data)


def test_every_palette_element_runs_or_is_refused_naming_it(as_user: Callable[..., Page]) -> None:
    page = as_user("designer")
    page.goto("/modeler")
    expect(page.locator("#modeler")).to_have_attribute("data-ready", "true")
    drawn = page.evaluate(DRAW, [[name, attrs, placement] for name, attrs, placement, _ in CASES])
    wrong = []
    for name, _, _, runs in CASES:
        element_id, xml = drawn[name]["id"], drawn[name]["xml"]
        assert "bpmn:definitions" in xml and f'id="{element_id}"' in xml, name
        result = page.evaluate(CHECK, [name.replace(" ", "_"), xml])
        verdict = ("runs" if result["ok"] else f"refused {result['status']}: {_problems(result['data'])}")
        if result["status"] >= 500 or result["ok"] != runs or (not runs and (
                result["status"] not in (400, 422) or element_id not in _problems(result["data"]))):
            wrong.append(f"{name} ({element_id}): expected {'runs' if runs else 'refused naming it'}, got {verdict}")
    assert not wrong, "\n".join(wrong)
