"""Deciding a task with one of its form's outcomes (同意 / 拒绝): one call claims an unclaimed task,
records the decision and opinion, sets the variable the gateway reads and completes the task.
Bad decisions are refused with a problem naming the field, and change nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.catalog import FormCatalog
from tests.api.conftest import Desk, events_of
from tests.api.test_complaint_handling import _complain
from tests.conftest import TEST_PROCESSES


@pytest.fixture
def review(desk: Desk, deploy_file: Callable[[Path], list[dict[str, Any]]]) -> tuple[str, str]:
    """A two-step review waiting, unclaimed, for the RCC director (form rcc_site_review: 通过 / 驳回)."""
    deploy_file(TEST_PROCESSES / "two_step_review.bpmn")
    instance_id = desk.start("outlet", "two_step_review", {"days": 3})
    return instance_id, desk.task_of("rcc_director", instance_id, "review")["task_id"]


def _decide(desk: Desk, task_id: str, body: dict[str, Any], user: str = "rcc_director") -> Any:
    return desk.client.post(f"/api/tasks/{task_id}/decide", headers=desk.login(user), json=body)


def test_one_call_claims_decides_and_routes_the_case(desk: Desk, review: tuple[str, str]) -> None:
    instance_id, task_id = review
    done = _decide(desk, task_id, {"outcome": "approve", "opinion": "现场整洁 / tidy site",
                                   "data": {"site_inspection_notes": "门店 80 平方米"}})
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["assignee"]) == ("completed", "rcc_director")
    history = desk.history(instance_id)
    kinds = [e["event_type"] for e in history if e["task_id"] == task_id]
    assert kinds[kinds.index("task_claimed"):] == ["task_claimed", "task_decided", "task_completed"]
    [decided] = events_of(history, "task_decided")
    assert (decided["actor"], decided["data"]["outcome"], decided["data"]["opinion"]) == (
        "rcc_director", "approve", "现场整洁 / tidy site")
    assert decided["data"]["title"] == "通过 / Pass"
    [completed] = [e for e in events_of(history, "task_completed") if e["task_id"] == task_id]
    assert completed["data"]["submitted"] == {"site_inspection_notes": "门店 80 平方米", "rcc_approved": True}
    detail = desk.instance(instance_id)
    assert [t["element_id"] for t in detail["pending_timers"]] == ["wait"]  # the approved path


def test_a_rejection_needs_an_opinion_which_becomes_the_reason(desk: Desk, review: tuple[str, str]) -> None:
    instance_id, task_id = review
    before = desk.history(instance_id)
    refused = _decide(desk, task_id, {"outcome": "reject", "opinion": "  "})
    assert refused.status_code == 422
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in refused.json()["errors"]] == ["opinion"]
    assert desk.history(instance_id) == before  # not even the claim is kept
    assert desk.task_of("rcc_director", instance_id, "review")["assignee"] is None

    done = _decide(desk, task_id, {"outcome": "reject", "opinion": "面积不足 / too small"})
    assert done.status_code == 200, done.text
    detail = desk.instance(instance_id)
    assert detail["status"] == "completed"  # the rejected end
    assert (detail["variables"]["rcc_approved"], detail["variables"]["rejection_reason"]) == (
        False, "面积不足 / too small")


@pytest.mark.parametrize(("body", "field"), [
    ({"outcome": "maybe"}, "outcome"),
    ({"outcome": ""}, "outcome"),
    ({"outcome": "approve", "opinion": "x" * 2001}, "opinion"),
    ({"outcome": "approve", "data": {"rcc_approved": "yes"}}, None),  # the decision sets the field itself
    ({"outcome": "approve", "data": {"no_such_field": 1}}, "no_such_field"),
])
def test_bad_decisions_are_refused_naming_the_field(desk: Desk, review: tuple[str, str], body: dict[str, Any],
                                                    field: str | None) -> None:
    instance_id, task_id = review
    before = desk.history(instance_id)
    answer = _decide(desk, task_id, body)
    if field is None:  # a typed value the decision overrides is no error
        assert answer.status_code == 200, answer.text
        assert desk.instance(instance_id)["variables"]["rcc_approved"] is True
        return
    assert answer.status_code == 422, answer.text
    assert field in [e["field"] for e in answer.json()["errors"]]
    assert desk.history(instance_id) == before


def test_decisions_follow_the_task_rules(desk: Desk, review: tuple[str, str]) -> None:
    instance_id, task_id = review
    assert _decide(desk, task_id, {"outcome": "approve"}, user="outlet").status_code == 404  # not theirs to see
    assert _decide(desk, task_id, {"outcome": "approve"}, user="admin").status_code == 403  # not of its group
    suspended = desk.client.post(f"/api/instances/{instance_id}/suspend", headers=desk.login("admin"),
                                 json={"reason": "audit"})
    assert suspended.status_code == 200
    answer = _decide(desk, task_id, {"outcome": "approve"})
    assert answer.status_code == 409 and answer.json()["type"] == "urn:tixi:problem:instance-state"
    desk.client.post(f"/api/instances/{instance_id}/resume", headers=desk.login("admin"), json={"reason": "ok"})
    assert _decide(desk, task_id, {"outcome": "approve"}).status_code == 200
    again = _decide(desk, task_id, {"outcome": "approve"})
    assert again.status_code == 409 and again.json()["type"] == "urn:tixi:problem:task-not-ready"


def test_a_form_without_outcomes_has_no_decisions(desk: Desk) -> None:
    complaint = _complain(desk)
    repair = desk.task_of("outlet", complaint, "onsite_repair")["task_id"]
    answer = _decide(desk, repair, {"outcome": "approve"}, user="outlet")
    assert answer.status_code == 422
    assert "declares no decisions" in answer.json()["detail"]


@pytest.mark.parametrize(("outcomes", "problem"), [
    ([{"key": "ok", "title": "好 / OK", "set": {"missing": True}}], "lacks"),
    ([{"key": "ok", "title": "好 / OK"}, {"key": "ok", "title": "又 / Again"}], "twice"),
    ([{"key": "ok", "title": "好 / OK", "opinion": "sometimes"}], "optional or required"),
    ([{"key": "ok"}], "key and a title"),
])
def test_the_catalog_refuses_a_form_whose_outcomes_do_not_fit_it(tmp_path: Path, outcomes: list[Any],
                                                                 problem: str) -> None:
    (tmp_path / "bad.json").write_text(json.dumps({
        "type": "object", "properties": {"approved": {"type": "boolean"}}, "x-outcomes": outcomes}))
    with pytest.raises(ValueError, match=problem):
        FormCatalog(tmp_path)
