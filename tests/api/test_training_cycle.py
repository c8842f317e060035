"""The training cycle (培训) end to end through HTTP: the annual round on its calendar timer, special
rounds started by messages, regional rounds started by hand, and the evaluation looping back to the plan."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from engine.clock import FrozenClock
from engine.timers import fire_due_timers, fire_start_timers
from tests.api.conftest import Desk, Login, events_of

# R/2027-01-04T09:00:00+08:00/P1Y: 01:00 UTC on 4 January of every year from 2027.
FIRST_ROUND = datetime(2027, 1, 4, 1, 0, tzinfo=UTC)

ANALYSIS = {"analysis_period": "2026 全年 / year 2026", "satisfaction_index": 82.5,
            "weakest_dimension": "responsiveness", "weak_link": "网点上门不及时 / slow on-site response",
            "performance_gap": "24 小时上门率 91%，目标 98%"}
SURVEY = {"survey_methods": ["interview", "site_visit"], "survey_findings": "工程师排程能力不足 / weak scheduling"}
TRAINEES = {"trainee_roles": ["outlet_engineer", "outlet_reception"], "trainee_count": 120}
OBJECTIVES = {"training_objectives": "提高 24 小时上门率", "target_metric": "24 小时上门率 / on-site within 24 h",
              "target_score": 98}
PLAN = {"plan_summary": "分三期集中培训 / three sessions", "plan_start_date": "2027-03-01",
        "plan_end_date": "2027-04-30", "venue": "上海培训中心", "trainers": "技术管理科", "budget_amount": 80000}
RESOURCES = {"training_materials": "排程手册、案例集 / scheduling handbook", "materials_ready": True}
DELIVERY = {"delivered_from": "2027-03-01", "delivered_to": "2027-04-28", "participants_count": 117}
OFF_TARGET = {"results_on_target": False, "evaluation_score": 91,
              "corrective_actions": "增加现场实操 / more hands-on practice"}
ON_TARGET = {"results_on_target": True, "evaluation_score": 98.5, "evaluation_notes": "达标 / on target"}
REGIONAL_REQUEST = {"training_scope": "regional", "training_trigger": "regional_need", "region": "西南",
                    "training_reason": "西南新增网点多 / many new outlets in the south-west"}




def _training_instances(desk: Desk) -> list[dict[str, Any]]:
    response = desk.client.get("/api/instances", headers=desk.login("admin"),
                               params={"definition_key": "training_cycle"})
    assert response.status_code == 200, response.text
    return sorted(response.json()["items"], key=lambda i: i["started_at"])


def _send(desk: Desk, user: str, **body: Any) -> Any:
    return desk.client.post("/api/messages", headers=desk.login(user), json=body)


def _assert_cycle_opened(desk: Desk, instance_id: str, scope: str, trigger: str) -> None:
    """Every start leads into the same first step: performance analysis, for training and quality."""
    assert desk.waiting(instance_id) == ["performance_analysis"]
    for role in ("training", "quality"):
        assert [t["element_id"] for t in desk.queue(role) if t["instance_id"] == instance_id] == [
            "performance_analysis"]
    variables = desk.instance(instance_id)["variables"]
    assert (variables["training_scope"], variables["training_trigger"]) == (scope, trigger)


def _run_to_evaluation(desk: Desk, instance_id: str, analyst: str = "training") -> None:
    """Steps 1 to 7 of the eight: analysis, survey, trainees, objectives, plan, resources, delivery."""
    desk.work(analyst, instance_id, "performance_analysis", ANALYSIS)
    # Done by one group, gone from the other's queue too.
    assert desk.queues() == {"training": ["training_survey"]}
    desk.work("training", instance_id, "training_survey", SURVEY)
    desk.work("training", instance_id, "select_trainees", TRAINEES)
    desk.work("training", instance_id, "set_objectives", OBJECTIVES)
    _plan_to_evaluation(desk, instance_id)


def _plan_to_evaluation(desk: Desk, instance_id: str, plan: dict[str, Any] = PLAN) -> None:
    assert desk.queues() == {"training": ["draft_plan"]}
    desk.work("training", instance_id, "draft_plan", plan)
    # The technical lead prepares the material.
    assert desk.queues() == {"tech_section": ["prepare_resources"]}
    desk.work("tech_section", instance_id, "prepare_resources", RESOURCES)
    assert desk.queues() == {"training": ["deliver_training"]}
    desk.work("training", instance_id, "deliver_training", DELIVERY)
    assert desk.queues() == {"training": ["evaluate_training"]}


def _evaluate_on_target(desk: Desk, instance_id: str) -> list[dict[str, Any]]:
    desk.work("training", instance_id, "evaluate_training", ON_TARGET)
    detail = desk.instance(instance_id)
    assert detail["status"] == "completed" and detail["waiting_tasks"] == []
    assert desk.queues() == {}
    history = desk.history(instance_id)
    assert history[-1]["event_type"] == "ended"
    assert history[-1]["data"]["end_event"] == "training_completed"
    return history


def test_annual_cycle_starts_once_per_round_on_its_timer(desk: Desk, factory: sessionmaker[Session],
                                                         clock: FrozenClock) -> None:
    # Deployed on 2026-01-05: nothing is due for a year.
    assert fire_start_timers(factory, clock) == 0
    clock.set(FIRST_ROUND - timedelta(seconds=1))
    assert fire_start_timers(factory, clock) == 0
    assert _training_instances(desk) == []

    clock.set(FIRST_ROUND + timedelta(seconds=1))
    assert fire_start_timers(factory, clock) == 1
    assert fire_start_timers(factory, clock) == 0  # the tick again starts none
    assert fire_due_timers(factory, clock) == 0  # the instance holds no timer of its own
    clock.advance(timedelta(days=200))
    assert fire_start_timers(factory, clock) == 0
    rounds = _training_instances(desk)
    assert len(rounds) == 1
    first = rounds[0]["instance_id"]
    assert rounds[0]["started_by"] == "scheduler"
    _assert_cycle_opened(desk, first, "annual", "annual_calendar")
    history = desk.history(first)
    started = history[0]
    assert started["event_type"] == "started" and started["actor"] == "scheduler"
    assert started["data"]["timer"] == "annual_start"
    assert datetime.fromisoformat(started["data"]["due_at"]) == FIRST_ROUND
    assert [(e["actor"], e["data"]["element"]) for e in events_of(history, "timer_fired")] == [
        ("scheduler", "annual_start")]
    steps = [e["data"]["element"] for e in events_of(history, "element_completed")]
    assert steps[0] == "set_annual_scope"
    assert not {"mass_failure_start", "new_product_start", "complaint_alarm_start", "training_requested"} & set(steps)
    assert desk.instance(first)["pending_timers"] == []

    # A year after the first round the next one starts: one more instance, on 4 January again.
    clock.set(FIRST_ROUND.replace(year=2028) - timedelta(seconds=1))
    assert fire_start_timers(factory, clock) == 0
    clock.set(FIRST_ROUND.replace(year=2028) + timedelta(seconds=1))
    assert fire_start_timers(factory, clock) == 1
    assert fire_start_timers(factory, clock) == 0
    rounds = _training_instances(desk)
    assert len(rounds) == 2
    second = rounds[1]["instance_id"]
    assert second != first
    assert datetime.fromisoformat(desk.history(second)[0]["data"]["due_at"]) == FIRST_ROUND.replace(year=2028)
    _assert_cycle_opened(desk, second, "annual", "annual_calendar")
    # Both rounds wait in the queues, each on its own performance analysis.
    assert sorted(t["instance_id"] for t in desk.queue("training")) == sorted([first, second])


def test_annual_cycle_runs_all_eight_steps(desk: Desk, factory: sessionmaker[Session], clock: FrozenClock) -> None:
    clock.set(FIRST_ROUND + timedelta(seconds=1))
    assert fire_start_timers(factory, clock) == 1
    instance_id = _training_instances(desk)[0]["instance_id"]
    # The quality specialist does the analysis this time.
    _run_to_evaluation(desk, instance_id, analyst="quality")
    history = _evaluate_on_target(desk, instance_id)
    done = [(e["actor"], e["data"]["element"]) for e in events_of(history, "task_completed")]
    assert done == [("quality", "performance_analysis"), ("training", "training_survey"),
                    ("training", "select_trainees"), ("training", "set_objectives"), ("training", "draft_plan"),
                    ("tech_section", "prepare_resources"), ("training", "deliver_training"),
                    ("training", "evaluate_training")]
    decisions = [[c["target"] for c in e["data"]["chosen"]] for e in events_of(history, "gateway_decision")
                 if e["data"]["element"] == "evaluation_decision"]
    assert decisions == [["training_completed"]]


@pytest.mark.parametrize(("message", "sender", "trigger"), [
    ("mass_product_failure", "training", "mass_product_failure"),
    ("new_product_launch", "training", "new_product_launch"),
    ("complaint_rate_alarm", "rcc_director", "complaint_rate_alarm"),
])
def test_special_cycle_starts_from_a_message(desk: Desk, message: str, sender: str, trigger: str) -> None:
    response = _send(desk, sender, name=message, business_key=f"PX-{trigger}",
                     variables={"product_model": "KFR-35GW", "alarm_note": "华东投诉率 3.2%"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["outcome"], body["definition_key"]) == ("started", "training_cycle")
    start_event = {"mass_product_failure": "mass_failure_start", "new_product_launch": "new_product_start",
                   "complaint_rate_alarm": "complaint_alarm_start"}[message]
    assert body["element_id"] == start_event
    instance_id = str(body["instance_id"])
    _assert_cycle_opened(desk, instance_id, "special", trigger)
    detail = desk.instance(instance_id)
    assert detail["business_key"] == f"PX-{trigger}"
    assert detail["variables"]["product_model"] == "KFR-35GW"
    history = desk.history(instance_id)
    assert history[0]["event_type"] == "started" and history[0]["actor"] == sender
    assert history[0]["data"]["message"] == message
    steps = [e["data"]["element"] for e in events_of(history, "element_completed")]
    assert start_event in steps
    # Only the message's own start event ran: no other start or scope script.
    assert not {"annual_start", "set_annual_scope", "training_requested"} & set(steps)

    # A second message of the same name starts a second, separate cycle.
    again = _send(desk, sender, name=message, variables={"product_model": "XQG-70"})
    assert again.status_code == 200, again.text
    assert again.json()["outcome"] == "started" and str(again.json()["instance_id"]) != instance_id
    assert len(_training_instances(desk)) == 2


def test_message_start_is_refused_to_non_starters_and_changes_nothing(desk: Desk) -> None:
    denied = _send(desk, "outlet", name="mass_product_failure")
    assert denied.status_code == 403, denied.text
    assert _training_instances(desk) == []
    assert desk.queues() == {}


def test_special_cycle_off_target_loops_back_to_the_plan(desk: Desk) -> None:
    response = _send(desk, "training", name="mass_product_failure", business_key="PX-2026-01",
                     variables={"product_model": "KFR-35GW"})
    instance_id = str(response.json()["instance_id"])
    _run_to_evaluation(desk, instance_id)
    desk.work("training", instance_id, "evaluate_training", OFF_TARGET)
    # Off target: back to the implementation plan (step 5), not to the analysis.
    assert desk.waiting(instance_id) == ["draft_plan"]
    assert desk.instance(instance_id)["status"] == "running"
    revised = {**PLAN, "plan_start_date": "2027-06-01", "plan_end_date": "2027-06-30",
               "plan_revision_notes": "增加现场实操 / more hands-on practice"}
    _plan_to_evaluation(desk, instance_id, revised)
    desk.work("training", instance_id, "evaluate_training", OFF_TARGET)
    _plan_to_evaluation(desk, instance_id, revised)
    history = _evaluate_on_target(desk, instance_id)

    done = [e["data"]["element"] for e in events_of(history, "task_completed")]
    assert done == ["performance_analysis", "training_survey", "select_trainees", "set_objectives",
                    *(["draft_plan", "prepare_resources", "deliver_training", "evaluate_training"] * 3)]
    decisions = [[c["target"] for c in e["data"]["chosen"]] for e in events_of(history, "gateway_decision")
                 if e["data"]["element"] == "evaluation_decision"]
    assert decisions == [["draft_plan"], ["draft_plan"], ["training_completed"]]
    final = history[-1]["data"]["variables"]
    assert final["results_on_target"] is True and final["plan_start_date"] == "2027-06-01"
    assert final["training_trigger"] == "mass_product_failure"


def test_regional_cycle_started_by_hand_by_the_rcc_director(desk: Desk, client: TestClient) -> None:
    # The form is checked before anything starts: a regional cycle names its region.
    incomplete = {k: v for k, v in REGIONAL_REQUEST.items() if k != "region"}
    refused = client.post("/api/instances", headers=desk.login("rcc_director"),
                          json={"definition_key": "training_cycle", "variables": incomplete})
    assert refused.status_code == 422, refused.text
    assert "region" in refused.text
    denied = client.post("/api/instances", headers=desk.login("outlet"),
                         json={"definition_key": "training_cycle", "variables": REGIONAL_REQUEST})
    assert denied.status_code == 403, denied.text
    assert _training_instances(desk) == []

    instance_id = desk.start("rcc_director", "training_cycle", REGIONAL_REQUEST, business_key="PX-XN-2026")
    _assert_cycle_opened(desk, instance_id, "regional", "regional_need")
    history = desk.history(instance_id)
    assert history[0]["actor"] == "rcc_director"
    assert history[0]["data"]["variables"] == REGIONAL_REQUEST
    steps = [e["data"]["element"] for e in events_of(history, "element_completed")]
    assert "training_requested" in steps
    assert not {"annual_start", "mass_failure_start", "new_product_start", "complaint_alarm_start"} & set(steps)
    task = desk.task_of("training", instance_id, "performance_analysis")
    assert task["region"] == "西南" and task["business_key"] == "PX-XN-2026"
    # The director who started it can follow it.
    assert desk.instance(instance_id, username="rcc_director")["status"] == "running"

    _run_to_evaluation(desk, instance_id)
    desk.work("training", instance_id, "evaluate_training", OFF_TARGET)
    _plan_to_evaluation(desk, instance_id)
    history = _evaluate_on_target(desk, instance_id)
    assert history[-1]["data"]["variables"]["region"] == "西南"


def test_training_specialist_logs_in_on_the_round_day(desk: Desk, login: Login, factory: sessionmaker[Session],
                                                      clock: FrozenClock) -> None:
    """On 4 January 2027 the scheduler starts the round and the specialist logs in to find it."""
    clock.set(FIRST_ROUND + timedelta(seconds=1))
    assert fire_start_timers(factory, clock) == 1
    clock.advance(timedelta(hours=1))
    headers = login("training")  # a token issued at Tixi's time, 2027-01-04 02:00 UTC
    response = desk.client.get("/api/tasks", headers=headers)
    assert response.status_code == 200, response.text
    assert [t["element_id"] for t in response.json()["items"]] == ["performance_analysis"]
