"""Complaint handling (投诉处理) end to end through HTTP: every dispatch path, the 24-hour escalation chain,
the return visit as a call activity, the reopen loop and the quality feedback to the technical lead."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from engine.clock import FrozenClock
from engine.timers import fire_due_timers
from tests.api.conftest import Desk, chosen_by, events_of

CUSTOMER_INTAKE: dict[str, Any] = {
    "complaint_channel": "hotline_800",
    "complainant_type": "customer",
    "customer_name": "张三",
    "customer_phone": "138-0013-8000",
    "customer_address": "上海市徐汇区漕溪北路 100 号",
    "product_model": "KFR-35GW",
    "serial_number": "SN-2025-000123",
    "complaint_category": "product_quality",
    "complaint_severity": "normal",
    "region": "east",
    "region_class": "A",
    "complaint_description": "空调不制冷 / the air conditioner does not cool",
}
OUTLET_INTAKE: dict[str, Any] = {
    "complaint_channel": "letter",
    "complainant_type": "outlet",
    "outlet_code": "HD-001",
    "outlet_contact_name": "王伟",
    "outlet_contact_phone": "021-55501234",
    "complaint_category": "late_parts",
    "complaint_severity": "normal",
    "region": "east",
    "region_class": "A",
    "complaint_description": "压缩机配件迟到两周 / compressor parts two weeks late",
}
DISPATCH = {"outlet_code": "HD-001", "dispatch_note": "顾客在徐汇 / the customer lives in Xuhui"}
REPAIRED = {"declined": False, "onsite_resolved": True, "onsite_visit_date": "2026-01-05", "fault_found": "冷媒泄漏 / refrigerant leak",
            "repair_actions": "补焊并加注冷媒", "resolution_summary": "已修复 / repaired"}
NOT_REPAIRED = {"declined": False, "onsite_resolved": False, "onsite_visit_date": "2026-01-05", "fault_found": "压缩机损坏",
                "unresolved_reason": "缺压缩机配件 / no compressor in stock"}
ESCALATION = {"escalation_actions": "调拨配件并派高级工程师", "responsible_party": "outlet",
              "resolution_summary": "已修复 / repaired"}
RESOLUTION = {"handling_actions": "致电道歉并重新安排", "responsible_party": "outlet",
              "resolution_summary": "已处理 / handled"}
CRISIS = {"crisis_actions": "部长致电顾客并上门", "public_statement_issued": True,
          "public_statement": "公司已联系顾客并更换产品", "root_cause": "批次元件缺陷", "responsible_party": "factory",
          "resolution_summary": "更换整机 / unit replaced"}
FEEDBACK = {"defect_category": "component", "affected_batch": "B-2025-11", "mass_failure_suspected": False,
            "feedback_notes": "冷凝器焊点缺陷 / condenser weld defect"}
RATINGS = {f"rating_{d}": 4 for d in ("tangibles", "reliability", "responsiveness", "assurance", "empathy", "recovery")}
SATISFIED = {"visit_channel": "phone", "customer_reached": True, **RATINGS, "customer_satisfied": True,
             "visit_comments": "满意 / satisfied"}
UNSATISFIED = {"visit_channel": "phone", "customer_reached": True, **RATINGS, "rating_reliability": 1,
               "customer_satisfied": False, "visit_comments": "又坏了 / broke again"}
NOT_REACHED = {"visit_channel": "phone", "customer_reached": False, "unreached_reason": "无人接听 / no answer"}




def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)





def _completed(history: list[dict[str, Any]]) -> list[str]:
    """The tasks completed, but the RCC's dispatches (asserted in the dispatch tests)."""
    return [e["data"]["element"] for e in events_of(history, "task_completed")
            if e["data"]["element"] != "dispatch_outlet"]


def _feedback_rounds(history: list[dict[str, Any]]) -> int:
    return len([e for e in events_of(history, "element_completed") if e["data"]["element"] == "feedback_recorded"])


def _complain(desk: Desk, user: str = "rcc_agent", business_key: str = "TS-2026-0001", **changes: Any) -> str:
    variables = {k: v for k, v in {**CUSTOMER_INTAKE, **changes}.items() if v is not None}
    instance_id = desk.start(user, "complaint_handling", variables, business_key=business_key)
    _dispatch(desk, instance_id)
    return instance_id


def _dispatch(desk: Desk, instance_id: str) -> None:
    """A quality case waits for the RCC to dispatch it to an outlet of its region: to HD-001 here."""
    if "dispatch_outlet" in desk.waiting(instance_id):
        desk.work("rcc_agent", instance_id, "dispatch_outlet", DISPATCH)


def _tick(factory: sessionmaker[Session], clock: FrozenClock, delta: timedelta) -> int:
    clock.advance(delta)
    return fire_due_timers(factory, clock)


def _visit_and_feedback(desk: Desk, instance_id: str, visit: dict[str, Any] = SATISFIED, *,
                        feedback_first: bool = False) -> None:
    """The parallel follow-up of a quality case: the return visit and the feedback to tech_section.

    Whichever is done first, the case stays open for the other one.
    """
    assert desk.waiting(instance_id) == ["conduct_return_visit", "quality_feedback"]
    first = ("rcc_visitor", instance_id, "conduct_return_visit", visit)
    second = ("tech_section", instance_id, "quality_feedback", FEEDBACK)
    if feedback_first:
        first, second = second, first
    desk.work(*first)
    assert desk.waiting(instance_id) == [second[2]]
    assert desk.instance(instance_id)["status"] == "running"
    desk.work(*second)


def _assert_closed(desk: Desk, instance_id: str) -> list[dict[str, Any]]:
    detail = desk.instance(instance_id)
    assert detail["status"] == "completed"
    assert detail["waiting_tasks"] == [] and detail["pending_timers"] == []
    assert desk.queues() == {}
    history = desk.history(instance_id)
    assert history[-1]["event_type"] == "ended"
    assert history[-1]["data"]["end_event"] == "complaint_closed"
    return history


def _assert_return_visit_in_history(history: list[dict[str, Any]], rounds: int = 1) -> None:
    """The called process's steps are recorded in the caller's history, tagged with their process."""
    visit_created = [e for e in events_of(history, "task_created") if e["data"]["element"] == "conduct_return_visit"]
    assert len(visit_created) >= rounds
    assert {e["data"]["process"] for e in visit_created} == {"return_visit"}
    assert all(e["data"]["candidate_groups"] == ["rcc_visitor"] for e in visit_created)
    callee_steps = [(e["data"]["element"]) for e in history
                    if e["event_type"] in ("element_completed", "gateway_decision")
                    and e["data"].get("process") == "return_visit"]
    assert callee_steps.count("return_visit_started") == rounds
    assert callee_steps.count("return_visit_done") == rounds
    calls = [e for e in events_of(history, "call_activity_completed") if e["data"]["element"] == "return_visit_call"]
    assert len(calls) == rounds
    assert all(e["data"]["process"] == "complaint_handling" for e in calls)


def test_quality_problem_repaired_on_site_in_time(desk: Desk, factory: sessionmaker[Session],
                                                  clock: FrozenClock) -> None:
    instance_id = _complain(desk)
    # The outlet alone sees the on-site repair, due in 24 hours, filterable by the case fields.
    assert desk.queues() == {"outlet": ["onsite_repair"]}
    task = desk.task_of("outlet", instance_id, "onsite_repair")
    assert task["candidate_groups"] == ["outlet"] and task["form_key"] == "onsite_repair_report"
    assert _at(task["due_at"]) - _at(task["created_at"]) == timedelta(hours=24)
    assert (task["business_key"], task["serial_number"], task["customer_name"], task["region"]) == (
        "TS-2026-0001", "SN-2025-000123", "张三", "east")
    timers = desk.instance(instance_id)["pending_timers"]
    assert [(t["element_id"], _at(t["due_at"])) for t in timers] == [("repair_deadline", _at(task["due_at"]))]

    # 23 hours later the deadline is not due; the outlet repairs in time.
    assert _tick(factory, clock, timedelta(hours=23)) == 0
    desk.work("outlet", instance_id, "onsite_repair", REPAIRED)
    assert desk.instance(instance_id)["pending_timers"] == []
    assert desk.queues() == {"rcc_visitor": ["conduct_return_visit"], "tech_section": ["quality_feedback"]}
    visit = desk.task_of("rcc_visitor", instance_id, "conduct_return_visit")
    assert (visit["definition_key"], visit["process_key"]) == ("complaint_handling", "return_visit")
    # A timer that can no longer fire stays silent when its time passes.
    assert _tick(factory, clock, timedelta(hours=2)) == 0

    _visit_and_feedback(desk, instance_id)
    history = _assert_closed(desk, instance_id)
    assert _completed(history) == ["onsite_repair", "conduct_return_visit", "quality_feedback"]
    assert events_of(history, "timer_fired") == [] and events_of(history, "task_cancelled") == []
    assert chosen_by(history, "severity_decision") == [["category_decision"]]
    assert chosen_by(history, "onsite_resolved_decision") == [["resolution_merge"]]
    assert chosen_by(history, "feedback_decision") == [["quality_feedback"]]
    assert chosen_by(history, "satisfaction_decision") == [["complaint_closed"]]
    _assert_return_visit_in_history(history)
    submitted = [e["data"]["submitted"] for e in events_of(history, "task_completed")]
    assert submitted == [DISPATCH, REPAIRED, SATISFIED, FEEDBACK]
    final = history[-1]["data"]["variables"]
    assert final["customer_satisfied"] is True and final["defect_category"] == "component"
    assert "reopened" not in final
    # The dispatch to the outlet is recorded like every other gateway decision.
    assert chosen_by(history, "category_decision") == [["dispatch_outlet"]]


def test_repair_overdue_at_24_hours_escalates_to_rcc_director(desk: Desk, factory: sessionmaker[Session],
                                                              clock: FrozenClock, client: TestClient) -> None:
    instance_id = _complain(desk)
    outlet_task = desk.task_of("outlet", instance_id, "onsite_repair")
    assert _tick(factory, clock, timedelta(hours=23, minutes=59)) == 0
    assert desk.waiting(instance_id) == ["onsite_repair"]

    assert _tick(factory, clock, timedelta(minutes=2)) == 1  # 24 h + 1 min
    assert _tick(factory, clock, timedelta(0)) == 0  # exactly once
    # The outlet's task is withdrawn; the RCC director has the escalation with its own 48-hour deadline.
    assert desk.queues() == {"rcc_director": ["rcc_director_escalation"]}
    refused = client.post(f"/api/tasks/{outlet_task['task_id']}/claim", headers=desk.login("outlet"))
    assert refused.status_code == 409, refused.text
    escalation = desk.task_of("rcc_director", instance_id, "rcc_director_escalation")
    assert _at(escalation["due_at"]) == clock.now() + timedelta(hours=48)
    timers = desk.instance(instance_id)["pending_timers"]
    assert [t["element_id"] for t in timers] == ["escalation_deadline"]

    history = desk.history(instance_id)
    fired = events_of(history, "timer_fired")
    assert [(e["actor"], e["data"]["element"]) for e in fired] == [("scheduler", "repair_deadline")]
    cancelled = events_of(history, "task_cancelled")
    assert [(e["data"]["element"], e["task_id"]) for e in cancelled] == [("onsite_repair", outlet_task["task_id"])]
    types = [e["event_type"] for e in history]
    assert types.index("timer_fired") < types.index("task_cancelled")

    # The director resolves within the second deadline: no CSD head involvement.
    assert _tick(factory, clock, timedelta(hours=47)) == 0
    desk.work("rcc_director", instance_id, "rcc_director_escalation", ESCALATION)
    assert desk.instance(instance_id)["pending_timers"] == []
    assert _tick(factory, clock, timedelta(hours=2)) == 0
    _visit_and_feedback(desk, instance_id)
    history = _assert_closed(desk, instance_id)
    assert _completed(history) == ["rcc_director_escalation", "conduct_return_visit", "quality_feedback"]
    assert [e["data"]["element"] for e in events_of(history, "timer_fired")] == ["repair_deadline"]
    assert "csd_head_escalation" not in [e["data"]["element"] for e in events_of(history, "task_created")]


def test_second_deadline_escalates_to_csd_head(desk: Desk, factory: sessionmaker[Session],
                                               clock: FrozenClock) -> None:
    instance_id = _complain(desk)
    assert _tick(factory, clock, timedelta(hours=24, minutes=1)) == 1
    assert desk.queues() == {"rcc_director": ["rcc_director_escalation"]}
    director_task = desk.task_of("rcc_director", instance_id, "rcc_director_escalation")
    # The director claims it but does not finish within 48 hours.
    claimed = desk.client.post(f"/api/tasks/{director_task['task_id']}/claim", headers=desk.login("rcc_director"))
    assert claimed.status_code == 200, claimed.text
    assert _tick(factory, clock, timedelta(hours=47, minutes=59)) == 0
    assert _tick(factory, clock, timedelta(minutes=2)) == 1

    assert desk.queues() == {"csd_head": ["csd_head_escalation"]}
    assert desk.instance(instance_id)["pending_timers"] == []  # the CSD head is the last resort
    history = desk.history(instance_id)
    assert [e["data"]["element"] for e in events_of(history, "timer_fired")] == ["repair_deadline",
                                                                              "escalation_deadline"]
    assert [e["data"]["element"] for e in events_of(history, "task_cancelled")] == ["onsite_repair",
                                                                                 "rcc_director_escalation"]
    created = [(e["data"]["element"], e["data"]["candidate_groups"]) for e in events_of(history, "task_created")]
    assert created == [("dispatch_outlet", ["rcc_agent"]), ("onsite_repair", ["outlet"]),
                       ("rcc_director_escalation", ["rcc_director"]),
                       ("csd_head_escalation", ["csd_head"])]

    desk.work("csd_head", instance_id, "csd_head_escalation", ESCALATION)
    _visit_and_feedback(desk, instance_id)
    history = _assert_closed(desk, instance_id)
    assert _completed(history) == ["csd_head_escalation", "conduct_return_visit", "quality_feedback"]
    assert [e["actor"] for e in events_of(history, "task_completed")] == ["rcc_agent", "csd_head", "rcc_visitor",
                                                                       "tech_section"]


def test_outlet_cannot_repair_escalates_to_rcc_director(desk: Desk, factory: sessionmaker[Session],
                                                        clock: FrozenClock) -> None:
    instance_id = _complain(desk)
    desk.work("outlet", instance_id, "onsite_repair", NOT_REPAIRED)
    assert desk.queues() == {"rcc_director": ["rcc_director_escalation"]}
    # Escalated by the outlet's own report, not by the timer, which is gone.
    assert [t["element_id"] for t in desk.instance(instance_id)["pending_timers"]] == ["escalation_deadline"]
    assert _tick(factory, clock, timedelta(hours=25)) == 0
    desk.work("rcc_director", instance_id, "rcc_director_escalation", ESCALATION)
    _visit_and_feedback(desk, instance_id)
    history = _assert_closed(desk, instance_id)
    assert events_of(history, "timer_fired") == []
    assert _completed(history) == ["onsite_repair", "rcc_director_escalation", "conduct_return_visit",
                                   "quality_feedback"]
    assert chosen_by(history, "onsite_resolved_decision") == [["rcc_director_escalation"]]


@pytest.mark.parametrize("severity", ["major", "public"])
def test_major_or_public_case_goes_straight_to_crisis_handling(desk: Desk, factory: sessionmaker[Session],
                                                               clock: FrozenClock, severity: str) -> None:
    instance_id = _complain(desk, complaint_severity=severity, complaint_channel="visit")
    assert desk.queues() == {"csd_head": ["crisis_handling"]}
    crisis = desk.task_of("csd_head", instance_id, "crisis_handling")
    assert _at(crisis["due_at"]) - _at(crisis["created_at"]) == timedelta(
        hours=24)
    assert desk.instance(instance_id)["pending_timers"] == []  # no outlet, no escalation chain
    assert _tick(factory, clock, timedelta(hours=30)) == 0
    desk.work("csd_head", instance_id, "crisis_handling", CRISIS)
    # Still a product-quality case: the technical lead gets the feedback.
    _visit_and_feedback(desk, instance_id)
    history = _assert_closed(desk, instance_id)
    assert chosen_by(history, "severity_decision") == [["crisis_handling"]]
    assert chosen_by(history, "category_decision") == []  # never reached
    assert _completed(history) == ["crisis_handling", "conduct_return_visit", "quality_feedback"]
    assert history[-1]["data"]["variables"]["public_statement_issued"] is True


def test_non_quality_complaint_is_handled_by_the_rcc(desk: Desk) -> None:
    instance_id = _complain(desk, complaint_category="service_attitude", product_model=None, serial_number=None)
    assert desk.queues() == {"rcc_agent": ["rcc_handling"]}
    desk.work("rcc_agent", instance_id, "rcc_handling", RESOLUTION)
    # No quality feedback: only the return visit is open.
    assert desk.queues() == {"rcc_visitor": ["conduct_return_visit"]}
    assert desk.waiting(instance_id) == ["conduct_return_visit"]
    desk.work("rcc_visitor", instance_id, "conduct_return_visit", SATISFIED)
    history = _assert_closed(desk, instance_id)
    assert chosen_by(history, "category_decision") == [["rcc_handling"]]
    assert chosen_by(history, "feedback_decision") == [["feedback_merge"]]
    assert _completed(history) == ["rcc_handling", "conduct_return_visit"]
    assert "quality_feedback" not in [e["data"]["element"] for e in events_of(history, "task_created")]
    _assert_return_visit_in_history(history)


def test_outlet_complaint_about_late_parts_is_handled_by_the_rcc_director(desk: Desk) -> None:
    instance_id = desk.start("outlet", "complaint_handling", OUTLET_INTAKE, business_key="TS-2026-0002")
    assert desk.queues() == {"rcc_director": ["company_issue_handling"]}
    task = desk.task_of("rcc_director", instance_id, "company_issue_handling")
    assert (task["outlet_code"], task["customer_name"]) == ("HD-001", None)
    assert _at(task["due_at"]) - _at(task["created_at"]) == timedelta(days=7)
    desk.work("rcc_director", instance_id, "company_issue_handling",
              {"handling_actions": "催促配件中心发货", "responsible_party": "logistics",
               "resolution_summary": "配件已到 / parts delivered"})
    assert desk.queues() == {"rcc_visitor": ["conduct_return_visit"]}
    desk.work("rcc_visitor", instance_id, "conduct_return_visit", SATISFIED)
    history = _assert_closed(desk, instance_id)
    assert history[0]["actor"] == "outlet"
    assert chosen_by(history, "category_decision") == [["company_issue_handling"]]
    assert chosen_by(history, "feedback_decision") == [["feedback_merge"]]
    assert _completed(history) == ["company_issue_handling", "conduct_return_visit"]


def test_unsatisfied_customer_reopens_the_case_until_satisfied(desk: Desk, factory: sessionmaker[Session],
                                                               clock: FrozenClock) -> None:
    instance_id = _complain(desk)
    first_repair = desk.work("outlet", instance_id, "onsite_repair", REPAIRED)
    # Round 1: the customer is not reached at first (the visit is tried again inside return_visit),
    # then says the problem is back.
    desk.work("rcc_visitor", instance_id, "conduct_return_visit", NOT_REACHED)
    assert desk.waiting(instance_id) == ["conduct_return_visit", "quality_feedback"]
    desk.work("tech_section", instance_id, "quality_feedback", FEEDBACK)
    clock.advance(timedelta(days=2))
    desk.work("rcc_visitor", instance_id, "conduct_return_visit", UNSATISFIED)

    # Reopened: back to dispatch, the outlet repairs again with a fresh 24-hour deadline.
    assert desk.queues() == {"rcc_agent": ["dispatch_outlet"]}
    _dispatch(desk, instance_id)
    assert desk.queues() == {"outlet": ["onsite_repair"]}
    second_repair = desk.task_of("outlet", instance_id, "onsite_repair")
    assert second_repair["task_id"] != first_repair["task_id"]
    assert _at(second_repair["created_at"]) == clock.now()
    timers = desk.instance(instance_id)["pending_timers"]
    assert [(t["element_id"], _at(t["due_at"])) for t in timers] == [
        ("repair_deadline", clock.now() + timedelta(hours=24))]
    detail = desk.instance(instance_id)
    assert detail["status"] == "running" and detail["variables"]["reopened"] is True

    # Round 2: repaired in time; the technical lead answers first, then the customer is satisfied
    # and the case closes.
    assert _tick(factory, clock, timedelta(hours=20)) == 0
    desk.work("outlet", instance_id, "onsite_repair", REPAIRED)
    _visit_and_feedback(desk, instance_id, feedback_first=True)
    history = _assert_closed(desk, instance_id)
    assert _completed(history) == ["onsite_repair", "conduct_return_visit", "quality_feedback",
                                   "conduct_return_visit", "onsite_repair", "quality_feedback",
                                   "conduct_return_visit"]
    assert chosen_by(history, "satisfaction_decision") == [["mark_reopened"], ["complaint_closed"]]
    assert chosen_by(history, "reached_decision") == [["conduct_return_visit"], ["return_visit_done"],
                                                    ["return_visit_done"]]
    assert chosen_by(history, "dispatch_merge") == [["severity_decision"], ["severity_decision"]]
    assert [e["data"]["element"] for e in events_of(history, "element_completed")
            if e["data"]["element"] == "mark_reopened"] == ["mark_reopened"]
    _assert_return_visit_in_history(history, rounds=2)
    assert events_of(history, "timer_fired") == []
    final = history[-1]["data"]["variables"]
    assert final["reopened"] is True and final["customer_satisfied"] is True


def test_reopened_quality_case_gets_feedback_every_round(desk: Desk) -> None:
    """Every round of a reopened quality case feeds back to the technical lead, whatever the order.

    The feedback branch ends on its own (a parallel join inside the reopen loop miscounts rounds in
    SpiffWorkflow 3.2), so the case closes once the satisfied visit and every round's feedback are in,
    and its outcome is the main end event even when the feedback finishes last.
    """
    instance_id = _complain(desk)
    desk.work("outlet", instance_id, "onsite_repair", REPAIRED)
    _visit_and_feedback(desk, instance_id, UNSATISFIED, feedback_first=True)
    _dispatch(desk, instance_id)
    assert desk.queues() == {"outlet": ["onsite_repair"]}
    desk.work("outlet", instance_id, "onsite_repair", REPAIRED)
    _visit_and_feedback(desk, instance_id, SATISFIED)
    history = _assert_closed(desk, instance_id)
    assert chosen_by(history, "satisfaction_decision") == [["mark_reopened"], ["complaint_closed"]]
    assert _feedback_rounds(history) == 2
    assert history[-1]["data"]["end_events"].count("feedback_recorded") == 2


def test_reopened_non_quality_case_returns_to_the_rcc(desk: Desk) -> None:
    instance_id = _complain(desk, complaint_category="repair_delay")
    desk.work("rcc_agent", instance_id, "rcc_handling", RESOLUTION)
    desk.work("rcc_visitor", instance_id, "conduct_return_visit", UNSATISFIED)
    assert desk.queues() == {"rcc_agent": ["rcc_handling"]}
    desk.work("rcc_agent", instance_id, "rcc_handling", {**RESOLUTION, "compensation_amount": 200})
    assert desk.queues() == {"rcc_visitor": ["conduct_return_visit"]}
    desk.work("rcc_visitor", instance_id, "conduct_return_visit", SATISFIED)
    history = _assert_closed(desk, instance_id)
    assert _completed(history) == ["rcc_handling", "conduct_return_visit", "rcc_handling", "conduct_return_visit"]
    assert chosen_by(history, "category_decision") == [["rcc_handling"], ["rcc_handling"]]
    assert chosen_by(history, "satisfaction_decision") == [["mark_reopened"], ["complaint_closed"]]
    _assert_return_visit_in_history(history, rounds=2)
