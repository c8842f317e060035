"""Delivery when receivers fail: retried with backoff, dead letters an admin sees and resends, and a
dispatcher killed between send and mark, whose messages arrive again with the same idempotency key.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from engine.clock import FrozenClock
from engine.config import DEFAULT_NOTIFICATION_TEMPLATES_DIR, EngineConfig
from engine.notifications.dispatcher import Dispatcher, claim_batch, dispatch_notifications
from engine.tables import Notification
from tests.api.conftest import Desk
from tests.api.notifications.conftest import rows_of
from tests.conftest import ROOT
from tests.notification_receivers import MailSink, WebhookReceiver, running_mail_sink

PAST_BACKOFF = timedelta(seconds=61)  # the configured backoff's cap, plus one second


def _webhook_row(factory: sessionmaker[Session]) -> Notification:
    [row] = rows_of(factory, channel="webhook")
    return row


def test_a_webhook_answering_500_is_retried_after_backoff_and_delivered_once(
        outlet_case: Callable[..., str], factory: sessionmaker[Session], dispatcher: Dispatcher, clock: FrozenClock,
        receiver: WebhookReceiver) -> None:
    receiver.answers = [500]
    outlet_case()
    assert dispatch_notifications(factory, dispatcher) == 3
    row = _webhook_row(factory)
    assert (row.status, row.attempts) == ("pending", 1) and "answered 500" in (row.last_error or "")
    assert dispatch_notifications(factory, dispatcher) == 0  # backing off: not due yet
    clock.advance(PAST_BACKOFF)
    assert dispatch_notifications(factory, dispatcher) == 1
    row = _webhook_row(factory)
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)
    assert len(receiver.arrivals) == 2 and len(receiver.accepted) == 1


def test_a_hanging_webhook_times_out_becomes_a_dead_letter_and_an_admin_resends_it(
        outlet_case: Callable[..., str], desk: Desk, client: TestClient, factory: sessionmaker[Session],
        dispatcher: Dispatcher, clock: FrozenClock, receiver: WebhookReceiver) -> None:
    receiver.answers = ["hang", "hang", "hang"]
    outlet_case()
    for _ in range(3):  # notify_max_attempts
        dispatch_notifications(factory, dispatcher)
        clock.advance(PAST_BACKOFF)
    row = _webhook_row(factory)
    assert (row.status, row.attempts) == ("dead", 3) and "timeout" in (row.last_error or "")
    assert dispatch_notifications(factory, dispatcher) == 0  # a dead letter is not tried again by itself

    assert client.get("/api/admin/notifications/dead", headers=desk.login("outlet")).status_code == 403
    [dead] = client.get("/api/admin/notifications/dead", headers=desk.login("admin")).json()
    assert dead["notification_id"] == str(row.notification_id) and "timeout" in dead["last_error"]
    assert dead["channel"] == "webhook" and dead["group_id"] == "outlet" and dead["attempts"] == 3
    resent = client.post(f"/api/admin/notifications/{row.notification_id}/resend", headers=desk.login("admin"))
    assert resent.status_code == 204
    again = client.post(f"/api/admin/notifications/{row.notification_id}/resend", headers=desk.login("admin"))
    assert again.status_code == 409  # no longer dead
    assert dispatch_notifications(factory, dispatcher) == 1
    assert _webhook_row(factory).status == "sent"
    assert list(receiver.accepted) == [str(row.notification_id)]


def test_an_smtp_server_refusing_the_address_makes_a_dead_letter_with_its_answer(
        outlet_case: Callable[..., str], desk: Desk, client: TestClient, factory: sessionmaker[Session],
        dispatcher: Dispatcher, mail_sink: MailSink) -> None:
    outlet_case()
    response = client.put("/api/users/outlet/notification-settings", headers=desk.login("admin"),
                          json={"email": "refused@outlet.example"})
    assert response.status_code == 200
    outlet_case("BX-2026-0002")
    dispatch_notifications(factory, dispatcher)
    refused = [r for r in rows_of(factory, channel="email") if r.target == "refused@outlet.example"]
    assert [(r.status, r.attempts) for r in refused] == [("dead", 1)]  # a 5xx refusal is final: no retries
    assert "550" in (refused[0].last_error or "")
    assert [m.to for m in mail_sink.received] == [["engineer@outlet.example"]]


def test_a_template_that_does_not_render_leaves_the_change_committed_and_the_message_dead(
        outlet_case: Callable[..., str], desk: Desk, factory: sessionmaker[Session], notify_config: EngineConfig,
        clock: FrozenClock, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(DEFAULT_NOTIFICATION_TEMPLATES_DIR, templates)
    (templates / "task_queued.txt").write_text("{{ t('新任务', 'New task') }} {{ no_such_field }}\n\nbody\n")
    broken = Dispatcher(notify_config.model_copy(update={"notification_templates_dir": templates}), clock)
    try:
        instance_id = outlet_case()
        for _ in range(3):
            dispatch_notifications(factory, broken)
            clock.advance(PAST_BACKOFF)
    finally:
        broken.close()
    rows = rows_of(factory, event_kind="task_queued")
    assert {r.status for r in rows} == {"dead"}
    assert all("no_such_field" in (r.last_error or "") for r in rows)
    assert desk.task_of("outlet", instance_id, "repair")  # the case went on


def test_a_dispatcher_killed_between_send_and_mark_redelivers_with_the_same_key(
        outlet_case: Callable[..., str], factory: sessionmaker[Session], dispatcher: Dispatcher, clock: FrozenClock,
        notify_config: EngineConfig, db_engine: Engine, mail_sink: MailSink, receiver: WebhookReceiver) -> None:
    outlet_case()
    args = {"now": clock.now().isoformat(), "config": notify_config.model_dump(mode="json"),
            "database_url": db_engine.url.render_as_string(hide_password=False)}
    child = subprocess.Popen([sys.executable, "-m", "tests.api.notifications.die_after_send", json.dumps(args)],
                             cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "sent 3"
        child.kill()  # SIGKILL: no cleanup, no mark
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert {r.status for r in rows_of(factory)} == {"sending"}
    assert dispatch_notifications(factory, dispatcher) == 0  # within the lease nobody sends them again

    clock.advance(timedelta(seconds=notify_config.notify_lease_seconds + 1))
    assert dispatch_notifications(factory, dispatcher) == 3
    assert {r.status for r in rows_of(factory)} == {"sent"}
    # Each message arrived twice with the same key; the receivers keep one: exactly once at their level.
    assert len(mail_sink.received) == 2 and len(mail_sink.delivered) == 1
    assert len(receiver.arrivals) == 2 and len(receiver.accepted) == 1
    assert receiver.arrivals[0].key == receiver.arrivals[1].key == str(_webhook_row(factory).notification_id)


def test_a_second_dispatcher_skips_the_rows_another_has_locked(
        outlet_case: Callable[..., str], factory: sessionmaker[Session], clock: FrozenClock, db_engine: Engine) -> None:
    if db_engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers (BEGIN IMMEDIATE): a second dispatcher waits rather than skips")
    outlet_case()
    with factory() as other, other.begin():  # another dispatcher in the middle of its claim
        locked = other.scalars(select(Notification).order_by(Notification.next_attempt_at, Notification.notification_id)
                               .limit(1).with_for_update()).one()
        claimed = claim_batch(factory, clock, limit=50, lease=timedelta(minutes=5))
        assert len(claimed) == 2 and locked.notification_id not in {c.notification_id for c in claimed}


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # loopback only
def test_mail_logs_in_when_the_server_demands_it_and_a_wrong_password_is_a_dead_letter(
        outlet_case: Callable[..., str], factory: sessionmaker[Session], notify_config: EngineConfig,
        clock: FrozenClock) -> None:
    for sink in running_mail_sink(login=("tixi", "right-password")):
        for password, expected in (("wrong-password", "dead"), ("right-password", "sent")):
            config = notify_config.model_copy(update={"smtp_port": sink.port, "smtp_username": "tixi",
                                                      "smtp_password": password})
            sending = Dispatcher(config, clock)
            try:
                outlet_case(f"BX-AUTH-{password}")
                dispatch_notifications(factory, sending)
            finally:
                sending.close()
            [row] = [r for r in rows_of(factory, channel="email") if r.context["business_key"] == f"BX-AUTH-{password}"]
            assert row.status == expected, row.last_error
        assert [m.subject.split(" · ")[1] for m in sink.received] == ["BX-AUTH-right-password"]
    assert "535" in (next(r for r in rows_of(factory, status="dead")).last_error or "")


def test_a_message_whose_dispatchers_die_every_time_becomes_a_dead_letter(
        outlet_case: Callable[..., str], factory: sessionmaker[Session], clock: FrozenClock,
        notify_config: EngineConfig) -> None:
    outlet_case()
    lease = timedelta(seconds=notify_config.notify_lease_seconds)
    for _ in range(notify_config.notify_max_attempts):  # claimed, then the dispatcher dies before marking
        assert len(claim_batch(factory, clock, limit=50, lease=lease, max_attempts=3)) == 3
        clock.advance(lease + timedelta(seconds=1))
    assert claim_batch(factory, clock, limit=50, lease=lease, max_attempts=3) == []
    rows = rows_of(factory)
    assert {r.status for r in rows} == {"dead"} and all("stopped while sending" in (r.last_error or "") for r in rows)
