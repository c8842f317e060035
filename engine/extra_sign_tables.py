"""Storage of 加签 (an extra signer a task's holder adds for this case only): engine/extra_signs.py."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.table_base import Base


class ExtraSign(Base):
    """One extra approval asked of a named colleague on one task: before or after its holder decides."""

    __tablename__ = "extra_signs"
    __table_args__ = (Index(None, "signer", "status"), Index(None, "task_id", "status"))
    sign_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    instance_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("instances.instance_id", ondelete="CASCADE"))
    # Orders the INSERTs only (see engine.tables.Instance); unannotated, since engine.tables imports this module.
    instance = relationship("Instance", lazy="raise")
    task_id: Mapped[uuid.UUID] = mapped_column(Uuid)  # the holder's task the sign belongs to
    position: Mapped[str] = mapped_column(String(8))  # engine.states.SignPosition
    signer: Mapped[str] = mapped_column(String(64))
    requested_by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # engine.states.SignStatus
    # After: the holder's completion, held until the signer approves (then the task completes with it).
    held_data: Mapped[dict[str, Any] | None]
    opinion: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    decided_at: Mapped[datetime | None]
