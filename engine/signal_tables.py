"""The waiting signal catches: an instance's signal catch or boundary event, so a broadcast finds its receivers without loading workflows.

Kept apart from `engine/tables.py`; both share one `Base`, so Alembic and the migration test see every table.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.table_base import Base


class SignalSubscription(Base):
    __tablename__ = "signal_subscriptions"
    __table_args__ = (Index(None, "signal_name"), Index(None, "instance_id"))
    task_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)  # the waiting catch or boundary event
    instance_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("instances.instance_id", ondelete="CASCADE"))
    # Orders the INSERTs only (see engine.tables.Instance); unannotated, since engine.tables imports this module.
    instance = relationship("Instance", lazy="raise")
    signal_name: Mapped[str] = mapped_column(String(200))
    element_id: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
