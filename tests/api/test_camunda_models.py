"""Camunda 7 models deploy unchanged: JUEL conditions and assignees, FEEL unary tests in DMN cells,
literal assignees, and Camunda 8 (Zeebe) files refused with what to choose instead.

Everything goes through the API; the invoice example is Camunda's own shape (two decisions of one
DMN file with FEEL cells, JUEL conditions, user tasks, an http-connector service task) run to its end.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from engine.clock import FrozenClock
from engine.config import EngineConfig
from engine.http_connector import run_http_connectors
from tests.conftest import TEST_PROCESSES
from tests.loopback_http import Answer, Request, serving_json

Login = Callable[[str], dict[str, str]]


def _bundle(client: TestClient, login: Login, *paths: Path, dry_run: bool = False) -> Any:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for path in paths:
            bundle.write(path, path.name)
    return client.post(f"/api/definitions?dry_run={str(dry_run).lower()}", headers=login("designer"),
                       files={"file": ("bundle.zip", buffer.getvalue(), "application/zip")})


def _start(client: TestClient, login: Login, key: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/instances", headers=login("admin"), json={"definition_key": key,
                                                                            "variables": variables})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _instance(client: TestClient, login: Login, instance_id: str) -> dict[str, Any]:
    return dict(client.get(f"/api/instances/{instance_id}", headers=login("admin")).json())


@pytest.fixture
def archive() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    def store(request: Request) -> Answer:
        received.append(request.body)
        return 200, {"id": f"AR-{len(received)}"}

    with serving_json(store) as url:
        yield url, received


def _work(client: TestClient, login: Login, instance_id: str, element: str, user: str,
          data: dict[str, Any]) -> dict[str, Any]:
    headers = login(user)
    [task] = [t for t in client.get("/api/tasks", headers=headers).json()["items"]
              if t["instance_id"] == instance_id and t["element_id"] == element]
    if task["assignee"] != user:
        assert client.post(f"/api/tasks/{task['task_id']}/claim", headers=headers).status_code == 200
    done = client.post(f"/api/tasks/{task['task_id']}/complete", headers=headers, json={"data": data})
    assert done.status_code == 200, done.text
    return dict(task)


def test_the_invoice_example_deploys_unchanged_and_runs_to_its_end(
        client: TestClient, login: Login, archive: tuple[str, list[dict[str, Any]]],
        factory: sessionmaker[Session], clock: FrozenClock) -> None:
    deployed = _bundle(client, login, TEST_PROCESSES / "invoice.bpmn", TEST_PROCESSES / "invoice_rules.dmn")
    assert deployed.status_code == 201, deployed.text
    by_key = {d["key"]: d for d in deployed.json()["definitions"]}
    assert set(by_key) == {"invoice", "invoice_classification", "invoice_approval"}
    translations = {t["element"]: (t["written"], t["runs"]) for t in by_key["invoice"]["translations"]}
    assert translations["f_approval"] == (
        "${needs_approval && not empty approver_note}",
        "needs_approval and not (approver_note is None or approver_note == '' or approver_note == [] "
        "or approver_note == {})")
    assert translations["f_yes"] == ("${rcc_approved eq true}", "rcc_approved == True")
    assert translations["approve"] == ("rcc_director", "'rcc_director'")
    cells = {t["element"]: t["runs"] for t in by_key["invoice_classification"]["translations"]}
    assert cells["budget_amount"] == "250 <= ? and ? <= 1000"
    assert cells["input_amount_expression"] == "amount"

    url, received = archive
    started = _start(client, login, "invoice", {"amount": 1500, "category": "Travel",
                                                "approver_note": "conference", "archive_url": url})
    instance_id = started["instance_id"]
    detail = _instance(client, login, instance_id)
    assert detail["variables"]["invoice_class"] == "exceptional" and detail["variables"]["needs_approval"] is True
    [waiting] = detail["waiting_tasks"]
    assert waiting["element_id"] == "approve" and waiting["assignee"] == "rcc_director"  # the literal user name
    _work(client, login, instance_id, "approve", "rcc_director", {"rcc_approved": True})
    connector = EngineConfig(http_connector_timeout_seconds=5)
    with httpx.Client() as http:
        assert run_http_connectors(factory, clock, config=connector, http=http) == 1
    assert received == [{"amount": 1500, "class": "exceptional"}]
    _work(client, login, instance_id, "prepare_payment", "rcc_director", {"rcc_approved": True})
    detail = _instance(client, login, instance_id)
    assert detail["status"] == "completed" and detail["variables"]["archive_id"] == "AR-1"
    history = client.get(f"/api/instances/{instance_id}/history", headers=login("admin")).json()
    assert [e["data"]["end_event"] for e in history if e["event_type"] == "ended"] == ["paid"]


def test_an_invoice_without_need_of_approval_skips_it_by_the_juel_condition(
        client: TestClient, login: Login, archive: tuple[str, list[dict[str, Any]]]) -> None:
    assert _bundle(client, login, TEST_PROCESSES / "invoice.bpmn",
                   TEST_PROCESSES / "invoice_rules.dmn").status_code == 201
    started = _start(client, login, "invoice", {"amount": 300, "category": "Misc", "approver_note": "",
                                                "archive_url": archive[0]})
    detail = _instance(client, login, started["instance_id"])
    assert detail["variables"]["invoice_class"] == "budget" and detail["variables"]["needs_approval"] is False
    assert detail["waiting_tasks"] == []  # at the archive call, which Tixi's worker makes
    history = client.get(f"/api/instances/{started['instance_id']}/history", headers=login("admin")).json()
    assert [(e["data"]["element"], e["data"]["topic"]) for e in history if e["event_type"] == "external_task_created"
            ] == [("archive", "tixi-http-connector")]
    assert not [e for e in history if e["event_type"] == "task_created"]  # "approve" was skipped


@pytest.mark.parametrize(("amount", "category", "expected"), [
    (100, "Misc", "day-to-day expense"),  # < 250 and -
    (250, "Travel", "budget"),  # [250..1000] includes its low end; "Misc","Travel"
    (1000, "Misc", "budget"),  # and its high end
    (500, "Hardware", "exceptional"),  # not("Misc","Travel")
    (1000.5, "Misc", "exceptional"),  # ]1000..1000000] excludes 1000
], ids=["less than", "range low end", "range high end", "not a list", "open range"])
def test_feel_unary_tests_in_dmn_cells_evaluate_as_feel(client: TestClient, login: Login, amount: float,
                                                        category: str, expected: str) -> None:
    process = ('<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
               'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">'
               '<bpmn:process id="classify_only" isExecutable="true"><bpmn:startEvent id="s"/>'
               '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="c"/>'
               '<bpmn:businessRuleTask id="c" camunda:decisionRef="invoice_classification"/>'
               '<bpmn:sequenceFlow id="f2" sourceRef="c" targetRef="e"/><bpmn:endEvent id="e"/>'
               '</bpmn:process></bpmn:definitions>')
    assert client.post("/api/definitions", headers=login("designer"), files={"file": (
        "invoice_rules.dmn", (TEST_PROCESSES / "invoice_rules.dmn").read_bytes(), "application/xml")}).status_code == 201
    assert client.post("/api/definitions", headers=login("designer"), files={"file": (
        "classify.bpmn", process.encode(), "application/xml")}).status_code == 201
    started = _start(client, login, "classify_only", {"amount": amount, "category": category})
    assert started["status"] == "completed"
    assert _instance(client, login, started["instance_id"])["variables"]["invoice_class"] == expected


_FLOW = ('<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
         'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">'
         '<bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="s"/>{body}</bpmn:process>'
         '</bpmn:definitions>')
_USER = ('<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="t"/><bpmn:userTask id="t" '
         'camunda:formKey="rcc_site_review" {attributes}/>')


@pytest.mark.parametrize(("body", "element", "message"), [
    ('<bpmn:sequenceFlow id="go" sourceRef="s" targetRef="e"><bpmn:conditionExpression>${ok ? a : b}'
     '</bpmn:conditionExpression></bpmn:sequenceFlow><bpmn:endEvent id="e"/>', "go",
     "condition refused: the JUEL expression '${ok ? a : b}' uses the conditional operator ?:"),
    ('<bpmn:sequenceFlow id="go" sourceRef="s" targetRef="e"><bpmn:conditionExpression>${items.size() &gt; 0}'
     '</bpmn:conditionExpression></bpmn:sequenceFlow><bpmn:endEvent id="e"/>', "go",
     "calls 'size(...)', which Tixi cannot translate"),
    ('<bpmn:sequenceFlow id="go" sourceRef="s" targetRef="e"><bpmn:conditionExpression>=amount &gt; 5'
     '</bpmn:conditionExpression></bpmn:sequenceFlow><bpmn:endEvent id="e"/>', "go",
     "is written for Camunda 8 (a FEEL expression starting with '='), which Tixi does not run: choose Camunda 7"),
    (_USER.format(attributes='camunda:candidateGroups="${group}"'), "t",
     "camunda:candidateGroups '${group}' is an expression, which Tixi does not evaluate there: write group ids"),
    (_USER.format(attributes='camunda:candidateGroups="outlet" camunda:dueDate="${due}"'), "t",
     "camunda:dueDate '${due}' is an expression"),
    (_USER.format(attributes='camunda:candidateGroups="outlet" camunda:assignee="user-${id}"'), "t",
     "camunda:assignee 'user-${id}' mixes text and an expression"),
    (_USER.format(attributes='camunda:candidateGroups="outlet" camunda:candidateUsers="=reviewers"'), "t",
     "camunda:candidateUsers '=reviewers' is written for Camunda 8"),
], ids=["ternary", "method call", "FEEL condition", "group expression", "due expression", "mixed assignee",
        "FEEL candidate users"])
def test_an_expression_tixi_cannot_translate_is_refused_naming_it(client: TestClient, login: Login, body: str,
                                                                  element: str, message: str) -> None:
    response = client.post("/api/definitions?dry_run=true", headers=login("designer"),
                           files={"file": ("p.bpmn", _FLOW.format(body=body).encode(), "application/xml")})
    assert response.status_code == 422, response.text
    assert response.json()["element"] == element
    assert message in response.json()["detail"], response.json()["detail"]


def test_a_camunda_8_file_is_refused_saying_to_choose_camunda_7(client: TestClient, login: Login) -> None:
    path = TEST_PROCESSES / "refused" / "camunda8_review.bpmn"
    for dry_run in ("true", "false"):
        response = client.post(f"/api/definitions?dry_run={dry_run}", headers=login("designer"),
                               files={"file": (path.name, path.read_bytes(), "application/xml")})
        assert response.status_code == 422, response.text
        assert response.json()["element"] == "review"
        assert ("<zeebe:assignmentDefinition> on 'review' is Camunda 8 (Zeebe) markup, and Tixi runs Camunda 7 "
                "models: choose Camunda 7 in the modeler") in response.json()["detail"], response.json()["detail"]
    assert client.get("/api/definitions", headers=login("admin")).json() == []


_LATER = ('<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
          'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">'
          '<bpmn:process id="later_assignee" isExecutable="true"><bpmn:startEvent id="s"/>'
          '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="first"/>'
          '<bpmn:userTask id="first" camunda:candidateGroups="rcc_director" camunda:formKey="rcc_site_review"/>'
          '<bpmn:sequenceFlow id="f2" sourceRef="first" targetRef="second"/>'
          '<bpmn:userTask id="second" name="Second" camunda:candidateGroups="rcc_director" '
          'camunda:assignee="${owners[area]}" camunda:formKey="rcc_site_review"/>'
          '<bpmn:sequenceFlow id="f3" sourceRef="second" targetRef="e"/><bpmn:endEvent id="e"/>'
          '</bpmn:process></bpmn:definitions>')


def test_a_later_tasks_failing_assignee_is_an_incident_on_it_not_a_refusal_of_the_completion(
        client: TestClient, login: Login) -> None:
    assert client.post("/api/definitions", headers=login("designer"), files={"file": (
        "later.bpmn", _LATER.encode(), "application/xml")}).status_code == 201
    instance_id = _start(client, login, "later_assignee", {"area": "north"})["instance_id"]
    _work(client, login, instance_id, "first", "rcc_director", {"rcc_approved": True})  # 200: the completion stands
    detail = _instance(client, login, instance_id)
    assert detail["status"] == "failed"
    assert "the assignee expression of 'Second' failed" in detail["status_reason"]
    [waiting] = detail["waiting_tasks"]
    assert waiting["element_id"] == "second" and waiting["assignee"] is None
    history = client.get(f"/api/instances/{instance_id}/history", headers=login("admin")).json()
    [incident] = [e for e in history if e["event_type"] == "incident"]
    assert incident["data"]["element"] == "second" and incident["task_id"] == waiting["task_id"]

    retried = client.post(f"/api/instances/{instance_id}/retry", headers=login("admin"),
                          json={"reason": "the owners table is fixed by hand"})
    assert retried.status_code == 200, retried.text
    assert _instance(client, login, instance_id)["status"] == "running"
    _work(client, login, instance_id, "second", "rcc_director", {"rcc_approved": True})
    assert _instance(client, login, instance_id)["status"] == "completed"
