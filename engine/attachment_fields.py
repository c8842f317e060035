"""The attachment form field kind: a field marked `x-attachment` holds the ids of files on the case.

    "invoice": {"title": "购货发票 / Purchase invoice", "type": "array", "items": {"type": "string"},
                "minItems": 1, "x-attachment": {"accept": ["application/pdf", "image/jpeg", "image/png"]}}

JSON Schema checks the shape (`required`, `minItems`, `maxItems`); this module checks what it cannot:
that each id names an attachment of this case (for a start form: one the starter staged and that no
case holds yet), of a type the field accepts. A start binds the staged files to the new case in its
own transaction; a start that fails binds nothing, and the staged files wait (engine/attachments.py
deletes those older than the staging time).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.attachment_tables import Attachment
from engine.audit import record_event
from engine.clock import Clock
from engine.errors import FormDataError

ATTACHMENT_KEY = "x-attachment"
ATTACHMENT_ADDED = "attachment_added"  # the history's row for each file added to a case


def attachment_fields(schema: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The form's attachment fields: name -> field schema."""
    properties = (schema or {}).get("properties", {})
    return {name: field for name, field in properties.items()
            if isinstance(field, dict) and field.get(ATTACHMENT_KEY) is not None}


def check_attachment_fields(session: Session, schema: dict[str, Any] | None, data: dict[str, Any], *,
                            instance_id: uuid.UUID | None, actor: str) -> list[Attachment]:
    """The attachments the form's fields name, each checked; for a start (no instance) the staged ones.

    Raises: FormDataError naming each field whose ids are unknown, not this case's, or of a type
    the field does not accept.
    """
    errors: list[dict[str, str]] = []
    found: list[Attachment] = []
    for name, field in attachment_fields(schema).items():
        value = data.get(name)
        ids = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        accept = (field.get(ATTACHMENT_KEY) or {}).get("accept") if isinstance(field.get(ATTACHMENT_KEY), dict) else None
        for index, raw in enumerate(ids):
            where = name if isinstance(value, str) else f"{name}.{index}"
            attachment = _attachment(session, raw)
            if attachment is None or not _belongs(attachment, instance_id, actor):
                errors.append({"field": where, "message": f"{raw!s:.60} is not an attachment of this case "
                                                          "(upload the file first, then name it)"})
            elif accept and attachment.content_type not in accept:
                errors.append({"field": where, "message": f"{attachment.filename} is {attachment.content_type}; "
                                                          f"this field takes {', '.join(accept)}"})
            else:
                found.append(attachment)
    if errors:
        raise FormDataError(f"{len(errors)} attachment field(s) name no usable file", errors=errors)
    return found


def bind_staged(session: Session, clock: Clock, *, actor: str, attachments: list[Attachment],
                instance_id: uuid.UUID, definition_key: str) -> None:
    """Put the start form's staged files on the new case, one history row each."""
    for attachment in attachments:
        if attachment.instance_id is not None:
            continue
        attachment.instance_id = instance_id
        record_added(session, clock, actor=actor, attachment=attachment, definition_key=definition_key,
                     step={"at_start": True})


def record_added(session: Session, clock: Clock, *, actor: str, attachment: Attachment, definition_key: str,
                 step: dict[str, Any]) -> None:
    """The history's row for a file added to a case: who, when, which file, its size and sha256."""
    record_event(session, clock, actor=actor, event_type=ATTACHMENT_ADDED, instance_id=attachment.instance_id,
                 task_id=attachment.task_id, definition_key=definition_key,
                 data={"attachment_id": str(attachment.attachment_id), "filename": attachment.filename,
                       "content_type": attachment.content_type, "size": attachment.size_bytes,
                       "sha256": attachment.sha256, **step})


def _attachment(session: Session, raw: Any) -> Attachment | None:
    try:
        attachment_id = uuid.UUID(str(raw))
    except ValueError:
        return None
    return session.scalars(select(Attachment).where(Attachment.attachment_id == attachment_id)).first()


def _belongs(attachment: Attachment, instance_id: uuid.UUID | None, actor: str) -> bool:
    if instance_id is None:  # a start form names files its starter staged
        return attachment.instance_id is None and attachment.uploaded_by == actor
    return attachment.instance_id == instance_id
