"""Writing the outbox: the one module engine operations call when something worth telling happens.

Rows are added to the caller's session and commit (or roll back) with the change that caused
them, so a change that is rolled back tells no one. Who hears of it and over which channels is
decided here, once, from the task's groups and the people's settings; the dispatcher only delivers.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.business_calendar import working_time_after
from engine.identity import Actor
from engine.notifications.kinds import (
    DEFAULT_CHANNELS,
    GROUP_KINDS,
    WAITS_FOR_WORKING_TIME,
    Channel,
    EventKind,
)
from engine.states import NotificationStatus
from engine.tables import (
    Deadline,
    GroupNotificationDefault,
    Instance,
    Membership,
    Notification,
    NotificationSetting,
    Task,
    User,
    WebhookEndpoint,
)
from engine.visibility import case_allows

# `@name` where name is a username (engine/identity.py USERNAME); a sentence's full stop is not part of it.
MENTION = re.compile(r"(?<![\w@])@([a-z][a-z0-9_.-]{1,63})")


def task_context(record: Instance, task: Task, **extra: Any) -> dict[str, Any]:
    """What templates may show of a task and its case (JSON, stored with the row)."""
    return {
        "business_key": record.business_key, "process_key": record.definition_key,
        "instance_id": str(record.instance_id), "task_id": str(task.task_id), "task_name": task.name,
        "element_id": task.element_id, "due_at": task.due_at.isoformat() if task.due_at else None,
        "customer_name": record.customer_name, "outlet_code": record.outlet_code, "link": f"/tasks/{task.task_id}",
        **extra,
    }


def notify_task_created(session: Session, *, record: Instance, task: Task, groups: Sequence[str], actor: str,
                        now: datetime) -> None:
    """A new task: its assignee hears it is theirs, or else its groups' members and webhooks that it is queued."""
    context = task_context(record, task, actor=actor)
    if task.assignee:
        _to_users(session, EventKind.TASK_ASSIGNED, [task.assignee], record=record, task_id=task.task_id,
                  context=context, now=now, exclude=actor)
        return
    _to_groups(session, EventKind.TASK_QUEUED, groups, record=record, task_id=task.task_id, context=context,
               now=now, exclude=actor)


def notify_task_handed_on(session: Session, *, record: Instance, task: Task, assignee: str, actor: str,
                          delegated: bool, now: datetime, returned: bool = False) -> None:
    kind = EventKind.TASK_RETURNED if returned else EventKind.TASK_DELEGATED if delegated else EventKind.TASK_ASSIGNED
    _to_users(session, kind, [assignee], record=record, task_id=task.task_id,
              context=task_context(record, task, actor=actor), now=now, exclude=actor)


def notify_case_ended(session: Session, *, record: Instance, actor: str, outcome: str | None, now: datetime) -> None:
    """The person who started the case hears how it ended (unless they ended it themselves)."""
    context = {"business_key": record.business_key, "process_key": record.definition_key,
               "instance_id": str(record.instance_id), "status": record.status, "outcome": outcome, "actor": actor,
               "customer_name": record.customer_name, "link": f"/instances/{record.instance_id}"}
    _to_users(session, EventKind.CASE_ENDED, [record.started_by], record=record, task_id=None, context=context,
              now=now, exclude=actor)


def notify_mentions(session: Session, *, record: Instance, task: Task, author: str, text: str, now: datetime) -> None:
    """Everyone named as `@name` in a comment hears of it, unless the case is another outlet's."""
    names = sorted({name.rstrip(".-") for name in MENTION.findall(text)})
    if names:
        context = task_context(record, task, actor=author, comment=text[:500])
        _to_users(session, EventKind.MENTIONED, names, record=record, task_id=task.task_id, context=context,
                  now=now, exclude=author)


def notify_deadline(session: Session, kind: EventKind, *, record: Instance, deadline: Deadline, task: Task | None,
                    groups: Sequence[str], now: datetime) -> None:
    """A deadline is near or breached: the task's assignee (or else its groups), or for a case's deadline its starter."""
    if task is not None:
        context = task_context(record, task, deadline_name=deadline.name, due_at=deadline.due_at.isoformat())
    else:
        context = {"business_key": record.business_key, "process_key": record.definition_key,
                   "instance_id": str(record.instance_id), "task_name": deadline.name,
                   "due_at": deadline.due_at.isoformat(), "deadline_name": deadline.name,
                   "customer_name": record.customer_name, "link": f"/instances/{record.instance_id}"}
    task_id = task.task_id if task is not None else None
    if task is not None and task.assignee:
        _to_users(session, kind, [task.assignee], record=record, task_id=task_id, context=context, now=now)
        _to_webhooks(session, kind, groups, record=record, task_id=task_id, context=context, now=now)
    elif task is not None:
        _to_groups(session, kind, groups, record=record, task_id=task_id, context=context, now=now)
    else:
        _to_users(session, kind, [record.started_by], record=record, task_id=None, context=context, now=now)


def _to_groups(session: Session, kind: EventKind, groups: Sequence[str], *, record: Instance,
               task_id: uuid.UUID | None, context: dict[str, Any], now: datetime, exclude: str | None = None) -> None:
    if not groups:
        return
    usernames = session.scalars(
        select(User.username).join(Membership, Membership.user_id == User.user_id)
        .where(Membership.group_id.in_(list(groups)), User.is_active.is_(True))
    ).all()
    _to_users(session, kind, usernames, record=record, task_id=task_id, context=context, now=now, exclude=exclude)
    _to_webhooks(session, kind, groups, record=record, task_id=task_id, context=context, now=now)


def _to_webhooks(session: Session, kind: EventKind, groups: Sequence[str], *, record: Instance,
                 task_id: uuid.UUID | None, context: dict[str, Any], now: datetime) -> None:
    if kind not in GROUP_KINDS or not groups:
        return
    endpoints = session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.group_id.in_(list(groups)),
                                                              WebhookEndpoint.is_active.is_(True)))
    for endpoint in endpoints:
        if endpoint.outlet_code is not None and record.outlet_code != endpoint.outlet_code:
            continue  # an outlet's own chat hears what its staff may see (engine/visibility.py): its own cases
        session.add(_row(kind, Channel.WEBHOOK, recipient=None, group_id=endpoint.group_id,
                         target=str(endpoint.endpoint_id), language=None, record=record, task_id=task_id,
                         context=context, due=now, now=now))


def _to_users(session: Session, kind: EventKind, usernames: Iterable[str], *, record: Instance,
              task_id: uuid.UUID | None, context: dict[str, Any], now: datetime, exclude: str | None = None) -> None:
    wanted = sorted(set(usernames) - {exclude})
    if not wanted:
        return
    # People hear only of the cases their place in the organisation lets them see (engine/visibility.py):
    # outlet staff of their outlet's, RCC staff of their region's.
    active = {name for name, outlet, region in session.execute(
        select(User.username, User.outlet_code, User.region_code)
        .where(User.username.in_(wanted), User.is_active.is_(True)))
        if case_allows(Actor(name, frozenset(), outlet, region), outlet_code=record.outlet_code,
                       region=record.region)}
    settings = {s.username: s for s in session.scalars(
        select(NotificationSetting).where(NotificationSetting.username.in_(sorted(active))))}
    defaults = _group_defaults(session, sorted(active - set(settings)), kind)
    quiet_until: datetime | None = None
    for username in sorted(active):
        setting = settings.get(username)
        chosen = setting.channels.get(kind) if setting is not None and kind in setting.channels else None
        channels = chosen if chosen is not None else defaults.get(username, DEFAULT_CHANNELS)
        due = now
        if setting is not None and setting.quiet_hours and kind in WAITS_FOR_WORKING_TIME:
            quiet_until = quiet_until or working_time_after(session, now, timedelta(0))
            due = quiet_until
        for channel in channels:
            target = _address(Channel(channel), username, setting)
            if target is None:
                continue  # no address for that channel: the others still go
            session.add(_row(kind, Channel(channel), recipient=username, group_id=None, target=target,
                             language=setting.language if setting else None, record=record, task_id=task_id,
                             context=context, due=due, now=now))


def _group_defaults(session: Session, usernames: list[str], kind: EventKind) -> dict[str, list[str]]:
    """Per user without settings of their own, the union of their groups' default channels for `kind`."""
    if not usernames:
        return {}
    rows = session.execute(
        select(User.username, GroupNotificationDefault.channels)
        .join(Membership, Membership.user_id == User.user_id)
        .join(GroupNotificationDefault, GroupNotificationDefault.group_id == Membership.group_id)
        .where(User.username.in_(usernames))
    ).all()
    defaults: dict[str, list[str]] = {}
    for username, channels in rows:
        if kind in channels:
            merged = defaults.setdefault(username, [])
            merged.extend(c for c in channels[kind] if c not in merged)
    return defaults


def _address(channel: Channel, username: str, setting: NotificationSetting | None) -> str | None:
    if channel == Channel.IN_APP:
        return username
    if channel == Channel.EMAIL:
        return setting.email if setting else None
    if channel == Channel.SMS:
        return setting.phone if setting else None
    return None


def _row(kind: EventKind, channel: Channel, *, recipient: str | None, group_id: str | None, target: str,
         language: str | None, record: Instance, task_id: uuid.UUID | None, context: dict[str, Any], due: datetime,
         now: datetime) -> Notification:
    return Notification(
        notification_id=uuid.uuid4(), event_kind=kind.value, channel=channel.value, recipient=recipient,
        group_id=group_id, target=target, language=language, instance_id=record.instance_id, task_id=task_id,
        context=context, status=NotificationStatus.PENDING, attempts=0, next_attempt_at=due, created_at=now,
    )
