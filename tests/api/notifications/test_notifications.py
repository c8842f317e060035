"""Notifications end to end: changes made through HTTP write the outbox, the dispatcher delivers it.

Mail goes to a real SMTP server (aiosmtpd) and webhooks to a real HTTP server on loopback that
checks the signature; the dispatcher's ticks are called as the scheduler calls them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.clock import FrozenClock
from engine.notifications.deadline_alerts import sweep_deadlines
from engine.notifications.dispatcher import Dispatcher, dispatch_notifications
from engine.tables import Notification
from tests.api.conftest import Desk
from tests.api.notifications.conftest import rows_of
from tests.notification_receivers import MailSink, WebhookReceiver


def test_a_task_entering_the_outlet_queue_mails_its_engineer_and_posts_to_the_outlet_webhook(
        outlet_case: Callable[..., str], desk: Desk, client: TestClient, factory: sessionmaker[Session],
        dispatcher: Dispatcher, mail_sink: MailSink, receiver: WebhookReceiver) -> None:
    outlet_case()
    queued = rows_of(factory, event_kind="task_queued")
    assert sorted((r.channel, r.recipient or r.group_id) for r in queued) == [
        ("email", "outlet"), ("in_app", "outlet"), ("webhook", "outlet")]
    assert client.get("/api/notifications", headers=desk.login("outlet")).json()["unread"] == 0  # not yet delivered

    assert dispatch_notifications(factory, dispatcher) == 3

    [mail] = mail_sink.received
    email_row = next(r for r in queued if r.channel == "email")
    assert mail.to == ["engineer@outlet.example"]
    assert mail.message_id == f"<{email_row.notification_id}@tixi>"
    assert "新任务 / New task" in mail.subject and "BX-2026-0001" in mail.subject
    assert "王女士" in mail.body and "https://tixi.example/tasks/" in mail.body
    [arrival] = receiver.arrivals
    assert arrival.signature_ok
    assert arrival.payload["event"] == "task_queued" and arrival.payload["context"]["business_key"] == "BX-2026-0001"
    assert all(r.status == "sent" for r in rows_of(factory, event_kind="task_queued"))

    # The bell: one unread notification linking to the task; reading it clears the count.
    outlet = desk.login("outlet")
    listed = client.get("/api/notifications", headers=outlet).json()
    assert listed["unread"] == 1
    [item] = listed["items"]
    task = desk.task_of("outlet", item["instance_id"], "repair")
    assert item["link"] == f"/tasks/{task['task_id']}" and "上门维修" in item["subject"]
    assert client.post(f"/api/notifications/{item['notification_id']}/read", headers=outlet).status_code == 204
    assert client.get("/api/notifications/unread", headers=outlet).json() == {"unread": 0}
    # Someone else's notification is not theirs to mark.
    other = client.post(f"/api/notifications/{item['notification_id']}/read", headers=desk.login("rcc_agent"))
    assert other.status_code == 404


def test_a_breached_deadline_warns_the_engineer_and_the_group_once(
        outlet_case: Callable[..., str], factory: sessionmaker[Session], dispatcher: Dispatcher, clock: FrozenClock,
        mail_sink: MailSink, receiver: WebhookReceiver) -> None:
    outlet_case()
    dispatch_notifications(factory, dispatcher)
    # 24 hours from Monday 17:00 China time; four working hours before, Tuesday 13:00, it is near.
    clock.advance(timedelta(hours=19))
    assert sweep_deadlines(factory, clock, reminder_hours=4) == 0
    clock.advance(timedelta(hours=1))
    assert sweep_deadlines(factory, clock, reminder_hours=4) == 1
    assert sweep_deadlines(factory, clock, reminder_hours=4) == 0  # told once
    clock.advance(timedelta(hours=4, minutes=1))
    assert sweep_deadlines(factory, clock, reminder_hours=4) == 1
    assert sweep_deadlines(factory, clock, reminder_hours=4) == 0
    dispatch_notifications(factory, dispatcher)

    subjects = [m.subject for m in mail_sink.received]
    assert len(subjects) == 3 and "即将到期 / Due soon" in subjects[1] and "已超时 / Deadline breached" in subjects[2]
    assert [a.payload["event"] for a in receiver.arrivals] == ["task_queued", "deadline_near", "deadline_breached"]
    assert all(a.signature_ok for a in receiver.arrivals)


def test_a_change_that_rolls_back_tells_no_one(outlet_case: Callable[..., str], desk: Desk, client: TestClient,
                                               factory: sessionmaker[Session]) -> None:
    # The case's data is over the limit: the step wrote the task (and its notifications), then was refused.
    response = client.post("/api/instances", headers=desk.login("rcc_agent"),
                           json={"definition_key": "outlet_repair", "variables": {"notes": "x" * (2 * 1024 * 1024)}})
    assert response.status_code == 422, response.text
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Notification)) == 0
