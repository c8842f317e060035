"""The notification centre, people's notification settings, groups' webhooks and the dead letters."""

from __future__ import annotations

import uuid

from fastapi import Response

from api.deps import CHECKED_INPUT, ActorDep, ClockDep, SessionDep
from api.notification_schemas import (
    DeadLetterOut,
    GroupDefaultsIn,
    GroupDefaultsOut,
    NotificationListOut,
    NotificationOut,
    PreferencesIn,
    PreferencesOut,
    UnreadOut,
    WebhookIn,
    WebhookOut,
)
from api.problems import API_ERRORS
from api.routing import api_router
from engine.db import reading
from engine.identity import get_user
from engine.notifications import administration, centre
from engine.permissions import Permission, require

router = api_router(prefix="/api", tags=["notifications"], responses=API_ERRORS, dependencies=CHECKED_INPUT)


@router.get("/notifications", summary="The caller's in-app notifications, newest first, with the unread count")
def list_notifications(session: SessionDep, actor: ActorDep, unread_only: bool = False) -> NotificationListOut:
    with reading(session):
        items = centre.list_notifications(session, actor=actor, unread_only=unread_only)
        return NotificationListOut(unread=centre.unread_count(session, actor=actor),
                                   items=[NotificationOut.of(i) for i in items])


@router.get("/notifications/unread", summary="How many of the caller's notifications are unread (the bell)")
def unread(session: SessionDep, actor: ActorDep) -> UnreadOut:
    with reading(session):
        return UnreadOut(unread=centre.unread_count(session, actor=actor))


@router.post("/notifications/{notification_id}/read", status_code=204, summary="Mark one notification read")
def mark_read(notification_id: uuid.UUID, session: SessionDep, clock: ClockDep, actor: ActorDep) -> Response:
    with session.begin():
        centre.mark_read(session, clock, actor=actor, notification_id=notification_id)
    return Response(status_code=204)


@router.post("/notifications/read", summary="Mark all the caller's notifications read")
def mark_all_read(session: SessionDep, clock: ClockDep, actor: ActorDep) -> UnreadOut:
    with session.begin():
        centre.mark_all_read(session, clock, actor=actor)
        return UnreadOut(unread=0)


@router.get("/me/notification-settings", summary="The caller's addresses and channels per event kind")
def my_settings(session: SessionDep, actor: ActorDep) -> PreferencesOut:
    with reading(session):
        return PreferencesOut.of(centre.get_preferences(session, username=actor.username))


@router.put("/me/notification-settings", summary="Set the caller's addresses, language, channels, quiet hours")
def set_my_settings(body: PreferencesIn, session: SessionDep, clock: ClockDep, actor: ActorDep) -> PreferencesOut:
    with session.begin():
        return PreferencesOut.of(centre.set_preferences(
            session, clock, actor=actor, username=actor.username, email=body.email, phone=body.phone,
            language=body.language, channels=body.channels, quiet_hours=body.quiet_hours,
            digest=body.digest))


@router.put("/users/{username}/notification-settings", summary="Set a user's notification settings (admins)")
def set_user_settings(username: str, body: PreferencesIn, session: SessionDep, clock: ClockDep,
                      actor: ActorDep) -> PreferencesOut:
    require(actor, Permission.ADMINISTER)
    with session.begin():
        get_user(session, username)
        return PreferencesOut.of(centre.set_preferences(
            session, clock, actor=actor, username=username, email=body.email, phone=body.phone,
            language=body.language, channels=body.channels, quiet_hours=body.quiet_hours,
            digest=body.digest))


@router.get("/webhooks", summary="Groups' webhooks and chat robots (admins)")
def list_webhooks(session: SessionDep, actor: ActorDep, group_id: str | None = None) -> list[WebhookOut]:
    with reading(session):
        return [WebhookOut.of(e) for e in administration.list_endpoints(session, actor=actor, group_id=group_id)]


@router.post("/webhooks", status_code=201, summary="Add a webhook (generic, WeCom or DingTalk robot) to a group (admins)")
def add_webhook(body: WebhookIn, session: SessionDep, clock: ClockDep, actor: ActorDep) -> WebhookOut:
    with session.begin():
        return WebhookOut.of(administration.add_endpoint(session, clock, actor=actor, group_id=body.group_id,
                                                         kind=body.kind, url=body.url, secret=body.secret,
                                                         outlet_code=body.outlet_code))


@router.delete("/webhooks/{endpoint_id}", status_code=204, summary="Turn a group's webhook off (admins)")
def remove_webhook(endpoint_id: uuid.UUID, session: SessionDep, clock: ClockDep, actor: ActorDep) -> Response:
    with session.begin():
        administration.remove_endpoint(session, clock, actor=actor, endpoint_id=endpoint_id)
    return Response(status_code=204)


@router.get("/groups/{group_id}/notification-defaults", summary="A group's default channels per event kind (admins)")
def group_defaults(group_id: str, session: SessionDep, actor: ActorDep) -> GroupDefaultsOut:
    with reading(session):
        return GroupDefaultsOut(group_id=group_id,
                                channels=administration.get_group_defaults(session, actor=actor, group_id=group_id))


@router.put("/groups/{group_id}/notification-defaults", summary="Set a group's default channels (admins)")
def set_group_defaults(group_id: str, body: GroupDefaultsIn, session: SessionDep, clock: ClockDep,
                       actor: ActorDep) -> GroupDefaultsOut:
    with session.begin():
        channels = administration.set_group_defaults(session, clock, actor=actor, group_id=group_id,
                                                     channels=body.channels)
        return GroupDefaultsOut(group_id=group_id, channels=channels)


@router.get("/admin/notifications/dead", summary="Notifications given up after their last attempt, with the reason (admins)")
def dead_letters(session: SessionDep, actor: ActorDep) -> list[DeadLetterOut]:
    with reading(session):
        return [DeadLetterOut.of(d) for d in administration.list_dead_letters(session, actor=actor)]


@router.post("/admin/notifications/{notification_id}/resend", status_code=204,
             summary="Put a dead letter back in the outbox (admins)")
def resend(notification_id: uuid.UUID, session: SessionDep, clock: ClockDep, actor: ActorDep) -> Response:
    with session.begin():
        administration.resend(session, clock, actor=actor, notification_id=notification_id)
    return Response(status_code=204)
