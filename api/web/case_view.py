"""Case data for people: a form field's title in the page's language, enum titles, 是/否 for yes/no."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.orm import Session

from api.attachment_schemas import AttachmentOut
from api.web import i18n
from engine import definitions
from engine.attachments import AttachmentInfo
from engine.audit import HistoryEvent
from engine.instance_detail import InstanceDetail


def field_title(name: str, schema: dict[str, Any], lang: str) -> str:
    title = schema.get("title")
    return i18n.label(title, lang) if isinstance(title, str) and title else name


def field_value(value: Any, schema: dict[str, Any], lang: str) -> str:
    """One value as text: nested objects as "title: value" parts, lists joined, nothing as —."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return i18n.translate("yes" if value else "no", lang)
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        return "; ".join(f"{field_title(k, properties.get(k, {}), lang)}: {field_value(v, properties.get(k, {}), lang)}"
                         for k, v in value.items())
    if isinstance(value, list):
        items = schema.get("items", {}) if isinstance(schema.get("items"), dict) else {}
        return " | ".join(field_value(v, items, lang) for v in value) or "—"
    enum, titles = schema.get("enum"), schema.get("x-enum-titles")
    if isinstance(enum, list) and isinstance(titles, list) and value in enum and len(titles) == len(enum):
        return i18n.label(str(titles[enum.index(value)]), lang)
    if isinstance(value, (int, float, str)):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def where_now(detail: InstanceDetail) -> dict[str, Any]:
    """Where a case stands: its state, the steps waiting and who holds each, the timers it waits on."""
    return {"status": detail.summary.status, "instance_id": detail.summary.instance_id,
            "waiting": [{"name": w.name, "assignee": w.assignee, "groups": list(w.candidate_groups), "due_at": w.due_at}
                        for w in detail.waiting_tasks],
            "timers": [{"name": str(t.get("name") or t.get("element_id") or ""), "due_at": t.get("due_at")}
                       for t in detail.pending_timers]}


def start_form_of(session: Session, key: str, version: int) -> str | None:
    """The start form of the process version a case runs on (its fields are the case's first data)."""
    chosen = next((d for d in definitions.list_versions(session, key) if d.version == version), None)
    return chosen.start_form if chosen else None


def attachment_rows(files: list[AttachmentInfo], history: list[HistoryEvent]) -> list[dict[str, Any]]:
    """The case's files for its pages: each with its links and the step that added it."""
    steps = {e.task_id: str(e.data["name"]) for e in history if e.task_id and isinstance(e.data.get("name"), str)}
    at_start = {str(e.data.get("attachment_id")) for e in history if e.event_type == "attachment_added"
                and e.data.get("at_start")}
    return [{**AttachmentOut.of(f).model_dump(), "step": steps.get(f.task_id) if f.task_id else None,
             "at_start": str(f.attachment_id) in at_start} for f in files]
