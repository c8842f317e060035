"""Designers' notifications: a send task or a message throw/end event names a template and recipients.

Deploy refuses what cannot work (a missing template, one that does not render, a recipient Tixi
cannot read); at run time the element passes through, its rows commit with the step, and a
recipient variable the case lacks becomes a dead letter an admin sees, never a stalled case.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from engine.notifications.dispatcher import Dispatcher, dispatch_notifications
from engine.notifications.rendering import designed_template_problem
from tests.api.conftest import Desk
from tests.api.notifications.conftest import SECRET, rows_of
from tests.api.test_complaint_handling import CUSTOMER_INTAKE, DISPATCH
from tests.conftest import TEST_PROCESSES
from tests.notification_receivers import MailSink, WebhookReceiver

Deploy = Callable[[Path], list[dict[str, Any]]]
NOTICES = TEST_PROCESSES / "designed_notices.bpmn"


def test_a_complaint_dispatched_to_hd001_mails_its_engineer_posts_to_its_webhook_and_texts_the_customer(
        desk: Desk, client: TestClient, factory: sessionmaker[Session], sending: Dispatcher, mail_sink: MailSink,
        receiver: WebhookReceiver, sms_gateway: WebhookReceiver) -> None:
    admin = desk.login("admin")
    assert client.put("/api/users/hd001.engineer/notification-settings", headers=admin,
                      json={"email": "engineer@hd001.example"}).status_code == 200
    added = client.post("/api/webhooks", headers=admin, json={"group_id": "outlet", "url": receiver.url,
                                                              "secret": SECRET, "outlet_code": "HD-001"})
    assert added.status_code == 201, added.text
    instance_id = desk.start("rcc_agent", "complaint_handling", CUSTOMER_INTAKE, business_key="TS-2026-0100")
    desk.work("rcc_agent", instance_id, "dispatch_outlet", DISPATCH)
    assert desk.waiting(instance_id) == ["onsite_repair"]  # the send task passed through

    dispatch_notifications(factory, sending)

    assert "engineer@hd001.example" in {to for mail in mail_sink.received for to in mail.to}
    repair_mail = next(m for m in mail_sink.received if "engineer@hd001.example" in m.to)
    assert "TS-2026-0100" in repair_mail.subject and "上门维修" in repair_mail.body
    posted = [a for a in receiver.arrivals if (a.payload["step"] or "").startswith("网点 24 小时")]
    assert len(posted) == 1 and posted[0].signature_ok and posted[0].payload["event"] == "task_queued"
    [sms] = sms_gateway.accepted.values()
    assert sms.signature_ok and sms.payload["phone"] == CUSTOMER_INTAKE["customer_phone"]
    assert "TS-2026-0100" in sms.payload["text"] and "HD-001" in sms.payload["text"]
    assert "工程师将在 24 小时内上门" in sms.payload["text"] and "an engineer will visit" in sms.payload["text"]
    history = client.get(f"/api/instances/{instance_id}/history", headers=admin).json()
    assert any(e["data"].get("element") == "notify_customer_dispatched" for e in history)
    [row] = rows_of(factory, event_kind="process_notice")
    assert (row.channel, row.status, row.target) == ("sms", "sent", CUSTOMER_INTAKE["customer_phone"])


def test_a_send_task_a_throw_and_an_end_event_tell_their_recipients_and_a_missing_variable_is_a_dead_letter(
        desk: Desk, client: TestClient, deploy_file: Deploy, factory: sessionmaker[Session], sending: Dispatcher,
        mail_sink: MailSink, sms_gateway: WebhookReceiver) -> None:
    deploy_file(NOTICES)
    admin = desk.login("admin")
    assert client.put("/api/users/rcc_director/notification-settings", headers=admin,
                      json={"email": "director@rcc.example"}).status_code == 200
    # No customer_mail in the case: the step still commits, and that one notice is a dead letter.
    instance_id = desk.start("rcc_agent", "designed_notices", {"customer_phone": "+86 139 0000 0001"}, "DN-0001")
    assert desk.waiting(instance_id) == ["review"]
    dead = client.get("/api/admin/notifications/dead", headers=admin).json()
    assert len(dead) == 1 and "customer_mail" in dead[0]["last_error"] and "missing" in dead[0]["last_error"]

    dispatch_notifications(factory, sending)
    [sms] = sms_gateway.accepted.values()
    assert sms.payload["phone"] == "+86 139 0000 0001"
    assert [m.to for m in mail_sink.received] == [["director@rcc.example"]]  # the throw event's user
    director = client.get("/api/notifications", headers=desk.login("rcc_director")).json()
    assert director["unread"] == 1 and director["items"][0]["link"] == f"/instances/{instance_id}"

    # Resent, it still has nowhere to go: dead again with that reason, nothing reaches a gateway.
    resent = client.post(f"/api/admin/notifications/{dead[0]['notification_id']}/resend", headers=admin)
    assert resent.status_code == 204
    dispatch_notifications(factory, sending)
    [again] = client.get("/api/admin/notifications/dead", headers=admin).json()
    assert again["notification_id"] == dead[0]["notification_id"] and "no address" in again["last_error"]
    assert len(sms_gateway.accepted) == 1

    desk.work("rcc_agent", instance_id, "review", {"rcc_approved": True})
    assert desk.instance(instance_id)["status"] == "completed"
    visitors = {r.recipient for r in rows_of(factory, event_kind="process_notice") if r.recipient}
    assert "rcc_visitor" in visitors  # the message end event told the group's members


def test_a_notice_naming_a_missing_template_or_an_unreadable_recipient_is_refused_at_deploy(
        desk: Desk, client: TestClient, tmp_path: Path) -> None:
    source = NOTICES.read_text(encoding="utf-8")
    for change, element, words in (
            (('value="customer_engineer_coming"/>\n        <camunda:property name="notify_to" value="var:customer_phone',
              'value="no_such_template"/>\n        <camunda:property name="notify_to" value="var:customer_phone'),
             "text_customer", "no_such_template"),
            (("user:rcc_director", "phone:123"), "tell_director", "phone:123"),
            (("group:rcc_visitor", "group:nosuch"), "done", "notify_to group 'nosuch' does not exist / 通知的组 'nosuch' 不存在"),
            (("user:rcc_director", "user:nobody.here"), "tell_director",
             "notify_to user 'nobody.here' does not exist / 通知的用户 'nobody.here' 不存在"),
            (('<bpmn:sendTask id="text_customer"', '<bpmn:sendTask camunda:type="external" camunda:topic="sms" '
                                                   'id="text_customer"'), "text_customer", "drop one")):
        path = tmp_path / "designed_notices.bpmn"
        path.write_text(source.replace(*change), encoding="utf-8")
        with path.open("rb") as handle:
            refused = client.post("/api/definitions", headers=desk.login("designer"),
                                  files={"file": (path.name, handle, "application/octet-stream")})
        assert refused.status_code == 422, refused.text
        [problem] = refused.json()["errors"]
        assert problem["element"] == element and words in problem["problem"], problem
    deployed = client.get("/api/definitions", headers=desk.login("designer")).json()
    assert all(d["key"] != "designed_notices" for d in deployed)  # nothing was deployed


def test_a_template_that_fails_on_sample_data_is_found_before_deploy(tmp_path: Path) -> None:
    (tmp_path / "good.txt").write_text("{{ t('到了', 'Here') }} {{ case.anything }}\n\n{{ business_key }}")
    (tmp_path / "misspelt.txt").write_text("{{ custmer_name }}\n\nbody")
    (tmp_path / "bad_filter.txt").write_text("{{ business_key | nosuchfilter }}\n\nbody")
    (tmp_path / "broken.txt").write_text("{% if %}\n\nbody")
    assert designed_template_problem(tmp_path, "good") is None
    for name, words in (("misspelt", "custmer_name"), ("bad_filter", "nosuchfilter"), ("broken", "broken.txt"),
                        ("absent", "does not exist"), ("../good", "lower-case")):
        problem = designed_template_problem(tmp_path, name)
        assert problem is not None and words in problem, (name, problem)


def test_a_group_webhook_gets_the_case_key_step_and_text_but_not_the_customers_phone_which_her_sms_gets(
        desk: Desk, client: TestClient, deploy_file: Deploy, factory: sessionmaker[Session], sending: Dispatcher,
        receiver: WebhookReceiver, sms_gateway: WebhookReceiver) -> None:
    deploy_file(NOTICES)
    admin = desk.login("admin")
    added = client.post("/api/webhooks", headers=admin, json={"group_id": "rcc_visitor", "url": receiver.url,
                                                              "secret": SECRET})
    assert added.status_code == 201, added.text
    phone = "+86 139 0000 0002"
    instance_id = desk.start("rcc_agent", "designed_notices",
                             {"customer_phone": phone, "customer_mail": "wang@example.com"}, "DN-0002")
    desk.work("rcc_agent", instance_id, "review", {"rcc_approved": True})
    dispatch_notifications(factory, sending)

    [sms] = sms_gateway.accepted.values()
    assert sms.payload["phone"] == phone  # the customer's own message carries her number
    [posted] = receiver.arrivals  # the end event told the group's robot
    assert posted.signature_ok and posted.payload["business_key"] == "DN-0002"
    assert posted.payload["step"] == "完成 / Done" and posted.payload["link"].endswith(f"/instances/{instance_id}")
    assert set(posted.payload) == {"id", "event", "title", "text", "link", "business_key", "step", "due_at"}
    assert phone not in json.dumps(posted.payload, ensure_ascii=False) and "wang@example.com" not in str(posted.payload)
