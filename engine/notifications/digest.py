"""The daily digest and the outbox's retention: two scheduler ticks.

A person may ask for some event kinds (or all, "*") in one mail a day instead of one mail each.
The outbox writes those mails with the status `digest`, so the dispatcher walks past them, while
the in-app row goes at once as ever (the bell tells of everything when it happens). At the digest
hour of each working day (business calendar, China time) `send_digests` gathers each person's
waiting mails into one digest row, which the dispatcher sends like any other mail. Its id comes
from the person and the day, so two schedulers (or a tick run twice) cannot make two digests for
one person on one day; mails arriving after the day's digest wait for the next working day's.

`purge_notifications` deletes what was told long ago, in short transactions of a batch each;
dead letters stay until an admin resends them, and nothing waiting is touched.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from engine.business_calendar import LOCAL, is_working_day
from engine.clock import Clock
from engine.notifications.kinds import DIGEST_KIND, Channel
from engine.states import NotificationStatus
from engine.tables import Notification

_DIGEST_IDS = uuid.UUID("5d0c3a52-6a0e-4a57-9d4e-7f3b1c2e9a10")  # namespace of the per-person-per-day ids
_ITEM_FIELDS = ("business_key", "task_name", "step_name", "deadline_name", "due_at", "customer_name", "link")


def digest_id(username: str, day: str) -> uuid.UUID:
    return uuid.uuid5(_DIGEST_IDS, f"{username}:{day}")


def send_digests(factory: sessionmaker[Session], clock: Clock, *, hour: int, limit: int = 5000) -> int:
    """At or after `hour` on a working day, turn each person's waiting mails into one digest; returns how many."""
    now = clock.now()
    local = now.astimezone(LOCAL)
    with factory() as session, session.begin():
        if local.hour < hour or not is_working_day(session, local.date()):
            return 0
        query = (select(Notification).where(Notification.status == NotificationStatus.DIGEST,
                                            Notification.created_at <= now)
                 .order_by(Notification.recipient, Notification.created_at, Notification.notification_id).limit(limit))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        waiting: dict[str, list[Notification]] = defaultdict(list)
        for row in session.scalars(query):
            waiting[row.recipient or ""].append(row)
        day = local.date().isoformat()
        ids = {username: digest_id(username, day) for username in waiting}
        sent_today = set(session.scalars(select(Notification.notification_id)
                                         .where(Notification.notification_id.in_(list(ids.values())))))
        made = 0
        for username, rows in waiting.items():
            if ids[username] in sent_today:
                continue  # today's digest is made: these wait for the next working day's
            session.add(_digest_row(ids[username], username, rows, day, now))
            for row in rows:
                row.status, row.sent_at, row.last_error = NotificationStatus.SENT, now, None
                row.subject = f"in the digest of {day}"
            made += 1
    return made


def _digest_row(notification_id: uuid.UUID, username: str, rows: list[Notification], day: str,
                now: datetime) -> Notification:
    latest = rows[-1]  # the address and language as the person last set them
    items: list[dict[str, Any]] = [
        {"event_kind": row.event_kind, **{name: row.context.get(name) for name in _ITEM_FIELDS}} for row in rows]
    return Notification(
        notification_id=notification_id, event_kind=DIGEST_KIND, channel=Channel.EMAIL.value, recipient=username,
        group_id=None, target=latest.target, language=latest.language, instance_id=None, task_id=None,
        context={"day": day, "count": len(items), "items": items, "link": "/notifications"},
        status=NotificationStatus.PENDING, attempts=0, next_attempt_at=now, created_at=now)


def purge_notifications(factory: sessionmaker[Session], clock: Clock, *, retention_days: float,
                        batch: int = 500) -> int:
    """Delete rows told (sent, read or not) more than `retention_days` ago, a batch per transaction; returns how many."""
    cutoff = clock.now() - timedelta(days=retention_days)
    removed = 0
    while True:
        with factory() as session, session.begin():
            query = (select(Notification.notification_id)
                     .where(Notification.status == NotificationStatus.SENT, Notification.created_at < cutoff)
                     .limit(batch))
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            ids = list(session.scalars(query))
            if ids:
                session.execute(delete(Notification).where(Notification.notification_id.in_(ids)))
        removed += len(ids)
        if len(ids) < batch:
            return removed
