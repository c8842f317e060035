"""Which BPMN elements Tixi runs, and the refusal at Check for every other one.

The library parses more than it runs as the standard says: an error event subprocess, a
compensation or a complex gateway would deploy and then stall or lie. So the elements that run are listed here
(each has a test, see docs/bpmn-support.md), and any other flow element or event definition is
refused at deploy and Check with a message naming it and saying what to draw instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from engine.bpmn.designer_notices import NOTIFYING_ELEMENTS, designer_notification
from engine.bpmn.http_connector_spec import ConnectorProblem, connector_of, read_http_connector

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
DEFAULT_TOPIC = "tixi-default"  # a service task naming no topic; TIXI_EXTERNAL_TASK_DEFAULT_TOPIC changes it

# The event definitions each kind of event runs with; None: a plain event without one.
_EVENTS: dict[str, set[str | None]] = {
    "startEvent": {None, "timerEventDefinition", "messageEventDefinition", "signalEventDefinition"},
    "endEvent": {None, "terminateEventDefinition", "errorEventDefinition", "messageEventDefinition",
                 "signalEventDefinition"},
    "intermediateCatchEvent": {"timerEventDefinition", "messageEventDefinition", "linkEventDefinition",
                               "signalEventDefinition", "conditionalEventDefinition"},
    "intermediateThrowEvent": {None, "messageEventDefinition", "linkEventDefinition", "signalEventDefinition"},
    "boundaryEvent": {"timerEventDefinition", "messageEventDefinition", "errorEventDefinition",
                      "signalEventDefinition", "conditionalEventDefinition"},
}
_JAVA_IMPLEMENTATIONS = ("class", "expression", "delegateExpression")

# What to draw instead of each refused element.
_INSTEAD = {
    "complexGateway": "use an inclusive or exclusive gateway with conditions",
    "adHocSubProcess": "draw the tasks of the subprocess with a parallel gateway, or as separate user tasks",
    "transaction": "use an embedded subprocess with an error boundary event",
    "multiInstanceLoopCharacteristics": "Tixi runs multi-instance user tasks only: make it a user task, or draw "
                                        "the repetition as a loop back through an exclusive gateway",
    "standardLoopCharacteristics": "draw the repetition as a loop back through an exclusive gateway",
    "signalEventDefinition": "use a signal event with a signalRef; POST /api/signals broadcasts it",
    "conditionalEventDefinition": "use a conditional intermediate catch event or boundary event, or test the "
                                  "condition at an exclusive gateway after the step that changes it",
    "linkEventDefinition": "use a link intermediate throw event and a link intermediate catch event of the same "
                           "name, or connect the two places with a sequence flow",
    "escalationEventDefinition": "use an error end event and an error boundary event on the subprocess",
    "compensateEventDefinition": "draw the undoing steps as ordinary tasks on an error or exclusive-gateway path",
    "cancelEventDefinition": "use an error end event and an error boundary event on the subprocess",
    "messageEventDefinition": "to tell people, give it camunda:property notify (a template) and notify_to; "
                              "else a worker can send the message: use a send task or service task with "
                              "camunda:type=\"external\" and camunda:topic",
    "timerEventDefinition": "use a timer intermediate catch event or timer boundary event",
    "errorEventDefinition": "use an error boundary event on the task or subprocess",
    "terminateEventDefinition": "use a terminate end event",
    None: "give the event one of the definitions listed in docs/bpmn-support.md",
}


@dataclass(frozen=True)
class Unsupported:
    element_id: str
    line: int | None
    message: str


def unsupported_elements(process: etree._Element) -> list[Unsupported]:
    """Every flow element of `process` (and its subprocesses) that Tixi would not run as the standard says."""
    found = []
    for node in process.iter():
        if not isinstance(node.tag, str) or etree.QName(node).namespace != BPMN_NS:
            continue
        local = etree.QName(node).localname
        problem = _problem(node, local)
        if problem:
            found.append(Unsupported(_id(node), node.sourceline, problem))
    return found


def _problem(node: etree._Element, local: str) -> str | None:
    if local == "multiInstanceLoopCharacteristics" and etree.QName(node.getparent()).localname == "userTask":
        return _multi_instance_problem(node)
    if local in _INSTEAD and local.endswith("LoopCharacteristics"):
        return f"{_what(node.getparent())} repeats ({_words(local)}), which Tixi does not run: {_INSTEAD[local]}"
    if local == "eventBasedGateway":
        return _event_gateway_problem(node)
    if local in ("complexGateway", "adHocSubProcess", "transaction"):
        return f"{_what(node)} is not run by Tixi: {_INSTEAD[local]}"
    if local == "subProcess" and node.get("triggeredByEvent") == "true":
        return _event_subprocess_problem(node)
    if local in _EVENTS:
        return _event_problem(node, local)
    if local in ("serviceTask", "sendTask"):
        return _implementation_problem(node, local)
    if local == "receiveTask" and not node.get("messageRef"):
        return f"{_what(node)} waits for a message without messageRef: {_NAME_THE_MESSAGE}"
    if local == "businessRuleTask" and not node.get(f"{{{CAMUNDA_NS}}}decisionRef"):
        return (f"{_what(node)} is a business-rule task without camunda:decisionRef: name the decision it "
                "evaluates (the id of a decision in a DMN file deployed with it or before)")
    return None


# A catch event without a message would wait for one nobody can send (issue 17: nothing may stall).
_NAME_THE_MESSAGE = ("name the message (a bpmn:message) it waits for, which POST /api/messages or another "
                     "case's message throw event sends by that name")


def _multi_instance_problem(node: etree._Element) -> str | None:
    """A multi-instance user task runs (engine/bpmn/multi_instance.py) as Camunda 7 writes it."""
    task = _what(node.getparent())
    parts = [etree.QName(c).localname for c in node if isinstance(c.tag, str)]
    standard = [p for p in parts if p in ("loopDataInputRef", "loopDataOutputRef", "inputDataItem", "outputDataItem")]
    if standard:
        return (f"{task} repeats over {', '.join(standard)} (the standard's data input), which the Camunda 7 models "
                "Tixi runs do not use: write camunda:collection and camunda:elementVariable")
    other = [p for p in parts if p not in ("loopCardinality", "completionCondition", "extensionElements")]
    if other:
        return f"{task} repeats with <{other[0]}>, which Tixi does not read: use loopCardinality or camunda:collection"
    if "loopCardinality" not in parts and not node.get(f"{{{CAMUNDA_NS}}}collection"):
        return f"{task} is multi-instance without loopCardinality or camunda:collection: say how many instances run"
    return None


def _event_subprocess_problem(node: etree._Element) -> str | None:
    """A message or timer event subprocess of the process itself runs, interrupting or not; every other kind is refused."""
    starts = [c for c in node if isinstance(c.tag, str) and etree.QName(c).localname == "startEvent"]
    definitions = [etree.QName(c).localname for c in starts[0] if isinstance(c.tag, str)
                   and etree.QName(c).localname.endswith("EventDefinition")] if len(starts) == 1 else []
    parent = node.getparent()
    if (definitions not in (["messageEventDefinition"], ["timerEventDefinition"])
            or parent is None or etree.QName(parent).localname != "process"):
        return (f"{_what(node)} is an event subprocess Tixi does not run: it runs one that starts with one "
                "message or timer start event, in the process itself; for an error put an error boundary "
                "event on an embedded subprocess around the flow instead")
    return None


def _event_gateway_problem(node: etree._Element) -> str | None:
    """An event-based gateway races the message and timer catch events its flows lead to."""
    if node.get("instantiate") == "true" or node.get("eventGatewayType", "Exclusive") != "Exclusive":
        return (f"{_what(node)} starts the case or waits on all its events, which Tixi does not run: draw a "
                "start event before an exclusive event-based gateway")
    siblings = list(node.getparent() if node.getparent() is not None else [])
    by_id = {child.get("id"): child for child in siblings if isinstance(child.tag, str)}
    targets = [by_id.get(flow.get("targetRef")) for flow in siblings
               if isinstance(flow.tag, str) and etree.QName(flow).localname == "sequenceFlow"
               and flow.get("sourceRef") == node.get("id")]
    kinds = []
    for target in targets:
        definitions = [etree.QName(c).localname for c in target if isinstance(c.tag, str)
                       and etree.QName(c).localname.endswith("EventDefinition")] if target is not None else []
        if (target is None or etree.QName(target).localname != "intermediateCatchEvent"
                or definitions not in (["messageEventDefinition"], ["timerEventDefinition"])):
            return (f"{_what(node)} leads to {_what(target)}: Tixi races only message and timer intermediate "
                    "catch events after an event-based gateway; draw a message catch event instead")
        kinds.append(definitions[0])
    if len(targets) < 2:
        return f"{_what(node)} needs two or more outgoing flows, each to a message or timer catch event"
    if kinds.count("timerEventDefinition") > 1:
        return (f"{_what(node)} races {kinds.count('timerEventDefinition')} timers, and Tixi races one: keep the "
                "earliest timer")
    return None


def _event_problem(node: etree._Element, local: str) -> str | None:
    definitions = [etree.QName(child).localname for child in node
                   if isinstance(child.tag, str) and etree.QName(child).localname.endswith("EventDefinition")]
    if len(definitions) > 1:
        return (f"{_what(node)} has {len(definitions)} event definitions (a multiple event), and Tixi waits on one: "
                "draw one event per trigger")
    definition = definitions[0] if definitions else None
    if definition is not None and local == "startEvent" and _in_subprocess(node) and not _event_subprocess_start(node):
        return (f"{_what(node)} is a {_words(definition)} start inside a subprocess, which never triggers: an "
                "embedded subprocess starts with a plain start event when the flow reaches it")
    if definition == "messageEventDefinition" and local in ("intermediateThrowEvent", "endEvent"):
        message = node.find(f"{{{BPMN_NS}}}messageEventDefinition")
        if message is not None and not message.get("messageRef"):
            return f"{_what(node)} throws a message without messageRef: name the message the receiving case waits for"
    if definition == "messageEventDefinition" and local in ("intermediateCatchEvent", "boundaryEvent", "startEvent"):
        message = node.find(f"{{{BPMN_NS}}}messageEventDefinition")
        if message is not None and not message.get("messageRef"):
            return f"{_what(node)} waits for a message without messageRef: {_NAME_THE_MESSAGE}"
    if definition == "signalEventDefinition":
        signal = node.find(f"{{{BPMN_NS}}}signalEventDefinition")
        if signal is not None and not signal.get("signalRef"):
            return f"{_what(node)} is a signal event without signalRef: name the signal (a bpmn:signal) it throws or catches"
    if definition in _EVENTS[local]:
        return None
    if definition == "messageEventDefinition" and local in NOTIFYING_ELEMENTS and designer_notification(node) is not None:
        return None  # a message Tixi sends to people (engine/notifications/designed.py), not to another case
    kind = _words(definition or "none") if definition else "plain"
    instead = _INSTEAD.get(definition, _INSTEAD[None])
    return f"{_what(node)} is a {kind} {_words(local)}, which Tixi does not run: {instead}"


def _implementation_problem(node: etree._Element, local: str) -> str | None:
    if local == "sendTask" and designer_notification(node) is not None:
        if node.get(f"{{{CAMUNDA_NS}}}type") is not None:
            return (f"{_what(node)} both names a notification (camunda:property notify) and a worker "
                    "(camunda:type): Tixi sends the notification itself, so drop one")
        return None
    for name in _JAVA_IMPLEMENTATIONS:
        if node.get(f"{{{CAMUNDA_NS}}}{name}"):
            return (f"{_what(node)} is implemented by camunda:{name}, Java code Tixi cannot run: set "
                    "camunda:type=\"external\" and camunda:topic, and let a worker do the work through the "
                    "external-task API")
    if connector_of(node) is not None:
        try:
            read_http_connector(node)
        except ConnectorProblem as problem:
            return f"{_what(node)} {problem}"
        return None
    kind = node.get(f"{{{CAMUNDA_NS}}}type")
    if kind is not None and kind != "external":
        return f"{_what(node)} has camunda:type=\"{kind}\"; Tixi runs only camunda:type=\"external\""
    if kind == "external" and not (node.get(f"{{{CAMUNDA_NS}}}topic") or "").strip():
        return f"{_what(node)} is an external task without camunda:topic: name the topic its workers fetch"
    if local == "sendTask" and kind is None and not node.get("messageRef"):
        return (f"{_what(node)} is a send task without a message, a notification or a worker: give it a message "
                "(messageRef), which Tixi delivers to the case waiting for it; or camunda:property notify (a "
                "template) and notify_to to tell people; or set camunda:type=\"external\" and camunda:topic, and "
                "let a worker send it")
    return None


def sends_message(node: etree._Element) -> bool:
    """A send task that throws its message (to the case waiting for it) rather than calling a worker."""
    return (etree.QName(node).localname == "sendTask" and bool(node.get("messageRef"))
            and node.get(f"{{{CAMUNDA_NS}}}type") is None)


def external_topic(node: etree._Element) -> str | None:
    """The topic workers fetch a service or send task under; None: the server's default topic."""
    return (node.get(f"{{{CAMUNDA_NS}}}topic") or "").strip() or None


def _event_subprocess_start(node: etree._Element) -> bool:
    parent = node.getparent()
    return parent is not None and parent.get("triggeredByEvent") == "true"


def _in_subprocess(node: etree._Element) -> bool:
    parent = node.getparent()
    return parent is not None and etree.QName(parent).localname != "process"


def _what(node: etree._Element | None) -> str:
    if node is None:
        return "an element"
    name = node.get("name")
    label = f"'{_id(node)}' ({name})" if name else f"'{_id(node)}'"
    return f"{_words(etree.QName(node).localname)} {label}"


def _id(node: etree._Element | None) -> str:
    while node is not None:
        if node.get("id"):
            return str(node.get("id"))
        node = node.getparent()
    return ""


def _words(local: str) -> str:
    """`eventBasedGateway` as 'event-based gateway' in a message, so the designer finds it in the palette."""
    text = local.removesuffix("EventDefinition") + (" event" if local.endswith("EventDefinition") else "")
    out = "".join(" " + c.lower() if c.isupper() else c for c in text).strip()
    return out.replace("event based", "event-based").replace("ad hoc", "ad-hoc")
