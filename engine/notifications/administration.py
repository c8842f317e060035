"""What admins do with notifications: groups' webhooks and default channels, dead letters and resending."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import record_event
from engine.clock import Clock
from engine.errors import ConflictError, NotFoundError, ValidationError
from engine.identity import Actor
from engine.notifications.centre import check_channels
from engine.notifications.kinds import WebhookKind
from engine.permissions import Permission, require
from engine.states import NotificationStatus
from engine.tables import Group, GroupNotificationDefault, Notification, WebhookEndpoint


@dataclass(frozen=True)
class EndpointInfo:
    endpoint_id: uuid.UUID
    group_id: str
    kind: str
    url: str
    has_secret: bool  # the secret itself is never read back
    outlet_code: str | None
    is_active: bool
    created_at: datetime


@dataclass(frozen=True)
class DeadLetter:
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


def _endpoint_info(row: WebhookEndpoint) -> EndpointInfo:
    return EndpointInfo(row.endpoint_id, row.group_id, row.kind, _shown_url(row.url), bool(row.secret),
                        row.outlet_code, row.is_active, row.created_at)


def _shown_url(url: str) -> str:
    # A WeCom robot's key and a DingTalk robot's access token are in the query: they are secrets too.
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?…" if parts.query else "")


def list_endpoints(session: Session, *, actor: Actor, group_id: str | None = None) -> list[EndpointInfo]:
    require(actor, Permission.ADMINISTER)
    query = select(WebhookEndpoint).order_by(WebhookEndpoint.group_id, WebhookEndpoint.created_at)
    if group_id:
        query = query.where(WebhookEndpoint.group_id == group_id)
    return [_endpoint_info(r) for r in session.scalars(query)]


def add_endpoint(session: Session, clock: Clock, *, actor: Actor, group_id: str, kind: str, url: str,
                 secret: str | None, outlet_code: str | None = None) -> EndpointInfo:
    """Raises: PermissionDeniedError, ValidationError."""
    require(actor, Permission.ADMINISTER)
    if session.get(Group, group_id) is None:
        raise ValidationError(f"no group '{group_id}'", field="group_id")
    if kind not in {k.value for k in WebhookKind}:
        raise ValidationError(f"kind is one of {', '.join(k.value for k in WebhookKind)}", field="kind")
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and len(url) <= 2000
    except ValueError:  # e.g. an unclosed IPv6 bracket
        valid = False
    if not valid:
        raise ValidationError("url must be an http(s) URL with a host, of at most 2000 characters", field="url")
    if secret is not None and not 1 <= len(secret) <= 200:
        raise ValidationError("secret has 1 to 200 characters", field="secret")
    row = WebhookEndpoint(endpoint_id=uuid.uuid4(), group_id=group_id, kind=kind, url=url, secret=secret or None,
                          outlet_code=outlet_code or None, is_active=True, created_at=clock.now())
    session.add(row)
    record_event(session, clock, actor=actor.username, event_type="webhook_added",
                 data={"endpoint_id": str(row.endpoint_id), "group_id": group_id, "kind": kind,
                       "url": _shown_url(url), "outlet_code": row.outlet_code})
    session.flush()
    return _endpoint_info(row)


def remove_endpoint(session: Session, clock: Clock, *, actor: Actor, endpoint_id: uuid.UUID) -> None:
    """Turns it off (rows already written for it become dead letters naming why). Raises: NotFoundError."""
    require(actor, Permission.ADMINISTER)
    row = session.get(WebhookEndpoint, endpoint_id)
    if row is None or not row.is_active:
        raise NotFoundError(f"no webhook {endpoint_id}")
    row.is_active = False
    record_event(session, clock, actor=actor.username, event_type="webhook_removed",
                 data={"endpoint_id": str(endpoint_id), "group_id": row.group_id})
    session.flush()


def set_group_defaults(session: Session, clock: Clock, *, actor: Actor, group_id: str,
                       channels: dict[str, list[str]]) -> dict[str, list[str]]:
    """The channels per event kind of the group's members who chose none. Raises: NotFoundError, ValidationError."""
    require(actor, Permission.ADMINISTER)
    if session.get(Group, group_id) is None:
        raise NotFoundError(f"no group '{group_id}'")
    checked = check_channels(channels)
    row = session.get(GroupNotificationDefault, group_id) or GroupNotificationDefault(group_id=group_id)
    row.channels, row.updated_at = checked, clock.now()
    session.add(row)
    record_event(session, clock, actor=actor.username, event_type="group_notification_defaults_changed",
                 data={"group_id": group_id, "channels": checked})
    session.flush()
    return checked


def get_group_defaults(session: Session, *, actor: Actor, group_id: str) -> dict[str, list[str]]:
    require(actor, Permission.ADMINISTER)
    if session.get(Group, group_id) is None:
        raise NotFoundError(f"no group '{group_id}'")
    row = session.get(GroupNotificationDefault, group_id)
    return dict(row.channels) if row else {}


def list_dead_letters(session: Session, *, actor: Actor, limit: int = 200) -> list[DeadLetter]:
    require(actor, Permission.ADMINISTER)
    rows = session.scalars(select(Notification).where(Notification.status == NotificationStatus.DEAD)
                           .order_by(Notification.created_at.desc(), Notification.notification_id).limit(limit))
    return [DeadLetter(r.notification_id, r.event_kind, r.channel, r.recipient, r.group_id, r.target, r.attempts,
                       r.last_error, r.instance_id, r.task_id, r.created_at, r.subject) for r in rows]


def resend(session: Session, clock: Clock, *, actor: Actor, notification_id: uuid.UUID) -> None:
    """Put a dead letter back in the outbox with a fresh count of attempts (same id: same idempotency key).

    Raises: PermissionDeniedError, NotFoundError, ConflictError (it is not dead).
    """
    require(actor, Permission.ADMINISTER)
    row = session.get(Notification, notification_id)
    if row is None:
        raise NotFoundError(f"no notification {notification_id}")
    if row.status != NotificationStatus.DEAD:
        raise ConflictError(f"notification {notification_id} is {row.status}, not a dead letter", status=row.status)
    row.status, row.attempts, row.next_attempt_at = NotificationStatus.PENDING, 0, clock.now()
    record_event(session, clock, actor=actor.username, event_type="notification_resent",
                 instance_id=row.instance_id, task_id=row.task_id,
                 data={"notification_id": str(notification_id), "channel": row.channel, "last_error": row.last_error})
    session.flush()
