"""Storage tables of attachments: what each file is (name, type, size, hash, who added it where) and,
for the database store, its bytes.

Kept apart from `engine/tables.py` like the organisation's tables; both share one `Base`.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.table_base import Base


class Attachment(Base):
    """A file on a case (photos of the defect, the purchase invoice, the signed agreement).

    `instance_id` is empty while the file is staged for a start form: it is bound to the case the
    start creates, in the start's transaction, or deleted once it is older than the staging time.
    """

    __tablename__ = "attachments"
    __table_args__ = (Index(None, "instance_id", "uploaded_at"), Index(None, "uploaded_by", "uploaded_at"))
    attachment_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    instance_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("instances.instance_id"))
    # Orders the INSERTs only (see engine.tables.Instance); unannotated, since engine.tables imports this module.
    instance = relationship("Instance", lazy="raise")
    task_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # the step it was added at; none: the case itself
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))  # sniffed from the bytes, never taken from the client
    size_bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    has_thumbnail: Mapped[bool] = mapped_column(default=False)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime]


class AttachmentBlob(Base):
    """The bytes behind a key of the database attachment store (a file, or its thumbnail)."""

    __tablename__ = "attachment_blobs"
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    content: Mapped[bytes] = mapped_column(LargeBinary)
