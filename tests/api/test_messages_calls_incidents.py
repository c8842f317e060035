"""Messages, call activities and incidents through HTTP."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.tables import AuditEvent, Instance
from tests.api.conftest import Desk
from tests.conftest import TEST_PROCESSES

Deploy = Callable[[Path], list[dict[str, Any]]]


def _counts(factory: sessionmaker[Session]) -> tuple[int, int]:
    with factory() as session:
        return (session.scalar(select(func.count()).select_from(Instance)) or 0,
                session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


@pytest.fixture
def messaging(desk: Desk, deploy_file: Deploy) -> Desk:
    for name in ("parts_wait.bpmn", "launch_on_message.bpmn"):
        deploy_file(TEST_PROCESSES / name)
    return desk


def _send(desk: Desk, user: str, **body: Any) -> Any:
    return desk.client.post("/api/messages", headers=desk.login(user), json=body)


def test_message_resumes_the_instance_with_the_business_key(messaging: Desk) -> None:
    first = messaging.start("rcc_agent", "parts_wait", {"case_id": "C-1"}, business_key="C-1")
    second = messaging.start("rcc_agent", "parts_wait", {"case_id": "C-2"}, business_key="C-2")
    assert messaging.waiting(first) == []
    response = _send(messaging, "rcc_agent", name="parts_arrived", business_key="C-2",
                     variables={"parts_eta": "2026-02-01"})
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "resumed"
    assert response.json()["instance_id"] == second
    assert messaging.waiting(second) == ["review"] and messaging.waiting(first) == []
    assert messaging.instance(second)["variables"]["parts_eta"] == "2026-02-01"
    received = [e for e in messaging.history(second) if e["event_type"] == "message_received"]
    assert [(e["actor"], e["data"]["message"], e["data"]["variables"]) for e in received] == [
        ("rcc_agent", "parts_arrived", {"parts_eta": "2026-02-01"})]


def test_message_correlates_by_variable(messaging: Desk) -> None:
    messaging.start("rcc_agent", "parts_wait", {"case_id": "C-1"})
    second = messaging.start("rcc_agent", "parts_wait", {"case_id": "C-2"})
    response = _send(messaging, "rcc_agent", name="parts_arrived", correlation_keys={"case_id": "C-2"})
    assert response.json()["instance_id"] == second


def test_ambiguous_and_unmatched_messages_change_nothing(messaging: Desk, factory: sessionmaker[Session]) -> None:
    messaging.start("rcc_agent", "parts_wait", {"case_id": "C-1"})
    messaging.start("rcc_agent", "parts_wait", {"case_id": "C-1"})
    before = _counts(factory)
    ambiguous = _send(messaging, "rcc_agent", name="parts_arrived", correlation_keys={"case_id": "C-1"})
    assert ambiguous.status_code == 409
    assert ambiguous.json()["matches"] == 2
    nothing = _send(messaging, "rcc_agent", name="parts_arrived", business_key="C-404")
    assert nothing.status_code == 404
    assert "no instance you may reach waits for message 'parts_arrived' with business_key 'C-404'" in nothing.json()["detail"]
    unknown = _send(messaging, "rcc_agent", name="no_such_message")
    assert unknown.status_code == 404
    assert _counts(factory) == before


def test_message_starts_a_process(messaging: Desk) -> None:
    response = _send(messaging, "training", name="test_product_launch", business_key="X-900",
                     variables={"product_model": "X-900"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["outcome"], body["definition_key"], body["element_id"]) == ("started", "launch_on_message",
                                                                          "launch_start")
    instance_id = body["instance_id"]
    assert messaging.waiting(instance_id) == ["review"]
    started = messaging.history(instance_id)[0]
    assert started["data"]["message"] == "test_product_launch" and started["actor"] == "training"
    denied = _send(messaging, "outlet", name="test_product_launch")
    assert denied.status_code == 403
    by_hand = messaging.client.post("/api/instances", headers=messaging.login("training"),
                                    json={"definition_key": "launch_on_message", "variables": {}})
    assert by_hand.status_code == 422
    assert "started by message events only" in by_hand.json()["detail"]


def test_call_activity_runs_latest_callee_and_incident_is_retried(desk: Desk, deploy_file: Deploy,
                                                                   client: Any) -> None:
    # The caller cannot be deployed before what it calls.
    with (TEST_PROCESSES / "caller_case.bpmn").open("rb") as handle:
        refused = client.post("/api/definitions", headers=desk.login("designer"),
                              files={"file": ("caller_case.bpmn", handle, "application/xml")})
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["element"] == "callee_visit"
    deploy_file(TEST_PROCESSES / "callee_visit.bpmn")
    deploy_file(TEST_PROCESSES / "caller_case.bpmn")

    instance_id = desk.start("rcc_agent", "caller_case", {}, business_key="CASE-1")
    desk.work("rcc_director", instance_id, "handle", {"rcc_approved": True})
    # The called process's task goes to its own group, inside the same instance.
    task = desk.task_of("rcc_visitor", instance_id, "visit")
    assert task["definition_key"] == "caller_case"
    desk.work("rcc_visitor", instance_id, "visit", {"agreement_confirmed": True, "signatory_name": "王"})

    # The gateway after the call reads a variable nobody set: an incident, the visit is kept.
    detail = desk.instance(instance_id)
    assert detail["status"] == "failed"
    assert "missing_until_retry" in detail["status_reason"]
    history = desk.history(instance_id)
    incident = [e for e in history if e["event_type"] == "incident"]
    assert incident and incident[-1]["data"]["element"] == "check"
    assert [e["data"]["element"] for e in history if e["event_type"] == "task_completed"] == ["handle", "visit"]
    # Call activity steps show in the parent's history.
    assert any(e["data"].get("process") == "callee_visit" for e in history if e["event_type"] == "task_created")

    admin = desk.login("admin")
    assert client.post(f"/api/instances/{instance_id}/retry", headers=desk.login("rcc_director"),
                       json={"reason": "x"}).status_code == 403
    still_failing = client.post(f"/api/instances/{instance_id}/retry", headers=admin, json={"reason": "try again"})
    assert still_failing.status_code == 422
    assert desk.instance(instance_id)["status"] == "failed"
    fixed = client.post(f"/api/instances/{instance_id}/retry", headers=admin,
                        json={"reason": "补录缺失字段", "variables": {"missing_until_retry": 1}})
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["status"] == "completed"
    types = [e["event_type"] for e in desk.history(instance_id)]
    assert "call_activity_completed" in types
    assert types[-4:] == ["incident_resolved", "gateway_decision", "element_completed", "ended"]
