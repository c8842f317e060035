"""Hostile timer cycles: a zero or sub-minute period is refused at deploy, naming the element, and quickly.

`R/2026-01-01T00:00:00Z/PT0S` used to hang deploy, its dry run too, stepping from 2026-01-01 to now
by zero seconds at a time. Each deploy runs in a thread with a deadline, so a regression fails the
test instead of hanging the run; a cycle that started long ago is computed, not stepped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.tables import StartTimer
from tests.robustness.checks import audit_problems, snapshot

Login = Callable[[str], dict[str, str]]
DEADLINE_SECONDS = 20.0
HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'
        ' id="defs" targetNamespace="http://tixi.example/test">\n'
        '  <bpmn:process id="cycle_case" name="Cycle" isExecutable="true" camunda:candidateStarterGroups="quality">\n')
TASK = ('    <bpmn:userTask id="inspect" name="Inspect" camunda:candidateGroups="quality"'
        ' camunda:formKey="agreement_confirmation"/>\n')
TAIL = '  </bpmn:process>\n</bpmn:definitions>\n'


def timer_start(cycle: str) -> str:
    return (HEAD + '    <bpmn:startEvent id="every_round" name="Every round"><bpmn:timerEventDefinition>'
            f'<bpmn:timeCycle xsi:type="bpmn:tFormalExpression">{cycle}</bpmn:timeCycle>'
            '</bpmn:timerEventDefinition></bpmn:startEvent>\n'
            '    <bpmn:sequenceFlow id="f1" sourceRef="every_round" targetRef="inspect"/>\n' + TASK +
            '    <bpmn:sequenceFlow id="f2" sourceRef="inspect" targetRef="done"/>\n'
            '    <bpmn:endEvent id="done"/>\n' + TAIL)


def boundary_cycle(cycle: str) -> str:
    return (HEAD + '    <bpmn:startEvent id="start"/>\n'
            '    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="inspect"/>\n' + TASK +
            '    <bpmn:boundaryEvent id="nag" attachedToRef="inspect" cancelActivity="false"><bpmn:timerEventDefinition>'
            f'<bpmn:timeCycle xsi:type="bpmn:tFormalExpression">{cycle}</bpmn:timeCycle>'
            '</bpmn:timerEventDefinition></bpmn:boundaryEvent>\n'
            '    <bpmn:sequenceFlow id="f2" sourceRef="inspect" targetRef="done"/>\n'
            '    <bpmn:sequenceFlow id="f3" sourceRef="nag" targetRef="nagged"/>\n'
            '    <bpmn:endEvent id="done"/>\n    <bpmn:endEvent id="nagged"/>\n' + TAIL)


def _deploy_within_deadline(client: TestClient, login: Login, xml: str, *, dry_run: bool) -> httpx.Response:
    """POST the file from a thread: a deploy that loops for ever fails here instead of hanging pytest."""
    headers, answer = login("designer"), []

    def post() -> None:
        answer.append(client.post("/api/definitions", headers=headers, params={"dry_run": str(dry_run).lower()},
                                  files={"file": ("cycle.bpmn", xml.encode(), "application/xml")}))

    worker = threading.Thread(target=post, daemon=True)  # a hung deploy must not keep pytest from exiting
    worker.start()
    worker.join(DEADLINE_SECONDS)
    assert not worker.is_alive(), f"deploy still running after {DEADLINE_SECONDS} s: it loops"
    return answer[0]


HOSTILE = [
    ("zero period from a start in the past", timer_start("R/2026-01-01T00:00:00Z/PT0S"), "every_round", "PT0S"),
    ("zero days", timer_start("R/2025-06-01T00:00:00Z/P0D"), "every_round", "P0D"),
    ("half a minute", timer_start("R/2026-01-01T00:00:00Z/PT30S"), "every_round", "PT30S"),
    ("zero period on a boundary timer", boundary_cycle("R/PT0S"), "nag", "PT0S"),
    ("one second on a boundary timer with a start", boundary_cycle('"R5/2026-01-01T00:00:00Z/PT1S"'), "nag", "PT1S"),
]


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "deploy"])
@pytest.mark.parametrize(("case", "xml", "element", "period"), HOSTILE, ids=[c[0] for c in HOSTILE])
def test_a_cycle_shorter_than_a_minute_is_refused_at_deploy(client: TestClient, login: Login,
                                                            factory: sessionmaker[Session], case: str, xml: str,
                                                            element: str, period: str, dry_run: bool) -> None:
    before = snapshot(factory)
    response = _deploy_within_deadline(client, login, xml, dry_run=dry_run)
    assert response.status_code == 422, (case, response.text)
    body: dict[str, Any] = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert body["type"] == "urn:tixi:problem:invalid-definition"
    [problem] = body["errors"]
    assert problem["element"] == element, body
    assert period in problem["problem"] and "one minute" in problem["problem"], body
    assert snapshot(factory) == before
    assert audit_problems(factory) == []


def test_a_minute_cycle_from_long_ago_schedules_its_next_round_at_once(client: TestClient, login: Login,
                                                                       factory: sessionmaker[Session]) -> None:
    # About 66 million rounds from 1900 to the test clock's 2026-01-05T09:00Z: stepping took minutes.
    response = _deploy_within_deadline(client, login, timer_start("R/1900-01-01T00:00:30Z/PT1M"), dry_run=False)
    assert response.status_code == 201, response.text
    with factory() as session:
        [row] = session.scalars(select(StartTimer).where(StartTimer.status == "pending")).all()
    assert row.due_at.astimezone(UTC) == datetime(2026, 1, 5, 9, 0, 30, tzinfo=UTC)
    assert audit_problems(factory) == []


@pytest.mark.parametrize("cycle", ["R/PT0S", "R/2026-01-01T00:00:00Z/PT1S"])
def test_a_computed_cycle_shorter_than_a_minute_fails_the_start_where_the_timer_is_reached(
    client: TestClient, login: Login, factory: sessionmaker[Session], cycle: str,
) -> None:
    # Deploy cannot know a computed value: the library reads it when the token reaches the timer.
    deployed = _deploy_within_deadline(client, login, boundary_cycle("nag_every"), dry_run=False)
    assert deployed.status_code == 201, deployed.text
    before = snapshot(factory)
    unraised = TestClient(client.app, raise_server_exceptions=False)  # the status a real client gets
    response = unraised.post("/api/instances", headers=login("quality"),
                             json={"definition_key": "cycle_case", "variables": {"nag_every": cycle}})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["type"] == "urn:tixi:problem:process-failed" and body["element"] == "nag", body
    assert "more often than once a minute" in body["detail"], body
    assert snapshot(factory) == before
    assert audit_problems(factory) == []
    hourly = client.post("/api/instances", headers=login("quality"),
                         json={"definition_key": "cycle_case", "variables": {"nag_every": "R/PT1H"}})
    assert hourly.status_code == 201, hourly.text
    assert [t["element_id"] for t in hourly.json()["pending_timers"]] == ["nag"]
