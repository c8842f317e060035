"""Deploying through the API: versions, idempotence, the XML back, and every refused file."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ROOT, TEST_PROCESSES

Login = Callable[[str], dict[str, str]]
SHIPPED = ["complaint_handling", "fee_settlement_audit", "outlet_onboarding", "outlet_revocation",
           "return_exchange", "return_policy", "return_visit", "training_cycle"]
TWO_STEP = (TEST_PROCESSES / "two_step_review.bpmn").read_text(encoding="utf-8")


def _upload(client: TestClient, login: Login, name: str, content: str | bytes, user: str = "designer") -> Any:
    data = content.encode("utf-8") if isinstance(content, str) else content
    return client.post("/api/definitions", headers=login(user), files={"file": (name, data, "application/xml")})


def _stored(client: TestClient, login: Login) -> list[Any]:
    response = client.get("/api/definitions", headers=login("admin"))
    assert response.status_code == 200
    return list(response.json())


def test_deploy_versions_and_idempotence(client: TestClient, login: Login) -> None:
    first = _upload(client, login, "two_step_review.bpmn", TWO_STEP)
    assert first.status_code == 201, first.text
    [definition] = first.json()["definitions"]
    assert (definition["key"], definition["version"], definition["deployed_by"]) == ("two_step_review", 1, "designer")
    assert definition["starter_groups"] == ["outlet"]

    again = _upload(client, login, "two_step_review.bpmn", TWO_STEP)
    assert again.json()["definitions"][0]["version"] == 1
    assert again.json()["definitions"][0]["definition_id"] == definition["definition_id"]

    changed = TWO_STEP.replace("审核 / Review", "复核 / Re-review")
    assert _upload(client, login, "two_step_review.bpmn", changed).json()["definitions"][0]["version"] == 2

    versions = client.get("/api/definitions/two_step_review", headers=login("rcc_agent")).json()
    assert [v["version"] for v in versions] == [2, 1]
    xml_v1 = client.get("/api/definitions/two_step_review/versions/1/xml", headers=login("designer"))
    assert xml_v1.status_code == 200
    assert xml_v1.headers["content-type"].startswith("application/xml")
    assert "审核 / Review" in xml_v1.text and "复核" not in xml_v1.text
    assert client.get("/api/definitions/two_step_review/versions/9/xml", headers=login("designer")).status_code == 404
    assert client.get("/api/definitions/nope", headers=login("designer")).status_code == 404


def test_running_instance_keeps_its_version(client: TestClient, login: Login) -> None:
    _upload(client, login, "two_step_review.bpmn", TWO_STEP)
    started = client.post("/api/instances", headers=login("outlet"),
                          json={"definition_key": "two_step_review", "variables": {"days": 3}}).json()
    assert started["definition_version"] == 1
    # v2 routes the review to a different group; the running instance must not notice.
    _upload(client, login, "two_step_review.bpmn", TWO_STEP.replace('candidateGroups="rcc_director"',
                                                                    'candidateGroups="csd_head"'))
    newer = client.post("/api/instances", headers=login("outlet"),
                        json={"definition_key": "two_step_review", "variables": {"days": 3}}).json()
    assert newer["definition_version"] == 2
    assert newer["waiting_tasks"][0]["candidate_groups"] == ["csd_head"]
    old = client.get(f"/api/instances/{started['instance_id']}", headers=login("admin")).json()
    assert old["definition_version"] == 1
    assert old["waiting_tasks"][0]["candidate_groups"] == ["rcc_director"]


def test_bundle_deploys_every_file(client: TestClient, login: Login) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for path in sorted((ROOT / "processes").glob("*.*mn")):
            bundle.write(path, f"processes/{path.name}")
    response = client.post("/api/definitions", headers=login("designer"),
                           files={"file": ("service.zip", buffer.getvalue(), "application/zip")})
    assert response.status_code == 201, response.text
    assert sorted(d["key"] for d in response.json()["definitions"]) == SHIPPED


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"><bpmn:process id="p">
<bpmn:documentation>&lol3;</bpmn:documentation></bpmn:process></bpmn:definitions>"""
EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"><bpmn:process id="p" isExecutable="true">
<bpmn:documentation>&secret;</bpmn:documentation><bpmn:startEvent id="s"/></bpmn:process></bpmn:definitions>"""
NETWORK_ENTITY = EXTERNAL_ENTITY.replace("file:///etc/passwd", "http://127.0.0.1:9/evil.dtd")


@pytest.mark.parametrize(
    ("case", "filename", "content", "element", "needle"),
    [
        ("malformed", "broken.bpmn", TWO_STEP.replace("</bpmn:process>", ""), None, "not well-formed"),
        ("billion laughs", "lol.bpmn", BILLION_LAUGHS, None, "DOCTYPE"),
        ("external file entity", "xxe.bpmn", EXTERNAL_ENTITY, None, "DOCTYPE"),
        ("external network entity", "xxe.bpmn", NETWORK_ENTITY, None, "DOCTYPE"),
        ("unknown form", "p.bpmn", TWO_STEP.replace('formKey="rcc_site_review"', 'formKey="no_such_form"'),
         "review", "form 'no_such_form' does not exist"),
        ("unknown group", "p.bpmn", TWO_STEP.replace('candidateGroups="rcc_director"', 'candidateGroups="ghosts"'),
         "review", "candidate group 'ghosts' does not exist"),
        ("no group", "p.bpmn", TWO_STEP.replace(' camunda:candidateGroups="rcc_director"', ""),
         "review", "neither camunda:candidateGroups nor camunda:assignee"),
        ("import in condition", "p.bpmn",
         TWO_STEP.replace("rcc_approved == True and days &lt;= 15", "__import__('os').system('id') == 0"),
         "f_approved", "condition refused"),
        ("dunder escape in condition", "p.bpmn",
         TWO_STEP.replace("rcc_approved == True and days &lt;= 15", "().__class__.__bases__[0].__subclasses__()"),
         "f_approved", "condition refused"),
        ("not BPMN", "p.bpmn", "<html><body>hello</body></html>", None, "not a BPMN 2.0 document"),
        ("wrong extension", "p.txt", TWO_STEP, None, "expected a .bpmn, .dmn or .zip file"),
        ("flow to nowhere", "p.bpmn", TWO_STEP.replace('targetRef="decide"', 'targetRef="nowhere"'), None, ""),
    ],
)
def test_refused_files_store_nothing(client: TestClient, login: Login, case: str, filename: str, content: str,
                                     element: str | None, needle: str) -> None:
    response = _upload(client, login, filename, content)
    assert response.status_code == 422, (case, response.text)
    body = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert body["type"] == "urn:tixi:problem:invalid-definition"
    assert needle in body["detail"], body
    if element is not None:
        assert element in [e["element"] for e in body["errors"]], body
    assert _stored(client, login) == []


def test_only_designers_deploy(client: TestClient, login: Login) -> None:
    for user in ("admin", "rcc_director", "outlet"):
        response = _upload(client, login, "two_step_review.bpmn", TWO_STEP, user=user)
        assert response.status_code == 403, user
        assert response.json()["required_group"] == "designer"
    assert _stored(client, login) == []


def test_oversize_upload_is_refused(client: TestClient, login: Login, app_settings: Any) -> None:
    huge = b"<a>" + b" " * (app_settings.max_upload_bytes + 10) + b"</a>"
    response = _upload(client, login, "huge.bpmn", huge)
    assert response.status_code == 413
    assert _stored(client, login) == []


def test_shipped_processes_deploy(deployed_processes: list[dict[str, Any]]) -> None:
    assert sorted(d["key"] for d in deployed_processes) == SHIPPED
    assert {d["version"] for d in deployed_processes} == {1}


def test_every_shipped_file_is_bilingual(tmp_path: Path) -> None:
    from lxml import etree

    for path in (ROOT / "processes").glob("*.bpmn"):
        root = etree.parse(str(path)).getroot()
        for node in root.iter():
            tag = etree.QName(node).localname if isinstance(node.tag, str) else ""
            if tag in {"process", "startEvent", "endEvent", "userTask", "scriptTask", "exclusiveGateway",
                       "intermediateCatchEvent", "parallelGateway"}:
                name = node.get("name", "")
                assert " / " in name, f"{path.name}: {node.get('id')} has no bilingual name: {name!r}"
