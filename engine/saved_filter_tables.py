"""Storage of the inbox filters people save under a name (issue 16's saved filters)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import String, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from engine.table_base import Base


class SavedFilter(Base):
    """One person's named inbox filter; the names are unique per person, so saving a name again replaces it."""

    __tablename__ = "saved_filters"
    __table_args__ = (UniqueConstraint("username", "name"),)
    filter_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(80))
    query: Mapped[dict[str, Any]]  # the inbox's own parameters (engine.saved_filters.FILTER_FIELDS)
    created_at: Mapped[datetime]
