"""Writing the outbox: the one module engine operations call when something worth telling happens.

Rows are added to the caller's session and commit (or roll back) with the change that caused
them, so a change that is rolled back tells no one. Who hears of it and over which channels is
decided here, once, from the task's groups and the people's settings; the dispatcher only delivers.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Uuid, and_, cast, literal, null, or_, select, union_all
from sqlalchemy.orm import Session, aliased

from engine.business_calendar import working_time_after
from engine.identity import Actor
from engine.notifications.kinds import (
    DEFAULT_CHANNELS,
    EVERY_KIND,
    GROUP_KINDS,
    WAITS_FOR_WORKING_TIME,
    Channel,
    EventKind,
)
from engine.states import NotificationStatus
from engine.step_batch import shared_audience
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
                        now: datetime, users: Sequence[str] = ()) -> None:
    """A new task: its assignee hears it is theirs, or else its groups' members and webhooks, and its
    candidate users, that it is queued."""
    context = task_context(record, task, actor=actor)
    if task.assignee:
        _to_users(session, EventKind.TASK_ASSIGNED, [task.assignee], record=record, task_id=task.task_id,
                  context=context, now=now, exclude=actor)
        return
    if users:
        tell(session, EventKind.TASK_QUEUED, record=record, task_id=task.task_id, context=context, now=now,
             exclude=actor, usernames=sorted(set(users) - {actor}), members_of=groups, webhooks_of=groups)
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
    if groups:
        tell(session, kind, record=record, task_id=task_id, context=context, now=now, exclude=exclude,
              members_of=groups, webhooks_of=groups)


def _to_webhooks(session: Session, kind: EventKind, groups: Sequence[str], *, record: Instance,
                 task_id: uuid.UUID | None, context: dict[str, Any], now: datetime) -> None:
    if groups:
        tell(session, kind, record=record, task_id=task_id, context=context, now=now, webhooks_of=groups)


def _to_users(session: Session, kind: EventKind, usernames: Iterable[str], *, record: Instance,
              task_id: uuid.UUID | None, context: dict[str, Any], now: datetime, exclude: str | None = None) -> None:
    wanted = sorted(set(usernames) - {exclude})
    if wanted:
        tell(session, kind, record=record, task_id=task_id, context=context, now=now, usernames=wanted)


def tell(session: Session, kind: EventKind, *, record: Instance, task_id: uuid.UUID | None,
          context: dict[str, Any], now: datetime, exclude: str | None = None, usernames: Sequence[str] = (),
          members_of: Sequence[str] = (), webhooks_of: Sequence[str] = ()) -> None:
    """Add the rows of one event: one read of everyone and everything that hears it, then one batched insert.

    Task creation is the engine's hot path, so the recipients, their settings, their groups'
    defaults and the groups' webhooks come back in one statement; the rows are added to the
    session and flushed together (one executemany).
    """
    hooks = tuple(webhooks_of) if kind in GROUP_KINDS else ()
    if not usernames and not members_of and not hooks:  # no one may hear it
        return
    people: dict[str, _Person] = {}
    endpoints: list[tuple[str, uuid.UUID]] = []
    # A batch of steps (the timer tick) reads each audience once: the same groups hear of every case's
    # task. The statement itself is built once per audience (`_audience`).
    key = (tuple(usernames), tuple(members_of), exclude, hooks)
    audience = shared_audience(session, ("audience", *key), lambda: list(session.execute(_audience(*key))))
    for row in audience:
        if row.source == "hook":
            # An outlet's own chat hears what its staff may see (engine/visibility.py): its own cases.
            if row.outlet_code is None or row.outlet_code == record.outlet_code:
                endpoints.append((row.name, row.endpoint_id))
            continue
        person = people.get(row.name)
        if person is None:
            # People hear only of the cases their place in the organisation lets them see
            # (engine/visibility.py): outlet staff of their outlet's, RCC staff of their region's.
            allowed = case_allows(Actor(row.name, frozenset(), row.outlet_code, row.region_code),
                                  outlet_code=record.outlet_code, region=record.region)
            person = people[row.name] = _Person(allowed, row)
        if row.default_channels and kind in row.default_channels:
            merged = person.defaults = person.defaults if person.defaults is not None else []
            merged.extend(c for c in row.default_channels[kind] if c not in merged)
    quiet_until: datetime | None = None
    for username in sorted(name for name, person in people.items() if person.allowed):
        person = people[username]
        channels = person.channels(kind)
        due = now
        if person.quiet_hours and kind in WAITS_FOR_WORKING_TIME:
            quiet_until = quiet_until or working_time_after(session, now, timedelta(0))
            due = quiet_until
        for channel in channels:
            target = person.address(Channel(channel), username)
            if target is None:
                continue  # no address for that channel: the others still go
            told = outbox_row(kind, Channel(channel), recipient=username, group_id=None, target=target,
                              language=person.language, record=record, task_id=task_id, context=context,
                              due=due, now=now)
            if person.waits_for_digest(kind, Channel(channel)):
                told.status = NotificationStatus.DIGEST
            session.add(told)
    for group_id, endpoint_id in endpoints:
        session.add(outbox_row(kind, Channel.WEBHOOK, recipient=None, group_id=group_id, target=str(endpoint_id),
                         language=None, record=record, task_id=task_id, context=context, due=now, now=now))


def _recipients(usernames: Sequence[str], members_of: Sequence[str], exclude: str | None) -> Any:
    """The condition on `users` naming who may hear the event, or None if no one may."""
    if usernames and members_of:  # a task's candidate users beside its groups' members
        members = select(Membership.user_id).where(Membership.group_id.in_(list(members_of)))
        either = or_(User.username.in_(list(usernames)), User.user_id.in_(members))
        return either if exclude is None else and_(either, User.username != exclude)
    if usernames:
        return User.username.in_(list(usernames))
    if members_of:
        members = select(Membership.user_id).where(Membership.group_id.in_(list(members_of)))
        condition = User.user_id.in_(members)
        return condition if exclude is None else and_(condition, User.username != exclude)
    return None


@functools.lru_cache(maxsize=512)
def _audience(usernames: tuple[str, ...], members_of: tuple[str, ...], exclude: str | None,
              webhook_groups: tuple[str, ...]) -> Any:
    """One statement: each recipient with their settings (and, without any, their groups' defaults), then the webhooks.

    A person's row repeats once per group of theirs (the defaults are the union over all of them);
    a webhook's row carries its group in `name` and its endpoint id. Built once per audience (the
    groups of a task, the person who acted): its construction costs more than its run, and the
    same few audiences recur at every new task.
    """
    recipients = _recipients(usernames, members_of, exclude)
    branches = []
    if recipients is not None:
        default_of = aliased(Membership)
        branches.append(
            select(literal("user").label("source"), User.username.label("name"), User.outlet_code,
                   User.region_code, cast(null(), Uuid).label("endpoint_id"),
                   NotificationSetting.username.label("setting_of"), NotificationSetting.email,
                   NotificationSetting.phone, NotificationSetting.language, NotificationSetting.channels,
                   NotificationSetting.quiet_hours, NotificationSetting.digest,
                   GroupNotificationDefault.channels.label("default_channels"))
            .select_from(User)
            .outerjoin(NotificationSetting, NotificationSetting.username == User.username)
            # A person's own choice wins outright, so their groups' defaults are only joined without one.
            .outerjoin(default_of, and_(default_of.user_id == User.user_id, NotificationSetting.username.is_(None)))
            .outerjoin(GroupNotificationDefault, GroupNotificationDefault.group_id == default_of.group_id)
            .where(recipients, User.is_active.is_(True)))
    if webhook_groups:
        branches.append(
            select(literal("hook"), WebhookEndpoint.group_id, WebhookEndpoint.outlet_code, null(),
                   WebhookEndpoint.endpoint_id, null(), null(), null(), null(), null(), null(), null(), null())
            .where(WebhookEndpoint.group_id.in_(list(webhook_groups)), WebhookEndpoint.is_active.is_(True)))
    return branches[0] if len(branches) == 1 else union_all(*branches)


class _Person:
    """One recipient as the audience read found them: may they hear it, and over which channels."""

    def __init__(self, allowed: bool, row: Any) -> None:
        self.allowed = allowed
        self.has_setting = row.setting_of is not None
        self.email: str | None = row.email
        self.phone: str | None = row.phone
        self.language: str | None = row.language
        self.chosen: dict[str, Any] = row.channels or {}
        self.quiet_hours = bool(row.quiet_hours)
        self.digest = frozenset(row.digest or ())
        self.defaults: list[str] | None = None  # None: no group of theirs sets a default for the kind

    def channels(self, kind: EventKind) -> Sequence[str]:
        if self.has_setting and kind in self.chosen and self.chosen[kind] is not None:
            return list(self.chosen[kind])
        return self.defaults if self.defaults is not None else DEFAULT_CHANNELS

    def waits_for_digest(self, kind: EventKind, channel: Channel) -> bool:
        """A mail of a kind the person hears of in their daily digest (engine/notifications/digest.py)."""
        return channel == Channel.EMAIL and (kind.value in self.digest or EVERY_KIND in self.digest)

    def address(self, channel: Channel, username: str) -> str | None:
        if channel == Channel.IN_APP:
            return username
        if channel == Channel.EMAIL:
            return self.email
        if channel == Channel.SMS:
            return self.phone
        return None


def outbox_row(kind: EventKind, channel: Channel, *, recipient: str | None, group_id: str | None, target: str,
         language: str | None, record: Instance, task_id: uuid.UUID | None, context: dict[str, Any], due: datetime,
         now: datetime) -> Notification:
    return Notification(
        notification_id=uuid.uuid4(), event_kind=kind.value, channel=channel.value, recipient=recipient,
        group_id=group_id, target=target, language=language, instance_id=record.instance_id, task_id=task_id,
        context=context, status=NotificationStatus.PENDING, attempts=0, next_attempt_at=due, created_at=now,
    )
