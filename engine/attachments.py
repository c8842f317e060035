"""Files on a case and on a task: adding them (checked on their content), listing and reading them.

Who may add: those who may work the task (a candidate group's member or its holder), or, for the
case itself, those who may see it; staging a file for a start form, anyone who may start a case.
Who may read: those who may see the case; to anyone else an attachment does not exist (404, as a
case does). Each addition is a step of its own, written with its history row in one transaction:
a completion that fails later leaves the file on the case, where the history says who added it.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.attachment_content import name_contradicts, sniffed_type, thumbnail_of, thumbnail_type
from engine.attachment_fields import record_added
from engine.attachment_store import AttachmentStore
from engine.attachment_tables import Attachment
from engine.candidate_users import offered_to
from engine.clock import Clock
from engine.config import EngineConfig
from engine.db import flush
from engine.errors import (
    AttachmentTooLargeError,
    AttachmentTypeError,
    InstanceStateError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from engine.identity import Actor
from engine.permissions import Permission, require
from engine.states import InstanceStatus
from engine.tables import Instance, Task
from engine.tasks import require_open, visible_task_with_groups
from engine.uploads import MAX_NAME_CHARACTERS, shown_name
from engine.visibility import visible_instance

FIELD = "file"  # the multipart field every upload route reads


@dataclass(frozen=True)
class AttachmentLimits:
    max_bytes: int
    types: tuple[str, ...]
    max_per_case: int
    staged_hours: float

    @classmethod
    def of(cls, config: EngineConfig) -> AttachmentLimits:
        return cls(config.attachment_max_bytes, tuple(config.attachment_types), config.attachment_max_per_case,
                   config.attachment_staged_hours)


@dataclass(frozen=True)
class AttachmentInfo:
    attachment_id: uuid.UUID
    instance_id: uuid.UUID | None
    task_id: uuid.UUID | None
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    has_thumbnail: bool
    uploaded_by: str
    uploaded_at: datetime

    @classmethod
    def of(cls, row: Attachment) -> AttachmentInfo:
        return cls(row.attachment_id, row.instance_id, row.task_id, row.filename, row.content_type, row.size_bytes,
                   row.sha256, row.has_thumbnail, row.uploaded_by, row.uploaded_at)


def add_to_task(session: Session, clock: Clock, store: AttachmentStore, limits: AttachmentLimits, *, actor: Actor,
                task_id: uuid.UUID, filename: str, content: bytes) -> AttachmentInfo:
    """Add a file at an open task, by someone who may work it.

    Raises: NotFoundError, PermissionDeniedError, TaskStateError, InstanceStateError,
    AttachmentTooLargeError, AttachmentTypeError, ValidationError (name, count).
    """
    require(actor, Permission.WORK)
    task, record, _, groups = visible_task_with_groups(session, actor, task_id)
    require_open(task, record)
    if (not actor.in_any(groups) and actor.username not in (task.assignee, task.owner)
            and not offered_to(session, actor, task_id)):
        raise PermissionDeniedError("only those who may work this task may add files to it")
    return _add(session, clock, store, limits, actor=actor, record=record, task=task, filename=filename,
                content=content)


def add_to_case(session: Session, clock: Clock, store: AttachmentStore, limits: AttachmentLimits, *, actor: Actor,
                instance_id: uuid.UUID, filename: str, content: bytes) -> AttachmentInfo:
    """Add a file to a running or suspended case, by someone who may see it.

    Raises: NotFoundError, InstanceStateError, AttachmentTooLargeError, AttachmentTypeError, ValidationError.
    """
    require(actor, Permission.WORK)
    record = visible_instance(session, actor, instance_id)
    if record.status in (InstanceStatus.COMPLETED, InstanceStatus.TERMINATED):
        raise InstanceStateError(f"the case is {record.status}; files are added to open cases",
                                 instance_status=record.status)
    return _add(session, clock, store, limits, actor=actor, record=record, task=None, filename=filename,
                content=content)


def stage(session: Session, clock: Clock, store: AttachmentStore, limits: AttachmentLimits, *, actor: Actor,
          filename: str, content: bytes) -> AttachmentInfo:
    """Keep a file for a start form the actor is filling in; the start binds it to its case.

    Staged files older than the staging time (anyone's) are deleted first, so that abandoned starts
    do not pile up. Raises: AttachmentTooLargeError, AttachmentTypeError, ValidationError.
    """
    require(actor, Permission.START)
    _purge_staged(session, store, clock.now() - timedelta(hours=limits.staged_hours))
    staged = session.scalar(select(func.count()).select_from(Attachment).where(
        Attachment.instance_id.is_(None), Attachment.uploaded_by == actor.username)) or 0
    if staged >= limits.max_per_case:
        raise ValidationError(f"you have {staged} files waiting for a case to start; start it, or wait until "
                              "they expire", field=FIELD)
    row = _stored(session, clock, store, limits, actor=actor, instance_id=None, task_id=None, filename=filename,
                  content=content)
    return AttachmentInfo.of(row)


def list_attachments(session: Session, *, actor: Actor, instance_id: uuid.UUID) -> list[AttachmentInfo]:
    """The case's files, oldest first. Raises: NotFoundError."""
    visible_instance(session, actor, instance_id)
    rows = session.scalars(select(Attachment).where(Attachment.instance_id == instance_id)
                           .order_by(Attachment.uploaded_at, Attachment.attachment_id))
    return [AttachmentInfo.of(row) for row in rows]


def read_attachment(session: Session, store: AttachmentStore, *, actor: Actor, attachment_id: uuid.UUID,
                    thumbnail: bool = False) -> tuple[AttachmentInfo, bytes, str]:
    """The file (or its thumbnail) with its media type, for one who may see its case.

    Raises: NotFoundError (also when the case is not the actor's to see, and for a thumbnail of a
    file that has none).
    """
    row = session.get(Attachment, attachment_id)
    if row is None or not _may_read(session, actor, row) or (thumbnail and not row.has_thumbnail):
        raise NotFoundError(f"no attachment {attachment_id}")
    if thumbnail:
        content = store.get(session, _thumbnail_key(row.attachment_id))
        return AttachmentInfo.of(row), content, thumbnail_type(content)
    return AttachmentInfo.of(row), store.get(session, str(row.attachment_id)), row.content_type


def _add(session: Session, clock: Clock, store: AttachmentStore, limits: AttachmentLimits, *, actor: Actor,
         record: Instance, task: Task | None, filename: str, content: bytes) -> AttachmentInfo:
    count = session.scalar(select(func.count()).select_from(Attachment)
                           .where(Attachment.instance_id == record.instance_id)) or 0
    if count >= limits.max_per_case:
        raise ValidationError(f"this case holds {count} files, the most a case may hold", field=FIELD,
                              limit=limits.max_per_case)
    row = _stored(session, clock, store, limits, actor=actor, instance_id=record.instance_id,
                  task_id=task.task_id if task else None, filename=filename, content=content)
    step = {"element": task.element_id, "name": task.name} if task else {}
    record_added(session, clock, actor=actor.username, attachment=row, definition_key=record.definition_key,
                 step=step)
    flush(session)
    return AttachmentInfo.of(row)


def _stored(session: Session, clock: Clock, store: AttachmentStore, limits: AttachmentLimits, *, actor: Actor,
            instance_id: uuid.UUID | None, task_id: uuid.UUID | None, filename: str, content: bytes) -> Attachment:
    name = _checked_name(filename)
    if len(content) > limits.max_bytes:
        raise AttachmentTooLargeError(f"{shown_name(name)} is larger than {limits.max_bytes} bytes", field=FIELD,
                                      limit=limits.max_bytes)
    kind = sniffed_type(content)
    if kind is None or kind not in limits.types:
        raise AttachmentTypeError(f"{shown_name(name)}: its content is not one of {', '.join(limits.types)}",
                                  field=FIELD, allowed=list(limits.types))
    if name_contradicts(name, kind):
        raise AttachmentTypeError(f"{shown_name(name)}: the name says one type, the content is {kind}; "
                                  "rename the file or upload the right one", field=FIELD, detected=kind)
    thumbnail = thumbnail_of(content, kind)
    row = Attachment(attachment_id=uuid.uuid4(), instance_id=instance_id, task_id=task_id, filename=name,
                     content_type=kind, size_bytes=len(content), sha256=hashlib.sha256(content).hexdigest(),
                     has_thumbnail=thumbnail is not None, uploaded_by=actor.username, uploaded_at=clock.now())
    session.add(row)
    store.put(session, str(row.attachment_id), content)
    if thumbnail is not None:
        store.put(session, _thumbnail_key(row.attachment_id), thumbnail)
    flush(session)
    return row


def _checked_name(filename: str) -> str:
    # Browsers send a bare name; some clients a path. Only the last part is the file's name.
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not name or len(name) > MAX_NAME_CHARACTERS or any(ord(c) < 32 or ord(c) == 127 or "\ud800" <= c <= "\udfff"
                                                         for c in name):
        raise ValidationError(f"{shown_name(name) or '(no name)'}: a file name has 1 to {MAX_NAME_CHARACTERS} "
                              "characters and no control characters", field=FIELD)
    return name


def _purge_staged(session: Session, store: AttachmentStore, before: datetime) -> None:
    stale = session.scalars(select(Attachment).where(Attachment.instance_id.is_(None),
                                                     Attachment.uploaded_at < before)).all()
    for row in stale:
        store.delete(session, str(row.attachment_id))
        store.delete(session, _thumbnail_key(row.attachment_id))
        session.delete(row)


def _may_read(session: Session, actor: Actor, row: Attachment) -> bool:
    if row.instance_id is None:
        return row.uploaded_by == actor.username
    try:
        visible_instance(session, actor, row.instance_id)
    except NotFoundError:
        return False
    return True



def _thumbnail_key(attachment_id: uuid.UUID) -> str:
    return f"{attachment_id}.thumbnail"
