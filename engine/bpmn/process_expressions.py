"""The expressions of a process that deploy checks in the sandbox (engine/definitions.py)."""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from engine.bpmn.camunda_expressions import candidate_users

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
_NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}


@dataclass(frozen=True)
class Expression:
    element_id: str
    kind: str  # condition | script | timer | assignee | candidate user
    text: str


def expressions_of(process: etree._Element) -> list[Expression]:
    """Every expression of the process the deploy check reads: conditions, scripts, timers, assignees, candidate users."""
    found = []
    for flow in process.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        condition = flow.find("bpmn:conditionExpression", _NS)
        if condition is not None and (condition.text or "").strip():
            found.append(Expression(flow.get("id", ""), "condition", condition.text.strip()))
    for condition in process.iter(f"{{{BPMN_NS}}}condition"):  # a conditional event's
        event = condition.getparent().getparent()
        found.append(Expression(event.get("id", ""), "condition", (condition.text or "").strip()))
    for task in process.iter(f"{{{BPMN_NS}}}scriptTask"):
        script = task.find("bpmn:script", _NS)
        if script is not None and script.text:
            found.append(Expression(task.get("id", ""), "script", script.text))
    for tag in ("timeDuration", "timeDate", "timeCycle"):
        for node in process.iter(f"{{{BPMN_NS}}}{tag}"):
            event = node.getparent().getparent()
            found.append(Expression(event.get("id", ""), "timer", (node.text or "").strip()))
    for loop in process.iter(f"{{{BPMN_NS}}}multiInstanceLoopCharacteristics"):
        for tag in ("loopCardinality", "completionCondition"):
            node = loop.find(f"bpmn:{tag}", _NS)
            if node is not None and (node.text or "").strip():
                found.append(Expression(loop.getparent().get("id", ""), tag, node.text.strip()))
    for task in process.iter(f"{{{BPMN_NS}}}userTask"):
        assignee = task.get(f"{{{CAMUNDA_NS}}}assignee")
        if assignee:
            found.append(Expression(task.get("id", ""), "assignee", assignee))
        found.extend(Expression(task.get("id", ""), "candidate user", runs)
                     for _, runs in candidate_users(task) if runs is not None)
    return found
