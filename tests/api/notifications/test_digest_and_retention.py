"""The daily digest (one mail a working day instead of single mails) and the outbox's retention.

Both are scheduler ticks, called here as the scheduler calls them, with the test clock jumped
across working days and a weekend; mail goes to the real SMTP server of the fixtures.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from engine.clock import FrozenClock
from engine.notifications.digest import purge_notifications, send_digests
from engine.notifications.dispatcher import Dispatcher, dispatch_notifications
from tests.api.conftest import Desk
from tests.api.notifications.conftest import rows_of
from tests.conftest import TEST_PROCESSES
from tests.notification_receivers import MailSink, WebhookReceiver

Deploy = Callable[[Path], list[dict[str, Any]]]
HOUR = 18  # the digest hour (China time) in these tests; the test clock starts on Monday at 17:00 China time


def test_mails_of_digest_kinds_wait_for_one_digest_a_working_day_while_the_bell_hears_at_once(
        outlet_case: Callable[..., str], desk: Desk, client: TestClient, factory: sessionmaker[Session],
        dispatcher: Dispatcher, clock: FrozenClock, mail_sink: MailSink, receiver: WebhookReceiver) -> None:
    outlet = desk.login("outlet")
    refused = client.put("/api/me/notification-settings", headers=outlet,
                         json={"email": "engineer@outlet.example", "digest": ["task_queud"]})
    assert refused.status_code == 422 and "digest" in refused.text
    chosen = client.put("/api/me/notification-settings", headers=outlet,
                        json={"email": "engineer@outlet.example", "digest": ["task_queued"]})
    assert chosen.status_code == 200 and chosen.json()["digest"] == ["task_queued"]
    outlet_case("BX-2026-0001")
    outlet_case("BX-2026-0002")
    assert {r.status for r in rows_of(factory, channel="email")} == {"digest"}

    assert dispatch_notifications(factory, dispatcher) == 4  # two in the app, two to the group's webhook
    assert mail_sink.received == [] and len(receiver.accepted) == 2
    assert client.get("/api/notifications/unread", headers=outlet).json() == {"unread": 2}

    assert send_digests(factory, clock, hour=HOUR) == 0  # 17:00: not yet
    clock.advance(timedelta(hours=1))
    assert send_digests(factory, clock, hour=HOUR) == 1
    assert send_digests(factory, clock, hour=HOUR) == 0  # one a day
    assert dispatch_notifications(factory, dispatcher) == 1
    [digest] = mail_sink.received
    assert digest.to == ["engineer@outlet.example"] and "今日通知摘要 / Today's notifications" in digest.subject
    assert "BX-2026-0001" in digest.body and "BX-2026-0002" in digest.body and "https://tixi.example/tasks/" in digest.body
    assert {r.status for r in rows_of(factory, channel="email", event_kind="task_queued")} == {"sent"}

    # After today's digest a new mail waits for the next working day's; Saturday and Sunday are not.
    outlet_case("BX-2026-0003")
    assert send_digests(factory, clock, hour=HOUR) == 0
    clock.advance(timedelta(days=5))  # Saturday 18:00
    assert send_digests(factory, clock, hour=HOUR) == 0
    clock.advance(timedelta(days=2))  # Monday 18:00
    assert send_digests(factory, clock, hour=HOUR) == 1
    dispatch_notifications(factory, dispatcher)
    assert len(mail_sink.received) == 2 and "BX-2026-0003" in mail_sink.received[1].body
    assert "BX-2026-0001" not in mail_sink.received[1].body


def test_told_rows_older_than_the_retention_are_deleted_in_batches_and_dead_letters_stay(
        outlet_case: Callable[..., str], desk: Desk, client: TestClient, factory: sessionmaker[Session],
        dispatcher: Dispatcher, clock: FrozenClock, deploy_file: Deploy, mail_sink: MailSink) -> None:
    outlet_case("BX-2026-0001")
    outlet_case("BX-2026-0002")
    assert dispatch_notifications(factory, dispatcher) == 6
    # A dead letter (the case lacks the customer's mail variable) and a mail waiting for a digest.
    deploy_file(TEST_PROCESSES / "designed_notices.bpmn")
    desk.start("rcc_agent", "designed_notices", {"customer_phone": "+86 139 0000 0001"}, "DN-0001")
    assert client.put("/api/users/rcc_director/notification-settings", headers=desk.login("admin"),
                      json={"email": "director@rcc.example", "digest": ["*"]}).status_code == 200
    desk.start("rcc_agent", "designed_notices", {"customer_phone": "+86 139 0000 0002"}, "DN-0002")
    kept = {r.notification_id for r in rows_of(factory) if r.status in ("dead", "digest")}
    assert {r.status for r in rows_of(factory) if r.notification_id in kept} == {"dead", "digest"}

    assert purge_notifications(factory, clock, retention_days=90) == 0  # nothing is that old
    clock.advance(timedelta(days=91))
    outlet_case("BX-2026-0003")  # a fresh case's rows are young
    dispatch_notifications(factory, dispatcher)
    young = {r.notification_id for r in rows_of(factory, status="sent") if r.created_at > clock.now() - timedelta(days=1)}
    assert young
    old_sent = [r for r in rows_of(factory, status="sent") if r.notification_id not in young]
    assert len(old_sent) >= 6

    assert purge_notifications(factory, clock, retention_days=90, batch=4) == len(old_sent)
    left = {r.notification_id for r in rows_of(factory)}
    assert kept <= left and young <= left and not left & {r.notification_id for r in old_sent}
    dead = client.get("/api/admin/notifications/dead", headers=desk.login("admin")).json()
    assert any("customer_mail" in d["last_error"] for d in dead)
