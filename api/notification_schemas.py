"""Wire shapes of the notification routes (api/routes/notifications.py), apart from api/schemas.py."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from api.schemas import In, Out
from engine.notifications.administration import DeadLetter, EndpointInfo
from engine.notifications.centre import InAppNotification, Preferences


class NotificationOut(Out):
    notification_id: uuid.UUID
    event_kind: str
    subject: str
    body: str
    link: str | None = Field(description="the task's or case's page, relative to the server")
    task_id: uuid.UUID | None
    instance_id: uuid.UUID | None
    created_at: datetime
    read_at: datetime | None

    @classmethod
    def of(cls, item: InAppNotification) -> NotificationOut:
        return cls(**item.__dict__)


class NotificationListOut(Out):
    unread: int
    items: list[NotificationOut]


class UnreadOut(Out):
    unread: int


class PreferencesIn(In):
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=32)
    language: str | None = Field(default=None, max_length=8, description="zh, en, or null for both")
    channels: dict[str, list[str]] = Field(default_factory=dict, max_length=20,
                                           description="event kind -> channels (in_app, email, sms)")
    quiet_hours: bool = Field(default=False, description="reminders wait for working time; breaches do not")
    digest: list[str] = Field(default_factory=list, max_length=20,
                              description="event kinds (\"*\": all) mailed in one digest a working day, not one by one")


class PreferencesOut(Out):
    email: str | None
    phone: str | None
    language: str | None
    channels: dict[str, list[str]]
    quiet_hours: bool
    digest: list[str]

    @classmethod
    def of(cls, item: Preferences) -> PreferencesOut:
        return cls(**item.__dict__)


class WebhookIn(In):
    group_id: str = Field(max_length=64)
    kind: str = Field(default="generic", max_length=16, description="generic, wecom or dingtalk")
    url: str = Field(max_length=2000)
    secret: str | None = Field(default=None, max_length=200)
    outlet_code: str | None = Field(default=None, max_length=200,
                                    description="only cases of this outlet (a robot in one outlet's chat)")


class WebhookOut(Out):
    endpoint_id: uuid.UUID
    group_id: str
    kind: str
    url: str
    has_secret: bool
    outlet_code: str | None
    is_active: bool
    created_at: datetime

    @classmethod
    def of(cls, item: EndpointInfo) -> WebhookOut:
        return cls(**item.__dict__)


class GroupDefaultsIn(In):
    channels: dict[str, list[str]] = Field(max_length=20)


class GroupDefaultsOut(Out):
    group_id: str
    channels: dict[str, list[str]]


class DeadLetterOut(Out):
    notification_id: uuid.UUID
    event_kind: str
    channel: str
    recipient: str | None
    group_id: str | None
    target: str
    attempts: int
    last_error: str | None
    instance_id: uuid.UUID | None
    task_id: uuid.UUID | None
    created_at: datetime
    subject: str | None

    @classmethod
    def of(cls, item: DeadLetter) -> DeadLetterOut:
        return cls(**item.__dict__)
