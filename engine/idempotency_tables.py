"""Storage of `Idempotency-Key` answers (engine/idempotency.py): the first answer to a retried request."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.table_base import Base


class IdempotentAnswer(Base):
    """What a person's request with a key was answered, kept until it expires (keys are per person)."""

    __tablename__ = "idempotent_answers"
    __table_args__ = (Index(None, "expires_at"),)
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of the method, path and body
    status_code: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
