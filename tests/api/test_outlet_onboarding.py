"""Outlet onboarding (特许服务网点设立) end to end through HTTP, down every path, one demo user per role."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from engine.clock import FrozenClock
from engine.timers import fire_due_timers
from tests.api.conftest import Desk

REGISTRATION: dict[str, Any] = {
    "outlet_name": "华东家电维修中心",
    "applicant_name": "王伟",
    "contact_phone": "021-55501234",
    "address": "上海市浦东新区张江路 88 号",
    "region": "east",
    "region_class": "A",
    "legal_entity": True,
    "legal_entity_name": "上海华东家电维修有限公司",
    "premises": {"office_area_m2": 60, "repair_area_m2": 120, "has_reception_area": True},
    "equipment": {"installation": True, "repair": True, "office": True},
    "staff": {"installers": 4, "engineers": 3, "reception": 2, "settlement": 1, "parts_management": 1,
              "repair_workers": 5},
    "estimated_annual_repairs": 1800,
}
APPROVE_RCC = {"rcc_approved": True, "site_inspection_notes": "现场整洁，设备齐全 / tidy site, full equipment"}
APPROVE_TECH = {"tech_approved": True, "tech_comments": "技术力量满足要求"}
APPROVE_CSD = {"csd_approved": True, "csd_comments": "同意设立"}
AGREEMENT = {"outlet_code": "HD-101", "agreement_no": "TX-2026-001", "issued_on": "2026-01-20", "outlet_class": "A"}
CONFIRMATION = {"agreement_confirmed": True, "signatory_name": "王伟"}
CERTIFICATION = {"certified_engineers": [{"name": "李强", "certificate_no": "ENG-001"}], "all_certified": True}


def _apply(desk: Desk) -> str:
    instance_id = desk.start("outlet", "outlet_onboarding", REGISTRATION, business_key="outlet-huadong-001")
    assert desk.waiting(instance_id) == ["rcc_review"]
    return instance_id


def _approve_up_to_probation(desk: Desk, instance_id: str) -> None:
    desk.work("rcc_director", instance_id, "rcc_review", APPROVE_RCC)
    assert desk.waiting(instance_id) == ["tech_review"]
    desk.work("tech_section", instance_id, "tech_review", APPROVE_TECH)
    assert desk.waiting(instance_id) == ["csd_approval"]
    desk.work("csd_head", instance_id, "csd_approval", APPROVE_CSD)
    desk.work("rcc_director", instance_id, "issue_agreement", AGREEMENT)
    desk.work("outlet", instance_id, "confirm_agreement", CONFIRMATION)
    assert desk.waiting(instance_id) == ["engineer_certification"]
    desk.work("training", instance_id, "engineer_certification", CERTIFICATION)


def _run_probation(desk: Desk, factory: sessionmaker[Session], clock: FrozenClock, instance_id: str) -> None:
    detail = desk.instance(instance_id)
    assert [t["element_id"] for t in detail["pending_timers"]] == ["probation_period"]
    assert desk.waiting(instance_id) == []  # waiting on the three-month timer only
    clock.advance(timedelta(days=45))
    assert fire_due_timers(factory, clock) == 0
    clock.advance(timedelta(days=50))
    assert fire_due_timers(factory, clock) == 1
    assert fire_due_timers(factory, clock) == 0  # exactly once
    assert desk.waiting(instance_id) == ["probation_assessment"]


def _types(history: list[dict[str, Any]]) -> list[str]:
    return [event["event_type"] for event in history]


def test_onboarding_approved_and_probation_passed(desk: Desk, factory: sessionmaker[Session],
                                                  clock: FrozenClock) -> None:
    instance_id = _apply(desk)
    # Only the RCC director's queue holds the review; other roles see nothing of it.
    assert [t["element_id"] for t in desk.queue("rcc_director")] == ["rcc_review"]
    for other in ("tech_section", "csd_head", "training", "rcc_agent"):
        assert desk.queue(other) == []
    _approve_up_to_probation(desk, instance_id)
    _run_probation(desk, factory, clock, instance_id)
    desk.work("rcc_director", instance_id, "probation_assessment",
              {"probation_passed": True, "assessment_score": 92, "assessment_notes": "合格"})

    detail = desk.instance(instance_id)
    assert detail["status"] == "completed"
    assert detail["variables"]["agreement_no"] == "TX-2026-001"
    history = desk.history(instance_id)
    assert _types(history)[0] == "started"
    assert _types(history)[-1] == "ended"
    assert history[-1]["data"]["end_event"] == "agreement_in_force"
    completions = [(e["actor"], e["data"]["element"]) for e in history if e["event_type"] == "task_completed"]
    assert completions == [
        ("rcc_director", "rcc_review"), ("tech_section", "tech_review"), ("csd_head", "csd_approval"),
        ("rcc_director", "issue_agreement"), ("outlet", "confirm_agreement"),
        ("training", "engineer_certification"), ("rcc_director", "probation_assessment"),
    ]
    assert [e["actor"] for e in history if e["event_type"] == "timer_fired"] == ["scheduler"]
    assert history[0]["data"]["variables"]["outlet_name"] == "华东家电维修中心"
    submitted = next(e for e in history if e["event_type"] == "task_completed")["data"]["submitted"]
    assert submitted == APPROVE_RCC
    decisions = [e["data"]["chosen"][0]["target"] for e in history if e["event_type"] == "gateway_decision"]
    assert decisions == ["tech_review", "csd_approval", "issue_agreement", "agreement_in_force"]
    first_decision = next(e for e in history if e["event_type"] == "gateway_decision")["data"]
    assert first_decision["inputs"] == {"rcc_approved": True}  # why the gateway chose: what it read
    assert first_decision["conditions"] == ["rcc_approved == True"]
    claims = [e for e in history if e["event_type"] == "task_claimed"]
    assert len(claims) == 6  # confirm_agreement is assigned to the applicant up front


def test_probation_failed_ends_cooperation(desk: Desk, factory: sessionmaker[Session], clock: FrozenClock) -> None:
    instance_id = _apply(desk)
    _approve_up_to_probation(desk, instance_id)
    _run_probation(desk, factory, clock, instance_id)
    desk.work("rcc_director", instance_id, "probation_assessment",
              {"probation_passed": False, "assessment_score": 41, "assessment_notes": "投诉率高"})
    history = desk.history(instance_id)
    assert desk.instance(instance_id)["status"] == "completed"
    assert history[-1]["data"]["end_event"] == "cooperation_ended"


def test_rcc_rejection_then_reapplication_is_reviewed_again(desk: Desk) -> None:
    instance_id = _apply(desk)
    desk.work("rcc_director", instance_id, "rcc_review",
              {"rcc_approved": False, "rejection_reason": "维修场地不足 / repair area too small"})
    # The applicant is told why: the task is assigned to them and carries the reason.
    task = desk.task_of("outlet", instance_id, "review_rejection")
    assert task["assignee"] == "outlet"
    detail = desk.client.get(f"/api/tasks/{task['task_id']}", headers=desk.login("outlet")).json()
    assert detail["variables"]["rejection_reason"].startswith("维修场地不足")
    assert detail["form_schema"]["$id"] == "tixi:form:reapplication"
    bigger = {**REGISTRATION["premises"], "repair_area_m2": 200}
    desk.work("outlet", instance_id, "review_rejection", {"reapply": True, "premises": bigger})
    assert desk.waiting(instance_id) == ["rcc_review"]
    rcc_task = desk.task_of("rcc_director", instance_id, "rcc_review")
    detail = desk.client.get(f"/api/tasks/{rcc_task['task_id']}", headers=desk.login("rcc_director")).json()
    assert detail["variables"]["premises"]["repair_area_m2"] == 200
    desk.work("rcc_director", instance_id, "rcc_review", APPROVE_RCC)
    assert desk.waiting(instance_id) == ["tech_review"]
    reviews = [e for e in desk.history(instance_id) if e["event_type"] == "task_completed"
               and e["data"]["element"] == "rcc_review"]
    assert len(reviews) == 2


def test_rcc_rejection_and_withdrawal(desk: Desk) -> None:
    instance_id = _apply(desk)
    desk.work("rcc_director", instance_id, "rcc_review", {"rcc_approved": False, "rejection_reason": "无法人资格"})
    desk.work("outlet", instance_id, "review_rejection", {"reapply": False})
    assert desk.instance(instance_id)["status"] == "completed"
    assert desk.history(instance_id)[-1]["data"]["end_event"] == "application_withdrawn"


def test_technical_rejection_goes_back_to_applicant(desk: Desk) -> None:
    instance_id = _apply(desk)
    desk.work("rcc_director", instance_id, "rcc_review", APPROVE_RCC)
    desk.work("tech_section", instance_id, "tech_review", {"tech_approved": False, "rejection_reason": "工程师不足"})
    assert desk.waiting(instance_id) == ["review_rejection"]
    desk.work("outlet", instance_id, "review_rejection", {"reapply": False})
    assert desk.history(instance_id)[-1]["data"]["end_event"] == "application_withdrawn"


def test_csd_rejection_goes_back_to_applicant(desk: Desk) -> None:
    instance_id = _apply(desk)
    desk.work("rcc_director", instance_id, "rcc_review", APPROVE_RCC)
    desk.work("tech_section", instance_id, "tech_review", APPROVE_TECH)
    desk.work("csd_head", instance_id, "csd_approval", {"csd_approved": False, "rejection_reason": "本区网点已饱和"})
    task = desk.task_of("outlet", instance_id, "review_rejection")
    detail = desk.client.get(f"/api/tasks/{task['task_id']}", headers=desk.login("outlet")).json()
    assert detail["variables"]["rejection_reason"] == "本区网点已饱和"
    desk.work("outlet", instance_id, "review_rejection", {"reapply": True})
    assert desk.waiting(instance_id) == ["rcc_review"]
