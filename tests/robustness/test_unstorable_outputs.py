"""Decision outputs no workflow can store (NaN, Infinity, a function, a set) are an incident, never stored.

A DMN output cell is a Python expression: `float('nan')` was stored as NaN on SQLite and was a 500 on
PostgreSQL, and `len` (a function) was a 500 on both. Now the business-rule task fails: after a
completed task the instance is `failed` at that element with a message saying the output cannot be
stored, the approver's work is kept, and the case data holds no trace of the value; at a start the
start is refused (422 naming the element) and nothing is stored, as any other failing start.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from engine.catalog import FormCatalog
from engine.clock import FrozenClock
from engine.errors import ProcessError
from engine.identity import Actor
from engine.instances import start_instance
from tests.conftest import TEST_PROCESSES
from tests.robustness.checks import audit_problems, snapshot

Login = Callable[[str], dict[str, str]]
OUTPUTS = {"nan": "float('nan')", "inf": "1e999", "minus_inf": "-float('inf')", "function": "len",
           "set": "{1, 2}", "ok": '"fine"'}


def _rule(kind: str, output: str) -> str:
    return (f'<rule id="rule_{kind}"><inputEntry id="in_{kind}"><text>"{kind}"</text></inputEntry>'
            f'<outputEntry id="out_{kind}"><text>{output}</text></outputEntry></rule>')


DMN = ('<?xml version="1.0" encoding="UTF-8"?>\n<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/"'
       ' id="defs_scoring" name="Scoring" namespace="https://tixi.example/test">\n'
       '  <decision id="scoring" name="Scoring"><decisionTable id="scoring_table" hitPolicy="UNIQUE">'
       '<input id="input_kind" label="Kind"><inputExpression id="input_kind_expression" typeRef="string">'
       '<text>kind</text></inputExpression></input>'
       '<output id="output_score" label="Score" name="score" typeRef="string"/>'
       + "".join(_rule(k, v) for k, v in OUTPUTS.items()) + '</decisionTable></decision>\n</definitions>\n')


def _process(key: str, *, review_first: bool) -> str:
    review = ('<bpmn:userTask id="review" name="Review" camunda:candidateGroups="quality"'
              ' camunda:formKey="agreement_confirmation"/>'
              '<bpmn:sequenceFlow id="f0" sourceRef="review" targetRef="decide"/>')
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions'
            ' xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'
            f' id="defs_{key}" targetNamespace="http://tixi.example/test">\n'
            f'  <bpmn:process id="{key}" name="{key}" isExecutable="true" camunda:candidateStarterGroups="quality">'
            '<bpmn:startEvent id="start"/>'
            f'<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="{"review" if review_first else "decide"}"/>'
            + (review if review_first else "") +
            '<bpmn:businessRuleTask id="decide" name="Score it" camunda:decisionRef="scoring"/>'
            '<bpmn:sequenceFlow id="f2" sourceRef="decide" targetRef="after"/>'
            '<bpmn:userTask id="after" name="After" camunda:candidateGroups="quality"'
            ' camunda:formKey="agreement_confirmation"/>'
            '<bpmn:sequenceFlow id="f3" sourceRef="after" targetRef="done"/><bpmn:endEvent id="done"/>'
            '</bpmn:process>\n</bpmn:definitions>\n')


@pytest.fixture
def scoring(client: TestClient, login: Login) -> None:
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("scoring.dmn", DMN)
        archive.writestr("scored_after_review.bpmn", _process("scored_after_review", review_first=True))
        archive.writestr("scored_at_start.bpmn", _process("scored_at_start", review_first=False))
    deployed = client.post("/api/definitions", headers=login("designer"),
                           files={"file": ("scoring.zip", bundle.getvalue(), "application/zip")})
    assert deployed.status_code == 201, deployed.text


UNSTORABLE = [("nan", "nan"), ("inf", "inf"), ("minus_inf", "-inf"), ("function", "builtin_function_or_method"),
              ("set", "set")]


@pytest.mark.parametrize(("kind", "shown"), UNSTORABLE, ids=[u[0] for u in UNSTORABLE])
def test_an_unstorable_decision_output_after_a_task_is_an_incident_at_the_decision(
    client: TestClient, login: Login, factory: sessionmaker[Session], scoring: None, kind: str, shown: str,
) -> None:
    quality, admin = login("quality"), login("admin")
    started = client.post("/api/instances", headers=quality,
                          json={"definition_key": "scored_after_review", "variables": {"kind": kind}})
    assert started.status_code == 201, started.text
    instance_id, task_id = started.json()["instance_id"], started.json()["waiting_tasks"][0]["task_id"]
    assert client.post(f"/api/tasks/{task_id}/claim", headers=quality).status_code == 200
    unraised = TestClient(client.app, raise_server_exceptions=False)  # the status a real client gets
    done = unraised.post(f"/api/tasks/{task_id}/complete", headers=quality,
                         json={"data": {"agreement_confirmed": True, "signatory_name": "王五"}})
    assert done.status_code == 200, done.text  # the review is done; the process failed after it
    detail = client.get(f"/api/instances/{instance_id}", headers=admin).json()
    assert detail["status"] == "failed", detail
    assert "score" not in detail["variables"] and detail["waiting_tasks"] == []
    assert _says_unstorable(detail["status_reason"], shown), detail
    history: list[dict[str, Any]] = client.get(f"/api/instances/{instance_id}/history", headers=admin).json()
    [incident] = [e for e in history if e["event_type"] == "incident"]
    assert incident["data"]["element"] == "decide", incident
    assert not [e for e in history if e["event_type"] == "decision_evaluated"]
    assert audit_problems(factory) == []


def _says_unstorable(message: str, shown: str) -> bool:
    """The decision check's words, or the sandbox worker's (a function never leaves the worker as a value)."""
    return ("cannot be stored" in message and shown in message) or "the value is not data" in message


@pytest.mark.parametrize(("kind", "shown"), UNSTORABLE, ids=[u[0] for u in UNSTORABLE])
def test_an_unstorable_decision_output_at_the_start_refuses_the_start(
    client: TestClient, login: Login, factory: sessionmaker[Session], scoring: None, kind: str, shown: str,
) -> None:
    before = snapshot(factory)
    unraised = TestClient(client.app, raise_server_exceptions=False)
    response = unraised.post("/api/instances", headers=login("quality"),
                             json={"definition_key": "scored_at_start", "variables": {"kind": kind}})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["type"] == "urn:tixi:problem:process-failed" and body["element"] == "decide", body
    assert _says_unstorable(body["detail"], shown), body
    assert snapshot(factory) == before
    assert audit_problems(factory) == []


def test_a_storable_decision_output_still_decides(client: TestClient, login: Login, scoring: None) -> None:
    started = client.post("/api/instances", headers=login("quality"),
                          json={"definition_key": "scored_at_start", "variables": {"kind": "ok"}})
    assert started.status_code == 201, started.text
    assert started.json()["variables"]["score"] == "fine"
    assert [t["element_id"] for t in started.json()["waiting_tasks"]] == ["after"]


@pytest.mark.parametrize("value", [float("nan"), float("-inf")], ids=["nan", "-inf"])
def test_any_other_unstorable_value_is_refused_at_save_not_a_500(
    client: TestClient, login: Login, factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog,
    value: object,
) -> None:
    # The API refuses such variables (test_hostile_variables); an engine caller that skips it meets the
    # serializer's own refusal, whatever made the value. (A function the library's encoder writes as null.)
    path = TEST_PROCESSES / "two_step_review.bpmn"
    assert client.post("/api/definitions", headers=login("designer"),
                       files={"file": (path.name, path.read_bytes(), "application/xml")}).status_code == 201
    before = snapshot(factory)
    with pytest.raises(ProcessError, match="cannot be stored: 'tasks.*data.odd' is"), factory() as session:
        with session.begin():
            start_instance(session, clock, catalog, actor=Actor("outlet", frozenset({"outlet"})),
                           definition_key="two_step_review", variables={"days": 3, "odd": value})
    assert snapshot(factory) == before
    assert audit_problems(factory) == []
