"""The dispatcher: claim due outbox rows, send them outside any transaction, mark them.

Three steps, each public so a test can stop between them (a dispatcher killed after sending):
1. `claim_batch` locks due rows (FOR UPDATE SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite),
   marks them `sending` with the time and commits: another dispatcher walks past them.
2. `send_batch` renders and sends each, holding no database connection: a slow SMTP server or a
   hanging webhook holds no lock and no transaction.
3. `record_outcomes` marks each sent, or due again after exponential backoff with jitter, or dead
   after the last attempt, in a new transaction.
A row left `sending` longer than the lease (its dispatcher died) is claimed again and sent again
with the same idempotency key (its id), so the receiver sees a copy it can drop, never a loss.
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from engine.clock import Clock
from engine.config import EngineConfig
from engine.notifications.errors import DeliveryError
from engine.notifications.kinds import Channel
from engine.notifications.mail import MailBatch
from engine.notifications.rendering import Renderer, TemplateProblem
from engine.notifications.webhooks import Endpoint, post_sms, post_webhook
from engine.states import NotificationStatus
from engine.tables import Notification, WebhookEndpoint

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outgoing:
    """A claimed row, as the send step needs it (no ORM object crosses into it)."""

    notification_id: uuid.UUID
    event_kind: str
    channel: str
    target: str
    language: str | None
    context: dict[str, Any]
    endpoint: Endpoint | None = None


@dataclass(frozen=True)
class Outcome:
    notification_id: uuid.UUID
    error: str | None = None  # None: delivered
    permanent: bool = False
    subject: str | None = None
    body: str | None = None


@dataclass
class Dispatcher:
    """What sending needs, built once per worker: configuration, templates, an HTTP client."""

    config: EngineConfig
    clock: Clock
    renderer: Renderer = field(init=False)
    http: httpx.Client = field(init=False)
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        self.renderer = Renderer(self.config.notification_templates_dir, public_url=self.config.public_url)
        self.http = httpx.Client(timeout=self.config.webhook_timeout_seconds, follow_redirects=False)

    def close(self) -> None:
        self.http.close()


def dispatch_notifications(factory: sessionmaker[Session], dispatcher: Dispatcher) -> int:
    """One tick: claim, send, mark; returns how many rows were handled (sent, retried or dead)."""
    claimed = claim_batch(factory, dispatcher.clock, limit=dispatcher.config.notify_batch_size,
                          lease=timedelta(seconds=dispatcher.config.notify_lease_seconds),
                          max_attempts=dispatcher.config.notify_max_attempts)
    if not claimed:
        return 0
    outcomes = send_batch(dispatcher, claimed)
    record_outcomes(factory, dispatcher, outcomes)
    return len(outcomes)


def claim_batch(factory: sessionmaker[Session], clock: Clock, *, limit: int, lease: timedelta,
                max_attempts: int = 5) -> list[Outgoing]:
    with factory() as session, session.begin():
        now = clock.now()
        query = (
            select(Notification)
            .where(or_(and_(Notification.status == NotificationStatus.PENDING, Notification.next_attempt_at <= now),
                       and_(Notification.status == NotificationStatus.SENDING, Notification.claimed_at <= now - lease)))
            .order_by(Notification.next_attempt_at, Notification.notification_id)
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = list(session.scalars(query))
        endpoints = _endpoints(session, [r.target for r in rows if r.channel == Channel.WEBHOOK])
        claimed = []
        for row in rows:
            if row.status == NotificationStatus.SENDING and row.attempts >= max_attempts:
                # Its dispatchers died while sending it every time: it may be what kills them.
                row.status = NotificationStatus.DEAD
                row.last_error = f"the dispatcher stopped while sending it, {row.attempts} time(s)"
                continue
            row.status, row.claimed_at, row.attempts = NotificationStatus.SENDING, now, row.attempts + 1
            claimed.append(Outgoing(row.notification_id, row.event_kind, row.channel, row.target, row.language,
                                    dict(row.context), endpoints.get(row.target)))
        return claimed


def send_batch(dispatcher: Dispatcher, claimed: list[Outgoing]) -> list[Outcome]:
    """Render and send every claimed row; never raises for one row's failure."""
    outcomes = []
    with MailBatch(dispatcher.config, dispatcher.clock) as mail:
        for item in claimed:
            try:
                rendered = dispatcher.renderer.render(item.event_kind, item.context, language=item.language)
            except TemplateProblem as problem:
                outcomes.append(Outcome(item.notification_id, error=str(problem)))
                continue
            try:
                _send(dispatcher, mail, item, rendered.subject, rendered.body)
            except DeliveryError as error:
                outcomes.append(Outcome(item.notification_id, error=error.reason, permanent=error.permanent,
                                        subject=rendered.subject, body=rendered.body))
                continue
            except Exception as error:  # a bug or a library's surprise must not stall the batch: retried, then dead
                log.exception("sending notification %s failed unexpectedly", item.notification_id)
                outcomes.append(Outcome(item.notification_id, error=f"unexpected {type(error).__name__}: {error}",
                                        subject=rendered.subject, body=rendered.body))
                continue
            outcomes.append(Outcome(item.notification_id, subject=rendered.subject, body=rendered.body))
    return outcomes


def _send(dispatcher: Dispatcher, mail: MailBatch, item: Outgoing, subject: str, body: str) -> None:
    key = str(item.notification_id)
    if item.channel == Channel.IN_APP:
        return  # the notification centre shows the rendered text once the row is marked sent
    if item.channel in (Channel.EMAIL, Channel.SMS) and not item.target.strip():
        # A designer's notice whose case variable held no address, resent by an admin: still nowhere to go.
        raise DeliveryError("no address to send to", permanent=True)
    if item.channel == Channel.EMAIL:
        mail.send(notification_id=key, to=item.target, subject=subject, body=body)
    elif item.channel == Channel.SMS:
        config = dispatcher.config
        post_sms(dispatcher.http, dispatcher.clock, gateway_url=config.sms_gateway_url,
                 secret=config.sms_gateway_secret or None, notification_id=key, phone=item.target,
                 text=f"{subject}\n{body}"[:500])
    elif item.channel == Channel.WEBHOOK:
        if item.endpoint is None:
            raise DeliveryError("the group's webhook was removed or turned off", permanent=True)
        post_webhook(dispatcher.http, dispatcher.clock, item.endpoint, notification_id=key,
                     event_kind=item.event_kind, subject=subject, body=body, context=item.context,
                     link=dispatcher.config.public_url.rstrip("/") + str(item.context.get("link") or ""))
    else:
        raise DeliveryError(f"unknown channel '{item.channel}'", permanent=True)


def record_outcomes(factory: sessionmaker[Session], dispatcher: Dispatcher, outcomes: list[Outcome]) -> None:
    config = dispatcher.config
    counts = {NotificationStatus.SENT: 0, NotificationStatus.PENDING: 0, NotificationStatus.DEAD: 0}
    with factory() as session, session.begin():
        now = dispatcher.clock.now()
        rows = {r.notification_id: r for r in session.scalars(
            select(Notification).where(Notification.notification_id.in_([o.notification_id for o in outcomes])))}
        for outcome in outcomes:
            row = rows.get(outcome.notification_id)
            if row is None or row.status != NotificationStatus.SENDING:
                continue  # an admin resent or another dispatcher re-claimed it meanwhile: theirs to mark
            row.subject, row.body = outcome.subject or row.subject, outcome.body or row.body
            if outcome.error is None:
                row.status, row.sent_at, row.last_error = NotificationStatus.SENT, now, None
            elif outcome.permanent or row.attempts >= config.notify_max_attempts:
                row.status, row.last_error = NotificationStatus.DEAD, outcome.error
                log.warning("notification %s is a dead letter after %d attempt(s): %s", row.notification_id,
                            row.attempts, outcome.error)
            else:
                row.status, row.last_error = NotificationStatus.PENDING, outcome.error
                row.next_attempt_at = now + backoff(row.attempts, config, dispatcher.rng)
            counts[NotificationStatus(row.status)] += 1
    log.info("notifications: %d sent, %d to retry, %d dead", counts[NotificationStatus.SENT],
             counts[NotificationStatus.PENDING], counts[NotificationStatus.DEAD])


def backoff(attempts: int, config: EngineConfig, rng: random.Random) -> timedelta:
    """Exponential in the attempts made, capped, with jitter so that failed rows do not retry in step."""
    base = min(config.notify_backoff_seconds * 2 ** (attempts - 1), config.notify_backoff_max_seconds)
    return timedelta(seconds=base * (0.5 + rng.random() / 2))


def _endpoints(session: Session, targets: list[str]) -> dict[str, Endpoint]:
    ids = []
    for target in targets:
        try:
            ids.append(uuid.UUID(target))
        except ValueError:
            continue
    if not ids:
        return {}
    rows = session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.endpoint_id.in_(ids),
                                                         WebhookEndpoint.is_active.is_(True)))
    return {str(r.endpoint_id): Endpoint(r.kind, r.url, r.secret) for r in rows}

