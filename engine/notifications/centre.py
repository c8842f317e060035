"""The notification centre: a person's in-app notifications, the bell's count, and their settings."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.audit import record_event
from engine.clock import Clock
from engine.errors import NotFoundError, ValidationError
from engine.identity import Actor
from engine.notifications.kinds import EVERY_KIND, PERSONAL_CHANNELS, EventKind
from engine.states import NotificationStatus
from engine.tables import Notification, NotificationSetting

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
PHONE = re.compile(r"^\+?[0-9 -]{5,31}$")
LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class InAppNotification:
    notification_id: uuid.UUID
    event_kind: str
    subject: str
    body: str
    link: str | None
    task_id: uuid.UUID | None
    instance_id: uuid.UUID | None
    created_at: datetime
    read_at: datetime | None


@dataclass(frozen=True)
class Preferences:
    email: str | None
    phone: str | None
    language: str | None
    channels: dict[str, list[str]]
    quiet_hours: bool
    digest: list[str]


def _mine(actor: Actor) -> Any:
    # Only rows the dispatcher rendered (sent) are shown: their text is the text that was told.
    return ((Notification.recipient == actor.username) & (Notification.channel == "in_app")
            & (Notification.status == NotificationStatus.SENT))


def list_notifications(session: Session, *, actor: Actor, unread_only: bool = False,
                       limit: int = 50) -> list[InAppNotification]:
    query = select(Notification).where(_mine(actor))
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    rows = session.scalars(query.order_by(Notification.created_at.desc(), Notification.notification_id).limit(limit))
    return [InAppNotification(r.notification_id, r.event_kind, r.subject or "", r.body or "",
                              r.context.get("link"), r.task_id, r.instance_id, r.created_at, r.read_at) for r in rows]


def unread_count(session: Session, *, actor: Actor) -> int:
    return int(session.scalar(select(func.count()).select_from(Notification)
                              .where(_mine(actor), Notification.read_at.is_(None))) or 0)


def mark_read(session: Session, clock: Clock, *, actor: Actor, notification_id: uuid.UUID) -> None:
    """Raises: NotFoundError (also for someone else's notification: its existence is not theirs to learn)."""
    row = session.scalar(select(Notification).where(_mine(actor), Notification.notification_id == notification_id))
    if row is None:
        raise NotFoundError(f"no notification {notification_id}")
    row.read_at = row.read_at or clock.now()
    session.flush()


def mark_all_read(session: Session, clock: Clock, *, actor: Actor) -> int:
    rows = list(session.scalars(select(Notification).where(_mine(actor), Notification.read_at.is_(None))))
    for row in rows:
        row.read_at = clock.now()
    session.flush()
    return len(rows)


def get_preferences(session: Session, *, username: str) -> Preferences:
    row = session.get(NotificationSetting, username)
    if row is None:
        return Preferences(None, None, None, {}, False, [])
    return Preferences(row.email, row.phone, row.language, dict(row.channels), row.quiet_hours, list(row.digest))


def set_preferences(session: Session, clock: Clock, *, actor: Actor, username: str, email: str | None,
                    phone: str | None, language: str | None, channels: dict[str, list[str]],
                    quiet_hours: bool, digest: list[str] | None = None) -> Preferences:
    """A person's addresses and channels (they, or an admin for them). Raises: ValidationError."""
    if email and not EMAIL.match(email):
        raise ValidationError(f"'{email}' is not a mail address", field="email")
    if phone and not PHONE.match(phone):
        raise ValidationError(f"'{phone}' is not a phone number (digits, an optional leading +)", field="phone")
    if language is not None and language not in LANGUAGES:
        raise ValidationError("language is 'zh', 'en' or null (both)", field="language")
    checked_channels = check_channels(channels)
    checked_digest = check_digest(digest or [])
    row = session.get(NotificationSetting, username) or NotificationSetting(username=username, channels={})
    row.email, row.phone, row.language = email or None, phone or None, language
    row.channels, row.quiet_hours, row.updated_at = checked_channels, quiet_hours, clock.now()
    row.digest = checked_digest
    session.add(row)
    record_event(session, clock, actor=actor.username, event_type="notification_settings_changed",
                 data={"username": username, "channels": checked_channels, "quiet_hours": quiet_hours,
                       "digest": checked_digest})
    session.flush()
    return get_preferences(session, username=username)


DEMO_MAIL_DOMAIN = "demo.tixi.invalid"  # .invalid: a mail that escapes the local sink reaches nobody


def give_demo_addresses(session: Session, clock: Clock, *, usernames: list[str]) -> int:
    """Demo users without settings get `<name>@demo.tixi.invalid`, so `make run` shows the mail it would send."""
    have = set(session.scalars(select(NotificationSetting.username).where(NotificationSetting.username.in_(usernames))))
    added = [name for name in usernames if name not in have]
    session.add_all(NotificationSetting(username=name, email=f"{name}@{DEMO_MAIL_DOMAIN}", channels={},
                                        quiet_hours=False, digest=[], updated_at=clock.now()) for name in added)
    session.flush()
    return len(added)


def check_digest(kinds: list[str]) -> list[str]:
    """The event kinds whose mails go in the daily digest ("*": all). Raises: ValidationError naming the kind."""
    known = {k.value for k in EventKind} | {EVERY_KIND}
    for kind in kinds:
        if kind not in known:
            raise ValidationError(f"unknown event kind '{kind}' in digest; known: {', '.join(sorted(known))}",
                                  field="digest")
    return list(dict.fromkeys(kinds))


def check_channels(channels: dict[str, list[str]]) -> dict[str, list[str]]:
    """Raises: ValidationError naming the unknown event kind or channel."""
    kinds = {k.value for k in EventKind}
    allowed = {c.value for c in PERSONAL_CHANNELS}
    for kind, chosen in channels.items():
        if kind not in kinds:
            raise ValidationError(f"unknown event kind '{kind}'; known: {', '.join(sorted(kinds))}",
                                  field=f"channels.{kind}"[:200])
        for channel in chosen:
            if channel not in allowed:
                raise ValidationError(f"unknown channel '{channel}'; choose from {', '.join(sorted(allowed))}",
                                      field=f"channels.{kind}")
    return {kind: list(dict.fromkeys(chosen)) for kind, chosen in channels.items()}
