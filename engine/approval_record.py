"""The approval record (审批记录): a case's history as the people in it read it.

The history is an engine log (tasks created, gateways taken, timers fired: some 35 rows for one
onboarding). The record keeps what a person did or must know: who started the case, who decided
what with which opinion, who finished or handed on a step, comments, suspensions and the end.
Each file added to the case is shown with the step that added it: at a task later decided or
completed, with that decision; with the start form, with the start; otherwise as an entry of its own.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from engine.attachment_fields import ATTACHMENT_ADDED
from engine.audit import HistoryEvent

# Event types kept, by the kind of record entry they become.
_KINDS = {
    "started": "started", "task_decided": "decided", "task_completed": "completed",
    "task_assigned": "assigned", "task_delegated": "delegated", "comment_added": "comment",
    "suspended": "suspended", "resumed": "resumed", "terminated": "terminated", "incident": "incident",
    "incident_resolved": "incident_resolved", "ended": "ended", "task_sent_back": "sent_back",
    "withdrawn": "withdrawn", "extra_sign_added": "sign_added", "extra_sign_decided": "sign_decided",
}
_POSITIONS = {"before": "前加签 / Sign before", "after": "后加签 / Sign after"}


@dataclass(frozen=True)
class RecordFile:
    attachment_id: str
    filename: str
    size: int


@dataclass(frozen=True)
class RecordEntry:
    kind: str  # started, decided, completed, assigned, delegated, sent_back, comment, suspended, withdrawn, ... ended
    actor: str
    occurred_at: datetime
    step: str | None = None  # the step's "中文 / English" name
    outcome: str | None = None  # a decision's "中文 / English" title
    style: str | None = None  # a decision's button style: primary (yes), danger (no), plain
    text: str | None = None  # the opinion, comment or reason
    to: str | None = None  # whom a step was handed to, or (sent_back) the step's name it was sent back to
    files: tuple[RecordFile, ...] = ()  # attachments added with this step
    task_id: uuid.UUID | None = None  # the step's task, to fold its files in


def approval_record(history: list[HistoryEvent]) -> list[RecordEntry]:
    """The record of a case's history, oldest first.

    A decided task's own completion row is folded into its decision; an end reached by a step's
    completion is shown with the end event's name.
    """
    names = _step_names(history)
    decided = {e.task_id for e in history if e.event_type == "task_decided"}
    closed = decided | {e.task_id for e in history if e.event_type == "task_completed"}
    files: dict[uuid.UUID | None, list[RecordFile]] = {}  # task id (None: the start) -> files folded into its entry
    entries = []
    for event in history:
        if event.event_type == ATTACHMENT_ADDED:
            file = _file(event)
            if event.data.get("at_start") or (event.task_id is not None and event.task_id in closed):
                files.setdefault(None if event.data.get("at_start") else event.task_id, []).append(file)
            else:
                entries.append(RecordEntry("attachment", event.actor, event.occurred_at,
                                           step=_text(event.data.get("name")), files=(file,)))
            continue
        kind = _KINDS.get(event.event_type)
        if kind is None or (kind == "completed" and event.task_id in decided):
            continue
        entries.append(_entry(kind, event, names))
    return [_with_files(entry, files) for entry in entries]


def _with_files(entry: RecordEntry, files: dict[uuid.UUID | None, list[RecordFile]]) -> RecordEntry:
    found = None
    if entry.kind == "started":
        found = files.get(None)
    elif entry.kind in ("decided", "completed") and entry.task_id is not None:
        found = files.get(entry.task_id)
    return replace(entry, files=tuple(found)) if found else entry


def _file(event: HistoryEvent) -> RecordFile:
    size = event.data.get("size")
    return RecordFile(str(event.data.get("attachment_id")), str(event.data.get("filename")),
                      size if isinstance(size, int) else 0)


def _entry(kind: str, event: HistoryEvent, names: dict[str, str]) -> RecordEntry:
    data = event.data
    step = _text(data.get("name")) or names.get(str(data.get("element", "")))
    common: dict[str, Any] = {"kind": kind, "actor": event.actor, "occurred_at": event.occurred_at,
                              "task_id": event.task_id}
    if kind == "decided":
        return RecordEntry(**common, step=step, outcome=_text(data.get("title")), style=_text(data.get("style")),
                           text=_text(data.get("opinion")))
    if kind in ("assigned", "delegated"):
        return RecordEntry(**common, step=step, to=_text(data.get("assignee")), text=_text(data.get("reason")))
    if kind == "sent_back":  # "to" is the step sent back to (退回), by its name
        return RecordEntry(**common, step=step, to=_text(data.get("to_name")), text=_text(data.get("reason")))
    if kind == "sign_added":  # 加签: whom the holder asked to sign, before or after them, and why
        return RecordEntry(**common, step=step, outcome=_POSITIONS.get(str(data.get("position"))),
                           to=_text(data.get("signer")), text=_text(data.get("reason")))
    if kind == "sign_decided":
        approved = data.get("approved") is True
        return RecordEntry(**common, step=step, outcome="同意 / Approve" if approved else "拒绝 / Reject",
                           style="primary" if approved else "danger", text=_text(data.get("opinion")))
    if kind == "comment":
        return RecordEntry(**common, step=step, text=_text(data.get("text")))
    if kind in ("suspended", "resumed", "terminated", "incident_resolved", "withdrawn"):
        return RecordEntry(**common, text=_text(data.get("reason")))
    if kind == "incident":
        return RecordEntry(**common, step=step)
    if kind == "ended":
        return RecordEntry(**common, step=_text(data.get("end_event_name")))
    return RecordEntry(**common, step=step if kind == "completed" else None)


def _step_names(history: list[HistoryEvent]) -> dict[str, str]:
    """Element id -> the step's name, from the rows that carry it (comments and hand-ons do not)."""
    return {str(e.data["element"]): str(e.data["name"]) for e in history
            if e.data.get("element") and isinstance(e.data.get("name"), str)}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
