"""Elements that tell people: a send task, message throw or message end event with `camunda:property notify`.

Tixi writes their outbox rows itself (engine/notifications/designed.py), so at parse time they
become pass-through elements and their template and recipients are kept with the definition.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
_NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}
_PROPERTY = f"{{{BPMN_NS}}}extensionElements/{{{CAMUNDA_NS}}}properties/{{{CAMUNDA_NS}}}property"


def designer_notification(node: etree._Element) -> str | None:
    """The template a send task, message throw or message end event tells people with (`camunda:property
    name="notify"`), or None. Tixi writes that notification to the outbox itself, so the element passes through."""
    for prop in node.iterfind(_PROPERTY):
        if prop.get("name") == "notify":
            return (prop.get("value") or "").strip()
    return None


NOTIFYING_ELEMENTS = ("sendTask", "intermediateThrowEvent", "endEvent")


def pass_designer_notifications_through(process: etree._Element) -> None:
    """Elements that tell people (`camunda:property notify`) pass through: Tixi writes their outbox rows.

    A send task becomes a plain task (Tixi's pass-through spec) and a message throw or end event
    loses its message definition, so the library neither waits for a worker nor queues a message
    no case receives; `_elements` keeps what to send under "notifications".
    """
    for local in NOTIFYING_ELEMENTS:
        for node in list(process.iter(f"{{{BPMN_NS}}}{local}")):
            if designer_notification(node) is None:
                continue
            if local == "sendTask":
                node.tag = f"{{{BPMN_NS}}}task"
            for definition in node.findall("bpmn:messageEventDefinition", _NS):
                node.remove(definition)


def designer_notifications(process: etree._Element) -> dict[str, Any]:
    found = {}
    for local in ("task", "intermediateThrowEvent", "endEvent"):
        for node in process.iter(f"{{{BPMN_NS}}}{local}"):
            template = designer_notification(node)
            if template is not None:
                found[node.get("id", "")] = {"template": template, "to": _recipients(node),
                                             "name": node.get("name") or node.get("id"), "line": node.sourceline}
    return found


def _recipients(node: etree._Element) -> list[str]:
    """`notify_to`: user:NAME, group:NAME or var:VARIABLE, comma-separated."""
    value = next((p.get("value") or "" for p in node.iterfind(_PROPERTY) if p.get("name") == "notify_to"), "")
    return [part.strip() for part in value.split(",") if part.strip()]
