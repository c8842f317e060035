"""Return / exchange (退换货) end to end through HTTP: every row of the return policy (DMN) at its boundary
days, the disputed inspection, the director's approval, the return to the factory, the fee settlement
and the return visit as call activities, and bad input (a DMN input missing at run time, a DMN with a
syntax error)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from engine.business_calendar import LOCAL
from engine.clock import FrozenClock
from tests.api.conftest import Desk, chosen_by, events_of
from tests.conftest import ROOT

REQUEST: dict[str, Any] = {
    "customer_name": "李四",
    "customer_phone": "139-0013-9000",
    "customer_address": "北京市海淀区中关村大街 1 号",
    "product_model": "XQG-70",
    "serial_number": "SN-2025-009876",
    "purchase_date": "2025-12-20",  # 16 days before the test clock's day: the inspection form works it out
    "invoice_no": "FP-88001234",
    "region": "north",
    "region_class": "B",
    "outlet_code": "HB-002",
    "customer_request": "return",
    "request_description": "洗衣机漏水 / the washing machine leaks",
}
APPROVED = {"return_approved": True, "approval_notes": "符合政策 / within policy"}
NOT_APPROVED = {"return_approved": False, "approval_notes": "问题可修复，改为保修 / repairable: warranty repair"}
RETURNED = {"remedy_given": "return", "refund_amount": 3299.0, "completed_on": "2026-01-08",
            "old_machine_collected": True}
EXCHANGED = {"remedy_given": "exchange", "replacement_serial_number": "SN-2026-000001", "completed_on": "2026-01-08",
             "old_machine_collected": True}
AT_FACTORY = {"shipment_ref": "WL-2026-0107", "machine_returned": True, "parts_returned": "整机",
              "received_on": "2026-01-20"}
REPAIRED_NO_PARTS = {"repair_date": "2026-01-07", "repair_actions": "更换密封圈", "old_parts_to_return": False,
                     "repair_completed": True}
REPAIRED_WITH_PARTS = {"repair_date": "2026-01-07", "repair_actions": "更换电机", "parts_replaced": "电机 M-70",
                       "old_parts_to_return": True, "repair_completed": True}
FEE_CLAIM = {"withdraw_claim": False, "outlet_code": "HB-002", "work_order_no": "WO-2026-0042",
             "job_type": "repair", "claimed_amount": 180.0, "claim_notes": "上门 + 工时"}
FEE_REJECTED = {"fee_approved": False, "fee_rejection_reason": "缺工单照片 / work order photo missing"}
FEE_APPROVED = {"fee_approved": True, "approved_amount": 150.0, "audit_notes": "按标准工时核减"}
FEE_PAID = {"paid_on": "2026-02-01", "paid_amount": 150.0, "payment_ref": "PAY-2026-0201-7"}
RATINGS = {f"rating_{d}": 5 for d in ("tangibles", "reliability", "responsiveness", "assurance", "empathy", "recovery")}
VISITED = {"visit_channel": "phone", "customer_reached": True, **RATINGS, "customer_satisfied": True}


def _completed(history: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(actor, element) of every completed user task, in order."""
    return [(e["actor"], e["data"]["element"]) for e in events_of(history, "task_completed")]


def _inspection(days: int, quality: bool, significant: bool, disputed: bool = False) -> dict[str, Any]:
    return {"days_since_purchase": days, "quality_problem": quality, "significant_problem": significant,
            "disputed": disputed, "inspection_notes": "检测记录 / inspection notes"}


def with_invoice(desk: Desk, user: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The request with its purchase invoice uploaded first: the request form requires one."""
    return {**variables, "invoice": [desk.stage(user)]}


def purchased(days: int, today: date | None = None) -> str:
    """The purchase date `days` days before `today` in China: the test clock's day unless told (the
    browser tests' server runs on the real clock). The inspection works the days out from it."""
    return ((today or FrozenClock().now().astimezone(LOCAL).date()) - timedelta(days=days)).isoformat()


def _request(desk: Desk, business_key: str = "TH-2026-0001", user: str = "outlet", days: int | None = None,
             **changes: Any) -> str:
    if days is not None:
        changes["purchase_date"] = purchased(days)
    instance_id = desk.start(user, "return_exchange", with_invoice(desk, user, {**REQUEST, **changes}),
                             business_key=business_key)
    assert desk.queues() == {"outlet": ["inspect_product"]}
    return instance_id


def _decision(history: list[dict[str, Any]]) -> dict[str, Any]:
    decided = events_of(history, "decision_evaluated")
    assert len(decided) == 1, decided
    return dict(decided[0]["data"])


def _settle_fees(desk: Desk, instance_id: str, *, reject_first: bool = False) -> None:
    """The fee settlement audit (call activity): the outlet claims, rcc_settlement audits and pays."""
    assert desk.queues() == {"outlet": ["submit_fee_claim"]}
    claim = desk.task_of("outlet", instance_id, "submit_fee_claim")
    assert (claim["definition_key"], claim["process_key"]) == ("return_exchange", "fee_settlement_audit")
    desk.work("outlet", instance_id, "submit_fee_claim", FEE_CLAIM)
    assert desk.queues() == {"rcc_settlement": ["audit_fee_claim"]}
    if reject_first:
        desk.work("rcc_settlement", instance_id, "audit_fee_claim", FEE_REJECTED)
        assert desk.queues() == {"outlet": ["submit_fee_claim"]}
        variables = desk.instance(instance_id)["variables"]
        assert variables["fee_rejection_reason"] == FEE_REJECTED["fee_rejection_reason"]
        desk.work("outlet", instance_id, "submit_fee_claim", {**FEE_CLAIM, "claim_notes": "已补工单照片"})
    desk.work("rcc_settlement", instance_id, "audit_fee_claim", FEE_APPROVED)
    assert desk.queues() == {"rcc_settlement": ["settle_payment"]}
    desk.work("rcc_settlement", instance_id, "settle_payment", FEE_PAID)


def _visit_and_close(desk: Desk, instance_id: str) -> list[dict[str, Any]]:
    assert desk.queues() == {"rcc_visitor": ["conduct_return_visit"]}
    visit = desk.task_of("rcc_visitor", instance_id, "conduct_return_visit")
    assert (visit["definition_key"], visit["process_key"]) == ("return_exchange", "return_visit")
    desk.work("rcc_visitor", instance_id, "conduct_return_visit", VISITED)
    detail = desk.instance(instance_id)
    assert detail["status"] == "completed" and detail["waiting_tasks"] == []
    assert desk.queues() == {}
    history = desk.history(instance_id)
    assert history[-1]["event_type"] == "ended" and history[-1]["data"]["end_event"] == "case_closed"
    calls = [e["data"]["element"] for e in events_of(history, "call_activity_completed")]
    assert calls[-1] == "return_visit_call"
    return history


def _called_steps(history: list[dict[str, Any]], process: str) -> list[str]:
    """Steps of a called process recorded in the caller's history."""
    return [e["data"]["element"] for e in history
            if e["event_type"] in ("element_completed", "gateway_decision", "task_created", "task_completed")
            and e["data"].get("process") == process]


# Each row of return_policy at its boundary days: (days, quality problem, significant) → outcome → next task.
POLICY_ROWS = [
    pytest.param(0, True, True, "return_or_exchange", "customer_choice", "outlet", id="day0-significant"),
    pytest.param(15, True, True, "return_or_exchange", "customer_choice", "outlet", id="day15-significant"),
    pytest.param(16, True, True, "exchange", "rcc_director_approval", "rcc_director", id="day16-significant"),
    pytest.param(15, True, False, "exchange", "rcc_director_approval", "rcc_director", id="day15-not-significant"),
    pytest.param(30, True, False, "exchange", "rcc_director_approval", "rcc_director", id="day30"),
    pytest.param(31, True, True, "free_repair", "warranty_repair", "outlet", id="day31"),
    pytest.param(730, True, False, "free_repair", "warranty_repair", "outlet", id="day730"),
    pytest.param(731, True, True, "paid_repair_or_reject", "paid_repair_or_rejection", "outlet", id="day731"),
    pytest.param(3, False, False, "paid_repair_or_reject", "paid_repair_or_rejection", "outlet",
                 id="day3-no-quality-problem"),
    pytest.param(731, False, False, "paid_repair_or_reject", "paid_repair_or_rejection", "outlet",
                 id="day731-no-quality-problem"),
]


@pytest.mark.parametrize(("days", "quality", "significant", "outcome", "next_task", "role"), POLICY_ROWS)
def test_return_policy_row(desk: Desk, days: int, quality: bool, significant: bool, outcome: str, next_task: str,
                           role: str) -> None:
    instance_id = _request(desk, days=days)
    desk.work("outlet", instance_id, "inspect_product", _inspection(days, quality, significant))
    assert desk.queues() == {role: [next_task]}
    assert desk.waiting(instance_id) == [next_task]
    history = desk.history(instance_id)
    decision = _decision(history)
    assert decision["element"] == "decide_policy" and decision["process"] == "return_exchange"
    assert decision["decision"].startswith("return_policy")
    assert decision["inputs"] == {"days_since_purchase": days, "quality_problem": quality,
                                  "significant_problem": significant}
    assert decision["outputs"] == {"policy_outcome": outcome}
    assert desk.instance(instance_id)["variables"]["policy_outcome"] == outcome
    assert chosen_by(history, "dispute_decision") == [["ruling_merge"]]
    assert chosen_by(history, "policy_decision") == [[next_task if next_task != "rcc_director_approval"
                                                    else "approval_merge"]]
    types = [e["event_type"] for e in history]
    assert types.index("decision_evaluated") < max(i for i, t in enumerate(types) if t == "gateway_decision")


def test_days_since_purchase_is_worked_out_from_the_purchase_date_not_typed(desk: Desk) -> None:
    """The inspection form's computed field: left out, the server fills it in on the business clock."""
    instance_id = _request(desk, days=31)
    finding = {k: v for k, v in _inspection(0, True, True).items() if k != "days_since_purchase"}
    desk.work("outlet", instance_id, "inspect_product", finding)
    decision = _decision(desk.history(instance_id))
    assert decision["inputs"] == {"days_since_purchase": 31, "quality_problem": True, "significant_problem": True}
    assert decision["outputs"] == {"policy_outcome": "free_repair"}
    [completed] = [e for e in events_of(desk.history(instance_id), "task_completed")
                   if e["data"]["element"] == "inspect_product"]
    assert completed["data"]["submitted"]["days_since_purchase"] == 31  # what the step set, as it set it


def test_another_count_of_days_than_the_purchase_date_gives_is_refused(desk: Desk) -> None:
    """An outlet cannot choose its own count: the return policy reads it."""
    instance_id = _request(desk, days=31)
    task = desk.task_of("outlet", instance_id, "inspect_product")
    headers = desk.login("outlet")
    desk.client.post(f"/api/tasks/{task['task_id']}/claim", headers=headers)
    refused = desk.client.post(f"/api/tasks/{task['task_id']}/complete", headers=headers,
                               json={"data": _inspection(15, True, True)})
    assert refused.status_code == 422, refused.text
    assert refused.json()["form"] == "product_inspection"
    [error] = refused.json()["errors"]
    assert error["field"] == "days_since_purchase" and "purchase_date" in error["message"] and "31" in error["message"]
    assert desk.waiting(instance_id) == ["inspect_product"]  # nothing changed


def test_return_chosen_approved_back_to_factory_fees_settled_and_visit_closes(desk: Desk) -> None:
    instance_id = _request(desk, days=10)
    desk.work("outlet", instance_id, "inspect_product", _inspection(10, True, True))
    choice = desk.task_of("outlet", instance_id, "customer_choice")
    assert (choice["customer_name"], choice["serial_number"], choice["outlet_code"], choice["region"]) == (
        "李四", "SN-2025-009876", "HB-002", "north")
    desk.work("outlet", instance_id, "customer_choice", {"customer_choice": "return", "choice_notes": "要求退款"})
    assert desk.queues() == {"rcc_director": ["rcc_director_approval"]}
    desk.work("rcc_director", instance_id, "rcc_director_approval", APPROVED)
    assert desk.queues() == {"outlet": ["carry_out_return"]}
    desk.work("outlet", instance_id, "carry_out_return", RETURNED)
    # The returned machine goes back to the factory (CSD).
    assert desk.queues() == {"csd_head": ["return_to_factory"]}
    desk.work("csd_head", instance_id, "return_to_factory", AT_FACTORY)
    _settle_fees(desk, instance_id, reject_first=True)
    history = _visit_and_close(desk, instance_id)

    assert _completed(history) == [
        ("outlet", "inspect_product"), ("outlet", "customer_choice"), ("rcc_director", "rcc_director_approval"),
        ("outlet", "carry_out_return"), ("csd_head", "return_to_factory"), ("outlet", "submit_fee_claim"),
        ("rcc_settlement", "audit_fee_claim"), ("outlet", "submit_fee_claim"), ("rcc_settlement", "audit_fee_claim"),
        ("rcc_settlement", "settle_payment"), ("rcc_visitor", "conduct_return_visit")]
    assert chosen_by(history, "approval_decision") == [["carry_out_return"]]
    assert chosen_by(history, "audit_decision") == [["submit_fee_claim"], ["settle_payment"]]
    assert [e["data"]["element"] for e in events_of(history, "call_activity_completed")] == [
        "fee_settlement_call", "return_visit_call"]
    fee_steps = _called_steps(history, "fee_settlement_audit")
    assert fee_steps[0] == "fee_claim_started" and fee_steps[-1] == "fee_settled"
    assert fee_steps.count("submit_fee_claim") == 4  # created and completed twice
    assert _called_steps(history, "return_visit")[-1] == "return_visit_done"
    final = history[-1]["data"]["variables"]
    assert (final["customer_choice"], final["remedy_given"], final["paid_amount"], final["policy_outcome"]) == (
        "return", "return", 150.0, "return_or_exchange")


def test_exchange_approved_and_carried_out(desk: Desk) -> None:
    instance_id = _request(desk, customer_request="exchange", days=25)
    desk.work("outlet", instance_id, "inspect_product", _inspection(25, True, False))
    # No choice for the customer inside 30 days without a significant problem: straight to approval.
    assert desk.queues() == {"rcc_director": ["rcc_director_approval"]}
    desk.work("rcc_director", instance_id, "rcc_director_approval", APPROVED)
    desk.work("outlet", instance_id, "carry_out_return", EXCHANGED)
    desk.work("csd_head", instance_id, "return_to_factory", AT_FACTORY)
    _settle_fees(desk, instance_id)
    history = _visit_and_close(desk, instance_id)
    assert chosen_by(history, "policy_decision") == [["approval_merge"]]
    assert "customer_choice" not in [e["data"]["element"] for e in events_of(history, "task_created")]
    assert history[-1]["data"]["variables"]["replacement_serial_number"] == "SN-2026-000001"


def test_exchange_not_approved_becomes_warranty_repair(desk: Desk) -> None:
    instance_id = _request(desk, days=20)
    desk.work("outlet", instance_id, "inspect_product", _inspection(20, True, True))
    desk.work("rcc_director", instance_id, "rcc_director_approval", NOT_APPROVED)
    assert desk.queues() == {"outlet": ["warranty_repair"]}
    # The outlet sees why the director said no.
    task = desk.client.get(f"/api/tasks/{desk.task_of('outlet', instance_id, 'warranty_repair')['task_id']}",
                           headers=desk.login("outlet"))
    assert task.status_code == 200 and task.json()["variables"]["approval_notes"] == NOT_APPROVED["approval_notes"]
    desk.work("outlet", instance_id, "warranty_repair", REPAIRED_NO_PARTS)
    # No old parts: nothing goes to the factory, straight to the fee settlement.
    _settle_fees(desk, instance_id)
    history = _visit_and_close(desk, instance_id)
    assert chosen_by(history, "approval_decision") == [["warranty_repair"]]
    assert chosen_by(history, "parts_decision") == [["settlement_merge"]]
    assert "return_to_factory" not in [e["data"]["element"] for e in events_of(history, "task_created")]


def test_free_repair_sends_old_parts_to_the_factory(desk: Desk) -> None:
    instance_id = _request(desk, customer_request="repair", purchase_date="2025-01-10")
    desk.work("outlet", instance_id, "inspect_product", _inspection(360, True, False))
    assert desk.queues() == {"outlet": ["warranty_repair"]}
    desk.work("outlet", instance_id, "warranty_repair", REPAIRED_WITH_PARTS)
    assert desk.queues() == {"csd_head": ["return_to_factory"]}
    desk.work("csd_head", instance_id, "return_to_factory", {**AT_FACTORY, "machine_returned": False,
                                                              "parts_returned": "电机 M-70"})
    _settle_fees(desk, instance_id)
    history = _visit_and_close(desk, instance_id)
    assert chosen_by(history, "parts_decision") == [["factory_merge"]]
    assert [a for a, _ in _completed(history)] == ["outlet", "outlet", "csd_head", "outlet", "rcc_settlement",
                                                   "rcc_settlement", "rcc_visitor"]


def test_no_quality_problem_paid_repair_accepted_then_visited(desk: Desk) -> None:
    instance_id = _request(desk, customer_request="repair", days=40)
    desk.work("outlet", instance_id, "inspect_product", _inspection(40, False, False))
    desk.work("outlet", instance_id, "paid_repair_or_rejection",
              {"customer_accepts_paid_repair": True, "quote_amount": 260.0})
    assert desk.queues() == {"outlet": ["paid_repair"]}
    desk.work("outlet", instance_id, "paid_repair", {"repair_date": "2026-01-06", "repair_actions": "清洗排水泵",
                                                      "amount_charged": 260.0, "receipt_no": "SJ-001"})
    # A paid repair is the customer's bill: no fee settlement, straight to the return visit.
    history = _visit_and_close(desk, instance_id)
    assert chosen_by(history, "paid_decision") == [["paid_repair"]]
    assert [e["data"]["element"] for e in events_of(history, "call_activity_completed")] == ["return_visit_call"]
    assert _called_steps(history, "fee_settlement_audit") == []


def test_out_of_warranty_paid_repair_declined_closes_the_request(desk: Desk) -> None:
    instance_id = _request(desk, days=800)
    desk.work("outlet", instance_id, "inspect_product", _inspection(800, True, True))
    desk.work("outlet", instance_id, "paid_repair_or_rejection",
              {"customer_accepts_paid_repair": False, "decline_explanation": "超过保修期，顾客不修 / out of warranty"})
    detail = desk.instance(instance_id)
    assert detail["status"] == "completed"
    assert desk.queues() == {}
    history = desk.history(instance_id)
    assert history[-1]["data"]["end_event"] == "request_declined"
    assert chosen_by(history, "paid_decision") == [["request_declined"]]
    assert events_of(history, "call_activity_completed") == []


def test_disputed_inspection_technical_ruling_overrides_the_outlet(desk: Desk) -> None:
    instance_id = _request(desk, days=12)
    # The outlet finds no quality problem; the customer disputes it.
    outlet_finding = _inspection(12, False, False, disputed=True)
    desk.work("outlet", instance_id, "inspect_product", outlet_finding)
    assert desk.queues() == {"tech_section": ["technical_ruling"]}
    ruling = {"quality_problem": True, "significant_problem": True, "ruling_notes": "主板批次缺陷 / board defect"}
    desk.work("tech_section", instance_id, "technical_ruling", ruling)
    # The ruling, not the outlet's finding, feeds the policy: return or exchange.
    assert desk.queues() == {"outlet": ["customer_choice"]}
    history = desk.history(instance_id)
    decision = _decision(history)
    assert decision["inputs"] == {"days_since_purchase": 12, "quality_problem": True, "significant_problem": True}
    assert decision["outputs"] == {"policy_outcome": "return_or_exchange"}
    assert chosen_by(history, "dispute_decision") == [["technical_ruling"]]
    # The outlet's finding stays in the history of its own task.
    submitted = {e["data"]["element"]: e["data"]["submitted"] for e in events_of(history, "task_completed")}
    assert submitted == {"inspect_product": outlet_finding, "technical_ruling": ruling}
    types = [e["event_type"] for e in history]
    assert types.index("decision_evaluated") > [e["data"].get("element") for e in history].index("technical_ruling")

    desk.work("outlet", instance_id, "customer_choice", {"customer_choice": "exchange"})
    desk.work("rcc_director", instance_id, "rcc_director_approval", APPROVED)
    desk.work("outlet", instance_id, "carry_out_return", EXCHANGED)
    desk.work("csd_head", instance_id, "return_to_factory", AT_FACTORY)
    _settle_fees(desk, instance_id)
    _visit_and_close(desk, instance_id)


def test_disputed_inspection_ruled_no_quality_problem(desk: Desk) -> None:
    instance_id = _request(desk, days=5)
    desk.work("outlet", instance_id, "inspect_product", _inspection(5, True, True, disputed=True))
    desk.work("tech_section", instance_id, "technical_ruling",
              {"quality_problem": False, "significant_problem": False, "ruling_notes": "人为损坏 / misuse"})
    assert desk.queues() == {"outlet": ["paid_repair_or_rejection"]}
    decision = _decision(desk.history(instance_id))
    assert decision["inputs"] == {"days_since_purchase": 5, "quality_problem": False, "significant_problem": False}
    assert decision["outputs"] == {"policy_outcome": "paid_repair_or_reject"}


def test_withdrawn_fee_claim_still_ends_with_the_return_visit(desk: Desk) -> None:
    instance_id = _request(desk, days=100)
    desk.work("outlet", instance_id, "inspect_product", _inspection(100, True, False))
    desk.work("outlet", instance_id, "warranty_repair", REPAIRED_NO_PARTS)
    desk.work("outlet", instance_id, "submit_fee_claim",
              {"withdraw_claim": True, "withdrawal_reason": "保内免费，网点不申报 / no claim"})
    history = _visit_and_close(desk, instance_id)
    assert _called_steps(history, "fee_settlement_audit")[-1] == "claim_withdrawn"
    assert "audit_fee_claim" not in _called_steps(history, "fee_settlement_audit")


# --- bad input -------------------------------------------------------------------------------------------

POLICY_PROBE = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
  id="defs_policy_probe" targetNamespace="http://tixi.example/test">
  <bpmn:process id="policy_probe" name="政策试算 / Policy probe" isExecutable="true"
                camunda:candidateStarterGroups="outlet">
    <bpmn:startEvent id="probe_start" name="开始 / Start" />
    <bpmn:sequenceFlow id="f1" sourceRef="probe_start" targetRef="record_finding" />
    <bpmn:userTask id="record_finding" name="记录结论 / Record the finding" camunda:candidateGroups="tech_section"
                   camunda:formKey="technical_ruling" />
    <bpmn:sequenceFlow id="f2" sourceRef="record_finding" targetRef="decide_policy" />
    <bpmn:businessRuleTask id="decide_policy" name="按退换货政策决策 / Apply the return policy"
                           camunda:decisionRef="return_policy" />
    <bpmn:sequenceFlow id="f3" sourceRef="decide_policy" targetRef="confirm_outcome" />
    <bpmn:userTask id="confirm_outcome" name="确认结果 / Confirm the outcome" camunda:candidateGroups="outlet"
                   camunda:formKey="customer_choice" />
    <bpmn:sequenceFlow id="f4" sourceRef="confirm_outcome" targetRef="probe_end" />
    <bpmn:endEvent id="probe_end" name="结束 / End" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_missing_dmn_input_is_an_incident_the_admin_retries(desk: Desk, client: TestClient, tmp_path: Path) -> None:
    probe = tmp_path / "policy_probe.bpmn"
    probe.write_text(POLICY_PROBE, encoding="utf-8")
    with probe.open("rb") as handle:
        deployed = client.post("/api/definitions", headers=desk.login("designer"),
                               files={"file": (probe.name, handle, "application/xml")})
    assert deployed.status_code == 201, deployed.text

    instance_id = desk.start("outlet", "policy_probe", {}, business_key="PROBE-1")
    ruling = {"quality_problem": True, "significant_problem": True, "ruling_notes": "无检测天数 / no days recorded"}
    desk.work("tech_section", instance_id, "record_finding", ruling)

    # The table reads days_since_purchase, which nobody recorded: an incident on the business-rule task.
    detail = desk.instance(instance_id)
    assert detail["status"] == "failed"
    assert "days_since_purchase" in detail["status_reason"]
    assert detail["waiting_tasks"] == [] and desk.queues() == {}
    history = desk.history(instance_id)
    incident = events_of(history, "incident")
    assert len(incident) == 1
    assert incident[0]["data"]["element"] == "decide_policy"
    assert "days_since_purchase" in incident[0]["data"]["error"]
    # The completed task is kept; no decision was recorded.
    assert _completed(history) == [("tech_section", "record_finding")]
    assert events_of(history, "decision_evaluated") == []
    # The admin sees it among the failed instances.
    failed = client.get("/api/instances", headers=desk.login("admin"), params={"status": "failed"})
    assert [i["instance_id"] for i in failed.json()["items"]] == [instance_id]

    # Retrying without the missing input changes nothing.
    again = client.post(f"/api/instances/{instance_id}/retry", headers=desk.login("admin"),
                        json={"reason": "再试一次 / try again"})
    assert again.status_code == 422, again.text
    assert "days_since_purchase" in again.json()["detail"]
    assert desk.instance(instance_id)["status"] == "failed"
    assert len(desk.history(instance_id)) == len(history)

    fixed = client.post(f"/api/instances/{instance_id}/retry", headers=desk.login("admin"),
                        json={"reason": "补录购买天数 / days since purchase added", "variables": {"days_since_purchase": 9}})
    assert fixed.status_code == 200, fixed.text
    assert fixed.json()["status"] == "running"
    assert [t["element_id"] for t in fixed.json()["waiting_tasks"]] == ["confirm_outcome"]
    assert desk.queues() == {"outlet": ["confirm_outcome"]}
    history = desk.history(instance_id)
    resolved = events_of(history, "incident_resolved")
    assert [(e["actor"], e["data"]["variables"]) for e in resolved] == [("admin", {"days_since_purchase": 9})]
    decision = _decision(history)
    assert decision["inputs"] == {"days_since_purchase": 9, "quality_problem": True, "significant_problem": True}
    assert decision["outputs"] == {"policy_outcome": "return_or_exchange"}
    desk.work("outlet", instance_id, "confirm_outcome", {"customer_choice": "return"})
    assert desk.instance(instance_id)["status"] == "completed"


@pytest.mark.parametrize("bad_cell", [
    pytest.param("&lt;= 15 )", id="unbalanced-parenthesis"),
    pytest.param("[0..15", id="unclosed-range"),  # a closed one is FEEL, which Tixi reads
])
def test_dmn_with_a_syntax_error_in_a_cell_is_refused(desk: Desk, client: TestClient, tmp_path: Path,
                                                      bad_cell: str) -> None:
    source = (ROOT / "processes" / "return_policy.dmn").read_text(encoding="utf-8")
    good_cell = "<text>&lt;= 15</text>"
    assert source.count(good_cell) == 1
    broken = tmp_path / "return_policy.dmn"
    broken.write_text(source.replace(good_cell, f"<text>{bad_cell}</text>"), encoding="utf-8")
    before = client.get("/api/definitions/return_policy", headers=desk.login("designer")).json()

    with broken.open("rb") as handle:
        refused = client.post("/api/definitions", headers=desk.login("designer"),
                              files={"file": (broken.name, handle, "application/xml")})
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["type"].endswith("invalid-definition")
    assert "return_policy.dmn" in problem["detail"]
    # The problem names the cell (its input entry or rule) at fault.
    assert "rule_return_or_exchange" in json.dumps(problem["errors"]), problem
    # Nothing stored: still the one version deployed with the bundle, and instances still use it.
    after = client.get("/api/definitions/return_policy", headers=desk.login("designer")).json()
    assert [d["version"] for d in after] == [d["version"] for d in before] == [1]
    instance_id = _request(desk, days=15)
    desk.work("outlet", instance_id, "inspect_product", _inspection(15, True, True))
    assert _decision(desk.history(instance_id))["outputs"] == {"policy_outcome": "return_or_exchange"}
