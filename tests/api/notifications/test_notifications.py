"""Notifications end to end: changes made through HTTP write the outbox, the dispatcher delivers it.

Mail goes to a real SMTP server (aiosmtpd) and webhooks to a real HTTP server on loopback that
checks the signature; the dispatcher's ticks are called as the scheduler calls them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.clock import FrozenClock
from engine.config import EngineConfig
from engine.notifications.deadline_alerts import sweep_deadlines
from engine.notifications.dispatcher import Dispatcher, dispatch_notifications
from engine.tables import Notification
from tests.api.conftest import Desk
from tests.api.notifications.conftest import SECRET, rows_of
from tests.conftest import TEST_PROCESSES
from tests.notification_receivers import MailSink, WebhookReceiver

Deploy = Callable[[Path], list[dict[str, Any]]]


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
    assert arrival.payload["event"] == "task_queued" and arrival.payload["business_key"] == "BX-2026-0001"
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


def test_assignment_delegation_mentions_and_the_end_of_a_case_reach_the_people_concerned(
        outlet_case: Callable[..., str], desk: Desk, client: TestClient, factory: sessionmaker[Session],
        dispatcher: Dispatcher) -> None:
    instance_id = outlet_case()
    task_id = desk.task_of("outlet", instance_id, "repair")["task_id"]
    admin, outlet = desk.login("admin"), desk.login("outlet")
    assert client.post(f"/api/tasks/{task_id}/assign", headers=admin, json={"assignee": "outlet"}).status_code == 200
    comment = client.post(f"/api/tasks/{task_id}/comments", headers=outlet,
                          json={"text": "@rcc_agent 客户不在家, please call. @nobody @outlet."})
    assert comment.status_code == 201, comment.text
    done = client.post(f"/api/tasks/{task_id}/complete", headers=outlet, json={"data": {"rcc_approved": True}})
    assert done.status_code == 200, done.text

    told = sorted((r.event_kind, r.recipient, r.channel) for r in rows_of(factory) if r.event_kind != "task_queued")
    assert told == [("case_ended", "rcc_agent", "in_app"),  # rcc_agent has no mail address
                    ("mentioned", "rcc_agent", "in_app"),  # not @nobody (no such user), not the author
                    ("task_assigned", "outlet", "email"), ("task_assigned", "outlet", "in_app")]
    dispatch_notifications(factory, dispatcher)
    items = client.get("/api/notifications", headers=desk.login("rcc_agent")).json()["items"]
    by_kind = {i["event_kind"]: i for i in items}
    assert set(by_kind) == {"mentioned", "case_ended"}
    assert "客户不在家" in by_kind["mentioned"]["body"] and by_kind["mentioned"]["link"] == f"/tasks/{task_id}"
    assert by_kind["case_ended"]["link"] == f"/instances/{instance_id}"
    assert "修复 / Repaired" in by_kind["case_ended"]["body"]


def test_a_delegated_task_tells_the_delegate_and_tells_the_owner_when_it_comes_back(
        outlet_case: Callable[..., str], desk: Desk, client: TestClient, factory: sessionmaker[Session]) -> None:
    created = client.post("/api/users", headers=desk.login("admin"),
                          json={"username": "li.wei", "password": "password-of-li", "groups": ["outlet"]})
    assert created.status_code == 201, created.text
    instance_id = outlet_case()
    task_id = desk.task_of("outlet", instance_id, "repair")["task_id"]
    outlet = desk.login("outlet")
    assert client.post(f"/api/tasks/{task_id}/claim", headers=outlet).status_code == 200
    assert client.post(f"/api/tasks/{task_id}/delegate", headers=outlet, json={"assignee": "li.wei"}).status_code == 200
    li = desk.login("li.wei", "password-of-li")
    assert client.post(f"/api/tasks/{task_id}/unclaim", headers=li).status_code == 200
    told = [(r.event_kind, r.recipient) for r in rows_of(factory, channel="in_app")
            if r.event_kind in ("task_delegated", "task_returned")]
    assert sorted(told) == [("task_delegated", "li.wei"), ("task_returned", "outlet")]


def test_people_choose_their_channels_and_bad_settings_are_refused_naming_the_field(
        outlet_case: Callable[..., str], desk: Desk, client: TestClient, factory: sessionmaker[Session]) -> None:
    outlet = desk.login("outlet")
    for body, field in (({"email": "not-an-address"}, "email"), ({"phone": "call me"}, "phone"),
                        ({"language": "fr"}, "language"), ({"channels": {"task_queued": ["pigeon"]}}, "channels"),
                        ({"channels": {"birthday": ["email"]}}, "channels")):
        refused = client.put("/api/me/notification-settings", headers=outlet, json=body)
        assert refused.status_code == 422, refused.text
        assert field in json.dumps(refused.json()), refused.json()
    stored = client.get("/api/me/notification-settings", headers=outlet).json()
    assert stored["email"] == "engineer@outlet.example" and stored["channels"] == {}  # nothing of the refused stored

    chosen = client.put("/api/me/notification-settings", headers=outlet,
                        json={"email": "me@outlet.example", "language": "en", "channels": {"task_queued": ["email"]}})
    assert chosen.status_code == 200, chosen.text
    outlet_case()
    [row] = rows_of(factory, event_kind="task_queued", recipient="outlet")
    assert (row.channel, row.target, row.language) == ("email", "me@outlet.example", "en")


def test_admins_set_group_defaults_and_webhooks_and_others_may_not(
        desk: Desk, client: TestClient, outlet_case: Callable[..., str], factory: sessionmaker[Session]) -> None:
    outlet = desk.login("outlet")
    assert client.put("/api/groups/outlet/notification-defaults", headers=outlet,
                      json={"channels": {"task_queued": ["in_app"]}}).status_code == 403
    assert client.post("/api/webhooks", headers=outlet,
                       json={"group_id": "outlet", "url": "http://127.0.0.1:9/x"}).status_code == 403
    admin = desk.login("admin")
    for body, field in (({"group_id": "nosuch", "url": "http://127.0.0.1:9/x"}, "group_id"),
                        ({"group_id": "outlet", "url": "file:///etc/passwd"}, "url"),
                        ({"group_id": "outlet", "url": "http://[::1/hook"}, "url"),
                        ({"group_id": "outlet", "url": "http://127.0.0.1:9/x", "kind": "telegram"}, "kind")):
        refused = client.post("/api/webhooks", headers=admin, json=body)
        assert refused.status_code == 422 and field in json.dumps(refused.json()), refused.text
    assert client.put("/api/groups/outlet/notification-defaults", headers=admin,
                      json={"channels": {"task_queued": ["in_app"]}}).status_code == 200
    created = client.post("/api/users", headers=admin,
                          json={"username": "zhao.min", "password": "password-of-zhao", "groups": ["outlet"]})
    assert created.status_code == 201
    outlet_case()
    # zhao.min chose nothing: the group's default (in the app only); the demo outlet user chose mail.
    queued = {(r.recipient, r.channel) for r in rows_of(factory, event_kind="task_queued")}
    assert ("zhao.min", "in_app") in queued and ("zhao.min", "email") not in queued
    assert ("outlet", "email") in queued


def test_wecom_and_dingtalk_robots_and_the_sms_gateway_get_their_own_shapes_and_signatures(
        outlet_case: Callable[..., str], desk: Desk, client: TestClient, factory: sessionmaker[Session],
        notify_config: EngineConfig, clock: FrozenClock) -> None:
    with (WebhookReceiver("", scheme="none") as wecom, WebhookReceiver("ding-secret", scheme="dingtalk") as dingtalk,
          WebhookReceiver("sms-secret") as sms_gateway):
        admin = desk.login("admin")
        for kind, url, secret in (("wecom", wecom.url + "?key=robot-key", None),
                                  ("dingtalk", dingtalk.url + "?access_token=robot-token", "ding-secret")):
            added = client.post("/api/webhooks", headers=admin,
                                json={"group_id": "outlet", "kind": kind, "url": url, "secret": secret})
            assert added.status_code == 201, added.text
            assert "robot-" not in added.json()["url"]  # a robot's key is a secret: never read back
        assert client.put("/api/me/notification-settings", headers=desk.login("outlet"),
                          json={"phone": "+86 138 0000 0000", "language": "zh",
                                "channels": {"task_queued": ["sms"]}}).status_code == 200
        sending = Dispatcher(notify_config.model_copy(update={"sms_gateway_url": sms_gateway.url,
                                                              "sms_gateway_secret": "sms-secret"}), clock)
        try:
            outlet_case()
            assert dispatch_notifications(factory, sending) == 4  # three webhooks (generic too) and one SMS
        finally:
            sending.close()
        [to_wecom], [to_dingtalk], [sms] = wecom.accepted.values(), dingtalk.accepted.values(), sms_gateway.accepted.values()
    assert to_wecom.payload["msgtype"] == "markdown" and "上门维修" in to_wecom.payload["markdown"]["content"]
    assert "key=robot-key" in to_wecom.path
    assert to_dingtalk.signature_ok and "access_token=robot-token" in to_dingtalk.path
    assert set(to_dingtalk.payload["markdown"]) == {"title", "text"} and "BX-2026-0001" in to_dingtalk.payload["markdown"]["title"]
    assert sms.signature_ok and sms.payload["phone"] == "+86 138 0000 0000"
    assert sms.payload["text"].startswith("新任务:") and "New task" not in sms.payload["text"]  # her language only
    assert all(r.status == "sent" for r in rows_of(factory))


def test_quiet_hours_hold_a_reminder_until_working_time_and_a_breach_goes_at_once(
        outlet_case: Callable[..., str], desk: Desk, client: TestClient, factory: sessionmaker[Session],
        dispatcher: Dispatcher, clock: FrozenClock, deploy_file: Deploy, tmp_path: Path, mail_sink: MailSink,
        receiver: WebhookReceiver) -> None:
    assert client.put("/api/me/notification-settings", headers=desk.login("outlet"),
                      json={"email": "engineer@outlet.example", "quiet_hours": True}).status_code == 200
    # Due 14 hours after Monday 17:00 China time: Tuesday 07:00, before the working day starts.
    night = tmp_path / "outlet_repair.bpmn"
    night.write_text((TEST_PROCESSES / "outlet_repair.bpmn").read_text().replace("PT24H", "PT14H"))
    deploy_file(night)
    outlet_case("BX-NIGHT")
    dispatch_notifications(factory, dispatcher)
    assert sweep_deadlines(factory, clock, reminder_hours=4) == 1  # near already: 17:00 ends the working day
    [held] = rows_of(factory, event_kind="deadline_near", channel="email")
    assert held.next_attempt_at == datetime(2026, 1, 6, 1, 0, tzinfo=UTC)  # Tuesday 09:00 China time
    dispatch_notifications(factory, dispatcher)
    assert [a.payload["event"] for a in receiver.arrivals] == ["task_queued", "deadline_near"]  # the group's robot
    assert len(mail_sink.received) == 1  # the reminder mail waits

    clock.advance(timedelta(hours=14, minutes=1))  # Tuesday 07:01 China time: breached, quiet hours or not
    assert sweep_deadlines(factory, clock, reminder_hours=4) == 1
    dispatch_notifications(factory, dispatcher)
    assert "已超时 / Deadline breached" in mail_sink.received[-1].subject
    clock.set(datetime(2026, 1, 6, 1, 0, tzinfo=UTC))
    dispatch_notifications(factory, dispatcher)
    # The held reminder was superseded by the breach: "due soon" would now mislead.
    assert [m.subject.split(":")[0] for m in mail_sink.received] == ["新任务 / New task", "已超时 / Deadline breached"]
    assert rows_of(factory, event_kind="deadline_near", channel="email") == []


def test_a_terminated_case_tells_its_starter_why(outlet_case: Callable[..., str], desk: Desk, client: TestClient,
                                                factory: sessionmaker[Session], dispatcher: Dispatcher) -> None:
    instance_id = outlet_case()
    terminated = client.post(f"/api/instances/{instance_id}/terminate", headers=desk.login("admin"),
                             json={"reason": "客户撤回 / withdrawn by the customer"})
    assert terminated.status_code == 200, terminated.text
    dispatch_notifications(factory, dispatcher)
    [item] = client.get("/api/notifications", headers=desk.login("rcc_agent")).json()["items"]
    assert item["event_kind"] == "case_ended" and item["instance_id"] == instance_id
    assert "terminated" in item["body"] and "withdrawn by the customer" in item["body"]


def test_one_outlet_never_hears_of_another_outlets_customers(
        outlet_case: Callable[..., str], desk: Desk, client: TestClient, factory: sessionmaker[Session],
        dispatcher: Dispatcher, receiver: WebhookReceiver) -> None:
    admin = desk.login("admin")
    for name, outlet in (("hd.engineer", "HD-001"), ("hb.engineer", "HB-002")):
        created = client.post("/api/users", headers=admin, json={"username": name, "password": f"password-{name}",
                                                                  "groups": ["outlet"], "outlet_code": outlet})
        assert created.status_code == 201, created.text
    with WebhookReceiver(SECRET) as hd_chat, WebhookReceiver(SECRET) as hb_chat:
        for chat, outlet in ((hd_chat, "HD-001"), (hb_chat, "HB-002")):
            added = client.post("/api/webhooks", headers=admin, json={"group_id": "outlet", "url": chat.url,
                                                                      "secret": SECRET, "outlet_code": outlet})
            assert added.status_code == 201 and added.json()["outlet_code"] == outlet
        instance_id = outlet_case("BX-HD-1", outlet_code="HD-001")
        dispatch_notifications(factory, dispatcher)
        assert [a.payload["business_key"] for a in hd_chat.accepted.values()] == ["BX-HD-1"]
        assert hb_chat.arrivals == []
    told = {r.recipient for r in rows_of(factory, event_kind="task_queued") if r.recipient}
    # The demo outlet user is bound to no outlet; hd001.engineer is the demo network's staff of HD-001.
    assert told == {"outlet", "hd.engineer", "hd001.engineer"}
    task_id = desk.task_of("outlet", instance_id, "repair")["task_id"]
    commented = client.post(f"/api/tasks/{task_id}/comments", headers=desk.login("outlet"),
                            json={"text": "@hb.engineer @hd.engineer 请协助"})
    assert commented.status_code == 201
    assert {r.recipient for r in rows_of(factory, event_kind="mentioned")} == {"hd.engineer"}
    assert len(receiver.accepted) == 1  # the group's webhook for every outlet
