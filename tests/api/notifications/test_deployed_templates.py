"""Templates that designers deploy with their processes: a zip bundle's `notification_templates/*.txt`.

They are checked at deploy (syntax, sample data, both languages), stored with the definition's
version, and preferred over the server folder's: a case started on version 1 keeps rendering
version 1's text after version 2 is deployed.
"""

from __future__ import annotations

import io
import zipfile

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session, sessionmaker

from engine.notifications.dispatcher import Dispatcher, dispatch_notifications
from tests.api.conftest import Desk
from tests.api.notifications.conftest import SECRET
from tests.conftest import TEST_PROCESSES
from tests.notification_receivers import WebhookReceiver

FOLDER = TEST_PROCESSES / "deployed_templates"
BPMN = (FOLDER / "deployed_notices.bpmn").read_text(encoding="utf-8")
TEMPLATE = (FOLDER / "notification_templates" / "visit_booked.txt").read_text(encoding="utf-8")


def bundle(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def upload(client: TestClient, desk: Desk, files: dict[str, str]) -> Response:
    return client.post("/api/definitions", headers=desk.login("designer"),
                       files={"file": ("bundle.zip", bundle(files), "application/zip")})


def test_a_case_renders_the_template_of_its_own_version_not_the_server_folder_or_a_later_deploy(
        desk: Desk, client: TestClient, factory: sessionmaker[Session], sending: Dispatcher,
        receiver: WebhookReceiver, sms_gateway: WebhookReceiver) -> None:
    first = upload(client, desk, {"deployed_notices.bpmn": BPMN, "notification_templates/visit_booked.txt": TEMPLATE})
    assert first.status_code == 201, first.text
    assert [d["version"] for d in first.json()["definitions"]] == [1]
    admin = desk.login("admin")
    assert client.post("/api/webhooks", headers=admin, json={"group_id": "rcc_visitor", "url": receiver.url,
                                                             "secret": SECRET}).status_code == 201
    instance_id = desk.start("rcc_agent", "deployed_notices", {"customer_phone": "+86 139 0000 0003"}, "DT-0001")

    # The same BPMN with a changed template alone is a new version; the running case stays on version 1.
    second = upload(client, desk, {"deployed_notices.bpmn": BPMN,
                                   "visit_booked.txt": TEMPLATE.replace("模板第一版", "模板第二版")
                                   .replace("template version one", "template version two")})
    assert second.status_code == 201, second.text
    assert [d["version"] for d in second.json()["definitions"]] == [2]
    desk.work("rcc_agent", instance_id, "review", {"rcc_approved": True})
    dispatch_notifications(factory, sending)

    [sms] = sms_gateway.accepted.values()
    assert "上门已预约 / Visit booked · DT-0001" in sms.payload["text"]
    assert "模板第一版 / template version one" in sms.payload["text"]
    [posted] = receiver.arrivals  # the end event, reached after version 2 was deployed
    assert posted.payload["title"] == "上门已预约 / Visit booked · DT-0001"
    assert "template version one: 完成 / Done" in posted.payload["text"]
    assert "version two" not in posted.payload["text"]

    # A case started on version 2 renders version 2's text.
    later = desk.start("rcc_agent", "deployed_notices", {"customer_phone": "+86 139 0000 0004"}, "DT-0002")
    assert desk.waiting(later) == ["review"]
    dispatch_notifications(factory, sending)
    texts = [a.payload["text"] for a in sms_gateway.accepted.values() if a.payload["phone"] == "+86 139 0000 0004"]
    assert len(texts) == 1 and "template version two" in texts[0]


@pytest.mark.parametrize(("template", "words"), [
    ("{% if %}\n\nbody", "does not render"),
    ("{{ custmer_name }}\n\n{{ t('到了', 'here') }}", "custmer_name"),
    ("上门已预约 {{ business_key }}\n\n工程师将上门", "speaks one language"),
])
def test_a_deployed_template_that_is_broken_or_speaks_one_language_is_refused_naming_the_element(
        desk: Desk, client: TestClient, template: str, words: str) -> None:
    refused = upload(client, desk, {"deployed_notices.bpmn": BPMN, "notification_templates/visit_booked.txt": template})
    assert refused.status_code == 422, refused.text
    problems = refused.json()["errors"]
    assert {p["element"] for p in problems} == {"text_customer", "done"}
    assert all(words in p["problem"] and "visit_booked" in p["problem"] for p in problems), problems
    assert all(d["key"] != "deployed_notices" for d in client.get("/api/definitions",
                                                                   headers=desk.login("designer")).json())


def test_a_notice_whose_template_is_neither_deployed_nor_on_the_server_is_refused_in_both_languages(
        desk: Desk, client: TestClient) -> None:
    refused = upload(client, desk, {"deployed_notices.bpmn": BPMN, "notification_templates/other_name.txt": TEMPLATE})
    assert refused.status_code == 422, refused.text
    problem = refused.json()["errors"][0]
    assert problem["element"] == "text_customer"
    assert "template 'visit_booked' does not exist" in problem["problem"] and "模板 'visit_booked' 不存在" in problem["problem"]


def test_a_template_that_is_not_utf8_or_named_twice_is_refused_naming_the_file(desk: Desk, client: TestClient) -> None:
    twice = upload(client, desk, {"deployed_notices.bpmn": BPMN, "a/visit_booked.txt": TEMPLATE,
                                  "b/visit_booked.txt": TEMPLATE})
    assert twice.status_code == 422, twice.text
    assert all("b/visit_booked.txt" in p["problem"] and "two files" in p["problem"] for p in twice.json()["errors"])
    # A stray file of the same kind that no notice names stops nothing.
    stray = upload(client, desk, {"deployed_notices.bpmn": BPMN, "visit_booked.txt": TEMPLATE,
                                  "a/notes.txt": "{{ not a template", "b/notes.txt": "\xff"})
    assert stray.status_code == 201, stray.text
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("deployed_notices.bpmn", BPMN)
        archive.writestr("visit_booked.txt", "上门".encode("gb18030"))
    latin = client.post("/api/definitions", headers=desk.login("designer"),
                        files={"file": ("bundle.zip", buffer.getvalue(), "application/zip")})
    assert latin.status_code == 422 and "UTF-8" in latin.json()["errors"][0]["problem"], latin.text
