"""Storage tables of notifications: the outbox, webhook endpoints, people's and groups' preferences.

Kept apart from `engine/tables.py` (the engine's own rows) so each file stays readable; both share
one `Base`, so Alembic and the migration test see every table.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from engine.table_base import Base


class Notification(Base):
    """The outbox: one message to one recipient over one channel, written in the transaction of its cause.

    Its id is the idempotency key every channel carries (Message-ID, Idempotency-Key), so a message
    sent again after a crash between sending and marking is recognised by its receiver.
    """

    __tablename__ = "notifications"
    __table_args__ = (
        Index(None, "status", "next_attempt_at"),  # the dispatcher's claim
        Index(None, "recipient", "channel", "status"),  # the notification centre and its bell
        Index(None, "instance_id"),
    )
    notification_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    event_kind: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(String(16))  # in_app | email | webhook | sms
    recipient: Mapped[str | None] = mapped_column(String(64))  # a username; None for a group's webhook
    group_id: Mapped[str | None] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(500))  # address, phone, webhook endpoint id or username
    language: Mapped[str | None] = mapped_column(String(8))  # zh | en; None: both
    instance_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    task_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    context: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))  # pending | sending | sent | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(Text)  # as rendered at the last attempt
    body: Mapped[str | None] = mapped_column(Text)
    read_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class WebhookEndpoint(Base):
    """A group's chat robot or webhook (WeCom, DingTalk or a generic signed JSON POST), set by admins."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index(None, "group_id"),)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.group_id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # generic | wecom | dingtalk
    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str | None] = mapped_column(String(200))
    # A robot in one outlet's chat hears only of that outlet's cases: one outlet never sees another's customers.
    outlet_code: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


class NotificationSetting(Base):
    """A user's addresses and choices: channels per event kind, language, quiet hours."""

    __tablename__ = "notification_settings"
    username: Mapped[str] = mapped_column(ForeignKey("users.username", ondelete="CASCADE"), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    language: Mapped[str | None] = mapped_column(String(8))
    channels: Mapped[dict[str, Any]] = mapped_column(default=dict)  # event kind -> list of channels
    quiet_hours: Mapped[bool] = mapped_column(default=False)  # reminders wait for working time
    # Event kinds ("*": all) whose mails wait for one digest a working day; the in-app row still goes at once.
    digest: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    updated_at: Mapped[datetime]


class GroupNotificationDefault(Base):
    """The channels per event kind of a group's members who chose none themselves, set by admins."""

    __tablename__ = "group_notification_defaults"
    group_id: Mapped[str] = mapped_column(ForeignKey("groups.group_id", ondelete="CASCADE"), primary_key=True)
    channels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]
