"""Turning uploaded BPMN/DMN documents into deployable specs plus the metadata Tixi needs.

Convention (docs/bpmn-conventions.md): Camunda attributes on the elements —
`camunda:candidateGroups`, `camunda:candidateUsers`, `camunda:assignee`, `camunda:formKey`, `camunda:dueDate` on user tasks,
`camunda:formKey` on the start event, `camunda:candidateStarterGroups` on the process.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException

from engine.bpmn.camunda_expressions import (
    TranslationProblem,
    candidate_users,
    ids_within,
    translate_bpmn,
    translate_dmn,
)
from engine.bpmn.camunda_forms import ElementFormProblem, form_data_of, generated_form_key, generated_forms
from engine.bpmn.decision_checks import decision_cell_problem, required_decision
from engine.bpmn.designer_notices import designer_notifications, pass_designer_notifications_through
from engine.bpmn.http_connector_spec import CONNECTOR_TOPIC, connector_of, read_http_connector
from engine.bpmn.links import join_links, link_problems
from engine.bpmn.process_expressions import Expression, expressions_of
from engine.bpmn.serialization import SERIALIZER, SERIALIZER_VERSION, spec_to_dict
from engine.bpmn.support import external_topic, sends_message, unsupported_elements
from engine.bpmn.task_specs import TixiParser

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
DMN_NAMESPACES = (
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "https://www.omg.org/spec/DMN/20230324/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
)
_NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}


@dataclass(frozen=True)
class DefinitionProblem(Exception):
    """What is wrong with an uploaded definition, and where."""

    message: str
    element_id: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = f" (element '{self.element_id}')" if self.element_id else ""
        return f"{self.message}{where}"


@dataclass(frozen=True)
class ParsedProcess:
    key: str
    name: str
    spec: dict[str, Any]
    serializer_version: str
    elements: dict[str, Any]
    expressions: tuple[Expression, ...] = field(default=())


@dataclass(frozen=True)
class ParsedDecision:
    key: str
    name: str
    table: dict[str, Any]  # the library's serialized decision table, swapped into callers' specs
    translations: tuple[dict[str, Any], ...] = field(default=())  # FEEL and JUEL rewritten at deploy


def is_dmn(root: etree._Element) -> bool:
    return etree.QName(root).namespace in DMN_NAMESPACES


def parse_decisions(root: etree._Element, filename: str) -> list[ParsedDecision]:
    """Check a DMN document parses and list its decisions.

    Raises: DefinitionProblem.
    """
    namespace = etree.QName(root).namespace
    if not root.findall(f"{{{namespace}}}decision"):
        raise DefinitionProblem("the DMN document holds no decision")
    if required := required_decision(root):
        raise DefinitionProblem(required[1], element_id=required[0])
    translations = _translated(translate_dmn, root)
    parser = TixiParser()
    converter = SERIALIZER.registry.convert_to_dict["BusinessRuleTask"].args[1].__self__  # the registered converter
    parsed = []
    for single in single_decision_documents(root):
        try:
            parser.add_dmn_xml(single, filename=filename)
        except (ValidationException, SpiffWorkflowException) as error:
            raise _problem_from(error) from None
        decision = single.find(f"{{{namespace}}}decision")
        key = decision.get("id", "")
        try:
            table = parser.get_engine(key, decision).decision_table
        except (ValidationException, SpiffWorkflowException, IndexError) as error:
            raise DefinitionProblem(f"decision '{key}' has no usable decision table: {error}", element_id=key) from None
        table_dict = json.loads(json.dumps(converter.decision_table_to_dict(table), default=str))
        problem = decision_cell_problem(table_dict)
        if problem:
            raise DefinitionProblem(f"decision '{key}': {problem}", element_id=key)
        parsed.append(ParsedDecision(key, decision.get("name") or key, table_dict,
                                     tuple(t for t in translations if t["element"] in ids_within(decision))))
    return parsed


def single_decision_documents(root: etree._Element) -> list[etree._Element]:
    """One copy of a DMN document per decision, holding only that decision.

    The library reads one decision per document (it registers the document under its first
    decision's id, and with two it fails on an internal error): split, each decision is found by
    its own id, as `camunda:decisionRef` names it.
    """
    namespace = etree.QName(root).namespace
    decisions = root.findall(f"{{{namespace}}}decision")
    if len(decisions) <= 1:
        return [root]
    documents = []
    for keep in decisions:
        copy = etree.Element(root.tag, attrib=dict(root.attrib), nsmap=root.nsmap)
        for child in root:
            if child is keep or (isinstance(child.tag, str) and etree.QName(child).localname != "decision"
                                 and etree.QName(child).namespace == namespace):
                copy.append(deepcopy(child))
        documents.append(copy)
    return documents


def parse_processes(root: etree._Element, filename: str, decisions: list[etree._Element]) -> list[ParsedProcess]:
    """Parse the executable processes of a BPMN document.

    `decisions` are the DMN roots that business-rule tasks may reference.
    Raises: DefinitionProblem.
    """
    if etree.QName(root).namespace != BPMN_NS or etree.QName(root).localname != "definitions":
        raise DefinitionProblem("not a BPMN 2.0 document (root must be bpmn:definitions)")
    translations = _translated(translate_bpmn, root)
    for dmn in decisions:
        _translated(translate_dmn, dmn)
    processes = [p for p in root.findall("bpmn:process", _NS) if p.get("isExecutable", "true") == "true"]
    if not processes:
        raise DefinitionProblem("the BPMN document holds no executable process")
    for process in processes:
        refused = [*unsupported_elements(process), *link_problems(process)]
        if refused:
            raise DefinitionProblem(refused[0].message, element_id=refused[0].element_id, line=refused[0].line)
        try:
            generated_forms(process)
        except ElementFormProblem as problem:
            raise DefinitionProblem(problem.message, element_id=problem.element_id, line=problem.line) from None
        pass_designer_notifications_through(process)
        join_links(process)
        for send in list(process.iter(f"{{{BPMN_NS}}}sendTask")):
            if sends_message(send):
                # A send task with a message throws it as a message throw event does (the case waiting
                # for it receives it); the library's send task would wait for a worker instead.
                send.tag = f"{{{BPMN_NS}}}intermediateThrowEvent"
                etree.SubElement(send, f"{{{BPMN_NS}}}messageEventDefinition", messageRef=send.attrib.pop("messageRef"))
            else:
                # A send task a worker does runs as the service task it is in Camunda 7.
                send.tag = f"{{{BPMN_NS}}}serviceTask"
    parser = TixiParser()
    try:
        for dmn in decisions:
            for single in single_decision_documents(dmn):
                parser.add_dmn_xml(single)
        parser.add_bpmn_xml(root, filename=filename)
        parsed = []
        for process in processes:
            key = process.get("id", "")
            spec = parser.get_spec(key)
            called = _called_processes(process)
            # Called processes are bound late (their latest version when an instance starts), so
            # only embedded subprocesses stay in this version's spec.
            subprocess_specs = {
                name: sub
                for name, sub in parser.get_subprocess_specs(key, require_call_activity_specs=False).items()
                if sub is not None and name not in called
            }
            parsed.append(
                ParsedProcess(
                    key=key,
                    name=process.get("name") or key,
                    spec=spec_to_dict(spec, subprocess_specs),
                    serializer_version=SERIALIZER_VERSION,
                    elements={**_elements(process),
                              "translations": [t for t in translations if t["element"] in ids_within(process)]},
                    expressions=tuple(expressions_of(process)),
                )
            )
    except (ValidationException, SpiffWorkflowException) as error:
        raise _problem_from(error) from None
    return parsed


def _translated(translate: Callable[[etree._Element], list[dict[str, Any]]],
                root: etree._Element) -> list[dict[str, Any]]:
    """Camunda's JUEL and FEEL rewritten in place (engine/bpmn/camunda_expressions.py). Raises: DefinitionProblem."""
    try:
        return translate(root)
    except TranslationProblem as problem:
        raise DefinitionProblem(str(problem), element_id=problem.element_id, line=problem.line) from None


def _split_list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _camunda(node: etree._Element, name: str) -> str | None:
    value: str | None = node.get(f"{{{CAMUNDA_NS}}}{name}")
    return value


def _called_processes(process: etree._Element) -> set[str]:
    return {c.get("calledElement", "") for c in process.iter(f"{{{BPMN_NS}}}callActivity") if c.get("calledElement")}


def _message_names(process: etree._Element) -> dict[str, str]:
    root = process.getroottree().getroot()
    return {m.get("id", ""): m.get("name") or m.get("id", "") for m in root.iter(f"{{{BPMN_NS}}}message")}


def _signal_names(process: etree._Element) -> dict[str, str]:
    root = process.getroottree().getroot()
    return {s.get("id", ""): s.get("name") or s.get("id", "") for s in root.iter(f"{{{BPMN_NS}}}signal")}


def _signal_name(definition: etree._Element, signals: dict[str, str]) -> str:
    """As the library names it: the referenced signal's name, else the event's own name."""
    ref = definition.get("signalRef")
    return signals.get(ref or "", ref or "") if ref else (definition.getparent().get("name") or "")


def _start_events(process: etree._Element, messages: dict[str, str]) -> list[dict[str, Any]]:
    """Each top-level start event: plain, timer (with its expression), message or signal (with its name)."""
    events = []
    signals = _signal_names(process)
    for event in process.findall("bpmn:startEvent", _NS):
        timer = event.find("bpmn:timerEventDefinition", _NS)
        message = event.find("bpmn:messageEventDefinition", _NS)
        signal = event.find("bpmn:signalEventDefinition", _NS)
        entry: dict[str, Any] = {"element_id": event.get("id", ""), "kind": "plain", "form_key": _camunda(event, "formKey")}
        if timer is not None:
            expression = next((child.text or "" for child in timer if isinstance(child.tag, str)), "")
            entry.update(kind="timer", expression=expression.strip().strip('"'))
        elif message is not None:
            entry.update(kind="message", message=messages.get(message.get("messageRef", ""), message.get("messageRef")))
        elif signal is not None:
            entry.update(kind="signal", signal=_signal_name(signal, signals))
        events.append(entry)
    return events


def _properties(node: etree._Element) -> dict[str, str]:
    """`camunda:properties` of an element, e.g. sla_calendar=working, sla_pause=true."""
    found = node.findall("bpmn:extensionElements/camunda:properties/camunda:property", _NS)
    return {p.get("name", ""): p.get("value", "") for p in found}


def _case_sla(process: etree._Element) -> dict[str, str] | None:
    """The whole case's service commitment: `sla_case_due` (ISO duration) and `sla_case_calendar`."""
    properties = _properties(process)
    if not properties.get("sla_case_due"):
        return None
    return {"due": properties["sla_case_due"], "calendar": properties.get("sla_case_calendar", "calendar")}


def _elements(process: etree._Element) -> dict[str, Any]:
    messages = _message_names(process)
    names: dict[str, str] = {}
    for node in process.iter():
        if isinstance(node.tag, str) and node.get("id"):
            names[node.get("id", "")] = node.get("name") or node.get("id", "")
    user_tasks = {}
    for task in process.iter(f"{{{BPMN_NS}}}userTask"):
        user_tasks[task.get("id", "")] = {
            "name": task.get("name") or task.get("id"),
            "candidate_groups": _split_list(_camunda(task, "candidateGroups")),
            # camunda:candidateUsers: names as written, and `${...}` items as sandbox expressions.
            "candidate_users": [written for written, runs in candidate_users(task) if runs is None],
            "candidate_user_expressions": [runs for _, runs in candidate_users(task) if runs is not None],
            "assignee": _camunda(task, "assignee"),
            "form_key": _camunda(task, "formKey") or (
                generated_form_key(task.get("id", "")) if form_data_of(task) is not None else None),
            "due": _camunda(task, "dueDate"),
            "priority": _camunda(task, "priority"),
            "properties": _properties(task),
            # The earlier steps this one may send the case back to (退回), e.g. return_to=inspect_product.
            "return_to": _split_list(_properties(task).get("return_to")),
            "multi_instance": task.find("bpmn:multiInstanceLoopCharacteristics", _NS) is not None,
            "line": task.sourceline,
        }
    flows = {
        flow.get("id", ""): {
            "source": flow.get("sourceRef"),
            "target": flow.get("targetRef"),
            "name": flow.get("name"),
        }
        for flow in process.iter(f"{{{BPMN_NS}}}sequenceFlow")
    }
    start_events = _start_events(process, messages)
    return {
        "names": names,
        "user_tasks": user_tasks,
        # camunda:formData as JSON Schemas, by their `formData:<task id>` form keys (engine/task_forms.py).
        "generated_forms": generated_forms(process),
        "flows": flows,
        "called_processes": sorted(_called_processes(process)),
        "decisions": {
            task.get("id", ""): _camunda(task, "decisionRef")
            for task in process.iter(f"{{{BPMN_NS}}}businessRuleTask") if _camunda(task, "decisionRef")
        },
        "message_events": {
            node.getparent().get("id", ""): messages.get(node.get("messageRef", ""), node.get("messageRef", ""))
            for node in process.iter(f"{{{BPMN_NS}}}messageEventDefinition")
        },
        "signal_events": {
            node.getparent().get("id", ""): _signal_name(node, _signal_names(process))
            for node in process.iter(f"{{{BPMN_NS}}}signalEventDefinition")
        },
        "start_events": start_events,
        # Send tasks and message throw/end events that tell people (engine/notifications/designed.py).
        "notifications": designer_notifications(process),
        # Service and send tasks a worker does through the external-task API (engine/external_tasks.py).
        "external_tasks": {
            node.get("id", ""): _external_task(node)
            for tag in ("serviceTask", "sendTask") for node in process.iter(f"{{{BPMN_NS}}}{tag}")
        },
        "side_end_events": sorted(
            node.get("id", "") for node in process.iter(f"{{{BPMN_NS}}}endEvent")
            if _properties(node).get("side_branch") == "true"
        ),
        "sla_pause": sorted(
            node.get("id", "") for node in process.iter()
            if isinstance(node.tag, str) and _properties(node).get("sla_pause") == "true"
        ),
        # Elements that change the outlet register when they complete (engine/register_actions.py).
        "register_actions": {
            node.get("id", ""): _properties(node)["outlet_register"] for node in process.iter()
            if isinstance(node.tag, str) and node.get("id") and _properties(node).get("outlet_register")
        },
        "timer_events": sorted(
            {node.getparent().get("id", "") for node in process.iter(f"{{{BPMN_NS}}}timerEventDefinition")}
        ),
        "start_form": next((e["form_key"] for e in start_events if e["form_key"]), None),
        "starter_groups": _split_list(_camunda(process, "candidateStarterGroups")),
        "case_sla": _case_sla(process),
    }


def _external_task(node: etree._Element) -> dict[str, Any]:
    """A worker's service task; an http-connector's is done by Tixi's own worker (engine/http_connector.py)."""
    entry: dict[str, Any] = {"topic": external_topic(node), "name": node.get("name") or node.get("id"),
                             "priority": _task_priority(node)}
    if connector_of(node) is not None:
        entry.update(topic=CONNECTOR_TOPIC, connector=read_http_connector(node))  # checked by unsupported_elements
    return entry


def _task_priority(node: etree._Element) -> int:
    """`camunda:taskPriority` as a number (workers fetching with usePriority take the highest first); else 0."""
    try:
        return int(_camunda(node, "taskPriority") or 0)
    except ValueError:
        return 0


def _problem_from(error: Exception) -> DefinitionProblem:
    element_id = getattr(error, "id", None) or None
    line = getattr(error, "line_number", None) or None
    message = str(error).split("\n")[0]
    return DefinitionProblem(message, element_id=element_id, line=line if isinstance(line, int) else None)
