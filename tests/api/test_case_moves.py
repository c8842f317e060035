"""退回 / 撤回 / 转交 through HTTP: sending a case back to an earlier step, the starter withdrawing it,
handing a task on with a reason; each in the history and the approval record, each refusal clear
and changing nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.approval_record import approval_record
from engine.identity import Actor
from engine.instances import instance_history
from engine.invariants import check_invariants
from engine.tables import Deadline, Timer
from tests.api.conftest import Desk, events_of
from tests.api.test_return_exchange import REQUEST, with_invoice
from tests.conftest import TEST_PROCESSES

ADMIN = Actor("admin", frozenset({"admin"}))
INSPECTED = {"days_since_purchase": 16, "quality_problem": True, "significant_problem": True, "disputed": False,
             "inspection_notes": "电机异响 / the motor is noisy"}
REASON = "照片不清，请重新检测 / photos unclear: inspect again"


def _at_director(desk: Desk) -> tuple[str, dict[str, Any]]:
    """A return case inspected by the outlet, waiting for the RCC director's approval."""
    instance_id = desk.start("outlet", "return_exchange", with_invoice(desk, "outlet", REQUEST), business_key=f"TH-{uuid.uuid4().hex[:6]}")
    desk.work("outlet", instance_id, "inspect_product", INSPECTED)
    return instance_id, desk.task_of("rcc_director", instance_id, "rcc_director_approval")


def _record(factory: sessionmaker[Session], instance_id: str) -> list[Any]:
    with factory() as session:
        return approval_record(instance_history(session, actor=ADMIN, instance_id=uuid.UUID(instance_id)))


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return dict(response.json())


# 退回 / Send back ---------------------------------------------------------------------------------


def test_the_director_sends_a_return_back_to_the_inspection_which_reopens_with_its_data(
        desk: Desk, client: TestClient, factory: sessionmaker[Session]) -> None:
    instance_id, approval = _at_director(desk)
    sent = client.post(f"/api/tasks/{approval['task_id']}/send-back", headers=desk.login("rcc_director"),
                       json={"to": "inspect_product", "reason": REASON})
    assert sent.status_code == 200, sent.text
    reopened = sent.json()
    assert (reopened["element_id"], reopened["status"], reopened["assignee"]) == ("inspect_product", "open", None)
    assert desk.queues() == {"outlet": ["inspect_product"]}  # the approval left the director's queue
    detail = client.get(f"/api/tasks/{reopened['task_id']}", headers=desk.login("outlet")).json()
    assert {k: detail["variables"][k] for k in INSPECTED} == INSPECTED  # the values last submitted, prefilled
    history = desk.history(instance_id)
    back = events_of(history, "task_sent_back")
    assert [(e["actor"], e["data"]["to"], e["data"]["reason"]) for e in back] == [
        ("rcc_director", "inspect_product", REASON)]
    assert [e["task_id"] for e in events_of(history, "task_cancelled")] == [approval["task_id"]]
    assert [e["task_id"] for e in events_of(history, "task_reopened")] == [reopened["task_id"]]
    with factory() as session:  # the approval's deadline closed, the inspection's clock runs again
        deadlines = {(d.element_id, d.status) for d in session.scalars(
            select(Deadline).where(Deadline.instance_id == uuid.UUID(instance_id), Deadline.task_id.is_not(None)))}
    assert deadlines == {("inspect_product", "met"), ("rcc_director_approval", "cancelled"),
                         ("inspect_product", "open")}
    entry = next(e for e in _record(factory, instance_id) if e.kind == "sent_back")
    assert (entry.actor, entry.step, entry.to, entry.text) == (
        "rcc_director", "RCC 主任批准退换货 / RCC director approves", "网点检测产品 / Outlet inspects the product", REASON)
    # The outlet inspects again; the case goes on from there as before.
    desk.work("outlet", instance_id, "inspect_product", {**INSPECTED, "inspection_notes": "重测 / inspected again"})
    again = desk.task_of("rcc_director", instance_id, "rcc_director_approval")
    assert again["task_id"] != approval["task_id"]
    decided = client.post(f"/api/tasks/{again['task_id']}/decide", headers=desk.login("rcc_director"),
                          json={"outcome": "approve"})
    assert decided.status_code == 200, decided.text
    assert desk.waiting(instance_id) == ["carry_out_return"]
    with factory() as session:  # the history and the rows still tell one story (a step done twice, reopened between)
        assert check_invariants(session).violations == []


def test_send_back_refusals_name_the_reason_and_change_nothing(desk: Desk, client: TestClient) -> None:
    instance_id, approval = _at_director(desk)
    url, director = f"/api/tasks/{approval['task_id']}/send-back", desk.login("rcc_director")
    before = desk.history(instance_id)
    not_declared = _problem(client.post(url, headers=director, json={"to": "technical_ruling", "reason": REASON}), 422)
    assert not_declared["field"] == "to" and "inspect_product" in not_declared["detail"]
    blank = _problem(client.post(url, headers=director, json={"to": "inspect_product", "reason": "   "}), 422)
    assert blank["field"] == "reason"
    assert client.post(url, headers=director, json={"to": "inspect_product"}).status_code == 422
    # Not the caller's: an admin outside the director group may look, not act; the outlet cannot see it.
    assert "rcc_director" in _problem(client.post(url, headers=desk.login("admin"),
                                                  json={"to": "inspect_product", "reason": REASON}), 403)["detail"]
    _problem(client.post(url, headers=desk.login("outlet"), json={"to": "inspect_product", "reason": REASON}), 404)
    assert desk.history(instance_id) == before
    assert desk.waiting(instance_id) == ["rcc_director_approval"]


def test_send_back_is_refused_to_a_step_the_case_did_not_pass(desk: Desk, client: TestClient,
                                                              deploy_file: Callable[[Path], list[dict]]) -> None:
    deploy_file(TEST_PROCESSES / "send_back_paths.bpmn")
    instance_id = desk.start("outlet", "send_back_paths", {"days": 3})  # the short way: the desk review
    desk.work("rcc_director", instance_id, "desk_review", {"rcc_approved": True})
    final = desk.task_of("rcc_director", instance_id, "final_check")
    url, director = f"/api/tasks/{final['task_id']}/send-back", desk.login("rcc_director")
    not_passed = _problem(client.post(url, headers=director, json={"to": "site_visit", "reason": REASON}), 409)
    assert "site_visit" in not_passed["detail"]
    assert desk.waiting(instance_id) == ["final_check"]
    # Unclaimed, a member of its group may send it back, as they may decide it.
    sent = client.post(url, headers=director, json={"to": "desk_review", "reason": REASON})
    assert sent.status_code == 200, sent.text
    assert desk.waiting(instance_id) == ["desk_review"]


def test_a_suspended_case_is_not_sent_back(desk: Desk, client: TestClient) -> None:
    instance_id, approval = _at_director(desk)
    suspended = client.post(f"/api/instances/{instance_id}/suspend", headers=desk.login("admin"),
                            json={"reason": "audit"})
    assert suspended.status_code == 200, suspended.text
    _problem(client.post(f"/api/tasks/{approval['task_id']}/send-back", headers=desk.login("rcc_director"),
                         json={"to": "inspect_product", "reason": REASON}), 409)


def test_deploy_refuses_a_return_to_that_names_no_user_task(client: TestClient,
                                                             login: Callable[[str], dict[str, str]]) -> None:
    source = (TEST_PROCESSES / "send_back_paths.bpmn").read_text(encoding="utf-8")
    for wrong in ("site_vist", "route"):  # a typo, and a gateway
        broken = source.replace('value="site_visit, desk_review"', f'value="{wrong}"')
        response = client.post("/api/definitions?dry_run=true", headers=login("designer"),
                               files={"file": ("send_back_paths.bpmn", broken.encode(), "text/xml")})
        problem = _problem(response, 422)
        assert [(e["element"], wrong in e["problem"]) for e in problem["errors"]] == [("final_check", True)]


# 撤回 / Withdraw -----------------------------------------------------------------------------------


def test_the_starter_withdraws_a_case_nobody_else_acted_on(desk: Desk, client: TestClient,
                                                           factory: sessionmaker[Session]) -> None:
    instance_id = desk.start("outlet", "return_exchange", with_invoice(desk, "outlet", REQUEST), business_key="TH-W-1")
    assert "withdraw" in desk.instance(instance_id, "outlet")["allowed_actions"]
    assert "withdraw" not in desk.instance(instance_id, "admin")["allowed_actions"]  # the starter's, not an admin's
    withdrawn = client.post(f"/api/instances/{instance_id}/withdraw", headers=desk.login("outlet"),
                            json={"reason": "顾客改主意了 / the customer changed their mind"})
    assert withdrawn.status_code == 200, withdrawn.text
    assert (withdrawn.json()["status"], withdrawn.json()["status_reason"]) == ("terminated", "withdrawn")
    assert withdrawn.json()["ended_at"] is not None
    assert desk.queues() == {}  # its open task is cancelled
    history = desk.history(instance_id)
    assert [e["data"]["reason"] for e in events_of(history, "withdrawn")] == ["顾客改主意了 / the customer changed their mind"]
    assert [e["data"]["element"] for e in events_of(history, "task_cancelled")] == ["inspect_product"]
    with factory() as session:
        assert not session.scalars(select(Timer).where(Timer.instance_id == uuid.UUID(instance_id),
                                                       Timer.status == "pending")).all()
        assert session.scalars(select(Deadline.status).where(Deadline.instance_id == uuid.UUID(instance_id))).all()
        assert "open" not in session.scalars(select(Deadline.status).where(
            Deadline.instance_id == uuid.UUID(instance_id))).all()
    entry = next(e for e in _record(factory, instance_id) if e.kind == "withdrawn")
    assert (entry.actor, entry.text) == ("outlet", "顾客改主意了 / the customer changed their mind")
    again = _problem(client.post(f"/api/instances/{instance_id}/withdraw", headers=desk.login("outlet"),
                                 json={"reason": "again"}), 409)
    assert "terminated" in again["detail"]
    with factory() as session:
        assert check_invariants(session).violations == []


def test_the_starters_own_step_does_not_block_withdrawing(desk: Desk, client: TestClient) -> None:
    instance_id = desk.start("outlet", "return_exchange", with_invoice(desk, "outlet", REQUEST), business_key="TH-W-2")
    desk.work("outlet", instance_id, "inspect_product", INSPECTED)  # the starter's outlet inspects it themselves
    assert "withdraw" in desk.instance(instance_id, "outlet")["allowed_actions"]
    done = client.post(f"/api/instances/{instance_id}/withdraw", headers=desk.login("outlet"), json={"reason": "重复 / duplicate"})
    assert done.status_code == 200, done.text
    assert desk.queues() == {}


def test_withdrawing_is_refused_once_someone_else_acted_or_to_anyone_but_the_starter(
        desk: Desk, client: TestClient) -> None:
    instance_id, approval = _at_director(desk)
    url = f"/api/instances/{instance_id}/withdraw"
    others = _problem(client.post(url, headers=desk.login("rcc_director"), json={"reason": "x"}), 403)
    assert "outlet" in others["detail"]
    _problem(client.post(url, headers=desk.login("designer"), json={"reason": "x"}), 404)
    _problem(client.post(url, headers=desk.login("outlet"), json={"reason": "  "}), 422)
    decided = client.post(f"/api/tasks/{approval['task_id']}/decide", headers=desk.login("rcc_director"),
                          json={"outcome": "approve"})
    assert decided.status_code == 200, decided.text
    assert "withdraw" not in desk.instance(instance_id, "outlet")["allowed_actions"]
    late = _problem(client.post(url, headers=desk.login("outlet"), json={"reason": "太晚 / too late"}), 409)
    assert "rcc_director" in late["detail"]
    assert desk.instance(instance_id)["status"] == "running"
    assert desk.waiting(instance_id) == ["carry_out_return"]


# 转交 / Hand on ------------------------------------------------------------------------------------


def test_handing_on_keeps_the_reason_in_the_history_and_the_record(desk: Desk, client: TestClient,
                                                                   factory: sessionmaker[Session]) -> None:
    added = client.post("/api/users", headers=desk.login("admin"),
                        json={"username": "director.two", "password": "long-enough-pw", "groups": ["rcc_director"]})
    assert added.status_code == 201, added.text
    instance_id, approval = _at_director(desk)
    director = desk.login("rcc_director")
    assert client.post(f"/api/tasks/{approval['task_id']}/claim", headers=director).status_code == 200
    handed = client.post(f"/api/tasks/{approval['task_id']}/assign", headers=director,
                         json={"assignee": "director.two", "reason": "我出差 / I am travelling"})
    assert handed.status_code == 200, handed.text
    assert handed.json()["assignee"] == "director.two"
    assigned = events_of(desk.history(instance_id), "task_assigned")
    assert [(e["actor"], e["data"]["assignee"], e["data"]["reason"]) for e in assigned] == [
        ("rcc_director", "director.two", "我出差 / I am travelling")]
    entry = next(e for e in _record(factory, instance_id) if e.kind == "assigned")
    assert (entry.actor, entry.to, entry.text) == ("rcc_director", "director.two", "我出差 / I am travelling")


def test_a_step_sent_back_still_counts_as_acted_on(desk: Desk, client: TestClient) -> None:
    added = client.post("/api/users", headers=desk.login("admin"),
                        json={"username": "outlet.two", "password": "long-enough-pw", "groups": ["outlet"]})
    assert added.status_code == 201, added.text
    instance_id = desk.start("outlet", "return_exchange", with_invoice(desk, "outlet", REQUEST), business_key="TH-W-3")
    colleague = desk.login("outlet.two", "long-enough-pw")  # a colleague of the starter inspects
    inspect = desk.task_of("outlet", instance_id, "inspect_product")
    assert client.post(f"/api/tasks/{inspect['task_id']}/claim", headers=colleague).status_code == 200
    done = client.post(f"/api/tasks/{inspect['task_id']}/complete", headers=colleague, json={"data": INSPECTED})
    assert done.status_code == 200, done.text
    approval = desk.task_of("rcc_director", instance_id, "rcc_director_approval")
    sent = client.post(f"/api/tasks/{approval['task_id']}/send-back", headers=desk.login("rcc_director"),
                       json={"to": "inspect_product", "reason": REASON})
    assert sent.status_code == 200, sent.text
    refused = _problem(client.post(f"/api/instances/{instance_id}/withdraw", headers=desk.login("outlet"),
                                   json={"reason": "不要了 / not needed"}), 409)
    assert "outlet.two" in refused["detail"]
