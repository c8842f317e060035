"""Hostile due dates: a `camunda:dueDate` or `sla_case_due` that cannot be counted is refused at deploy, naming
the element and the form expected; one that slipped in before that check fails the start with a 422, never a 500.

`"banana"`, `"24 hours"` and `P99999999D` used to deploy, and every start then answered 500 (or, in
working time, counted day by day for ever).
"""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import flag_modified

from engine.tables import Definition
from tests.robustness.checks import audit_problems, snapshot

Login = Callable[[str], dict[str, str]]


def due_process(due: str, *, working: bool = False, case_due: str | None = None) -> str:
    task_properties = ('<bpmn:extensionElements><camunda:properties><camunda:property name="sla_calendar" '
                       'value="working"/></camunda:properties></bpmn:extensionElements>') if working else ""
    case_properties = (f'<bpmn:extensionElements><camunda:properties><camunda:property name="sla_case_due" '
                       f'value="{case_due}"/></camunda:properties></bpmn:extensionElements>') if case_due else ""
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions'
            ' xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'
            ' id="defs" targetNamespace="http://tixi.example/test">\n'
            '  <bpmn:process id="due_case" name="Due" isExecutable="true" camunda:candidateStarterGroups="outlet">'
            f'{case_properties}\n'
            '    <bpmn:startEvent id="start"/>\n    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="repair"/>\n'
            '    <bpmn:userTask id="repair" name="Repair" camunda:candidateGroups="outlet"'
            f' camunda:formKey="agreement_confirmation" camunda:dueDate="{due}">{task_properties}</bpmn:userTask>\n'
            '    <bpmn:sequenceFlow id="f2" sourceRef="repair" targetRef="done"/>\n    <bpmn:endEvent id="done"/>\n'
            '  </bpmn:process>\n</bpmn:definitions>\n')


def _deploy(client: TestClient, login: Login, xml: str, *, dry_run: bool = False) -> httpx.Response:
    return client.post("/api/definitions", headers=login("designer"), params={"dry_run": str(dry_run).lower()},
                       files={"file": ("due.bpmn", xml.encode(), "application/xml")})


HOSTILE = [
    ("a word", due_process("banana"), "repair", "ISO 8601 duration"),
    ("English", due_process("24 hours"), "repair", "ISO 8601 duration"),
    ("an expression", due_process("${due}"), "repair", "ISO 8601 duration"),
    ("empty duration", due_process("P"), "repair", "ISO 8601 duration"),
    ("273,972 years", due_process("P99999999D"), "repair", "at most P10Y"),
    ("huge hours in working time", due_process("PT99999999H", working=True), "repair", "at most P10Y"),
    ("months in working time", due_process("P3M", working=True), "repair", "working days or hours"),
    ("case commitment", due_process("P2D", case_due="fifteen days"), "due_case", "ISO 8601 duration"),
]


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "deploy"])
@pytest.mark.parametrize(("case", "xml", "element", "expected"), HOSTILE, ids=[c[0] for c in HOSTILE])
def test_an_uncountable_due_date_is_refused_at_deploy(client: TestClient, login: Login,
                                                      factory: sessionmaker[Session], case: str, xml: str,
                                                      element: str, expected: str, dry_run: bool) -> None:
    before = snapshot(factory)
    response = _deploy(client, login, xml, dry_run=dry_run)
    assert response.status_code == 422, (case, response.text)
    body = response.json()
    assert body["type"] == "urn:tixi:problem:invalid-definition"
    [problem] = body["errors"]
    assert problem["element"] == element, body
    assert expected in problem["problem"], body
    assert snapshot(factory) == before
    assert audit_problems(factory) == []


@pytest.mark.parametrize("due", ["banana", "24 hours", "P99999999D"])
def test_a_due_date_deployed_before_the_check_fails_the_start_with_a_422(client: TestClient, login: Login,
                                                                         factory: sessionmaker[Session],
                                                                         due: str) -> None:
    assert _deploy(client, login, due_process("P2D")).status_code == 201
    with factory() as session, session.begin():  # what a version deployed by an older Tixi may hold
        definition = session.scalars(select(Definition).where(Definition.key == "due_case")).one()
        definition.elements["user_tasks"]["repair"]["due"] = due
        flag_modified(definition, "elements")
    before = snapshot(factory)
    unraised = TestClient(client.app, raise_server_exceptions=False)  # the status a real client gets
    response = unraised.post("/api/instances", headers=login("outlet"), json={"definition_key": "due_case"})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["type"] == "urn:tixi:problem:process-failed", body
    assert body["element"] == "repair" and due in body["detail"], body
    assert snapshot(factory) == before
    assert audit_problems(factory) == []
