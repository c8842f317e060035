"""The approval steps of the real processes decided with their forms' outcomes: each decision sets
the variable its gateway reads, so every path still routes as it did with the checkbox, and an
opinion lands in the field the next step shows (the rejection reason, the approval notes)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Desk, events_of
from tests.api.test_outlet_onboarding import REGISTRATION
from tests.api.test_outlet_revocation import COMPANY_PROPOSAL
from tests.api.test_return_exchange import AT_FACTORY, EXCHANGED, FEE_CLAIM, _inspection, _request


def decide(desk: Desk, user: str, instance_id: str, element: str, outcome: str, opinion: str | None = None,
           data: dict[str, Any] | None = None, status: int = 200) -> dict[str, Any]:
    task = desk.task_of(user, instance_id, element)
    answer = desk.client.post(f"/api/tasks/{task['task_id']}/decide", headers=desk.login(user),
                              json={"outcome": outcome, "opinion": opinion, "data": data or {}})
    assert answer.status_code == status, answer.text
    return dict(answer.json())


def test_onboarding_passes_two_reviews_and_the_csd_head_refuses(desk: Desk) -> None:
    instance_id = desk.start("outlet", "outlet_onboarding", REGISTRATION, business_key="outlet-decided-1")
    decide(desk, "rcc_director", instance_id, "rcc_review", "approve")
    assert desk.waiting(instance_id) == ["tech_review"]
    decide(desk, "tech_section", instance_id, "tech_review", "approve", "技术力量满足要求")
    assert desk.waiting(instance_id) == ["csd_approval"]
    decide(desk, "csd_head", instance_id, "csd_approval", "reject", "区域网点已饱和 / enough outlets here")
    assert desk.waiting(instance_id) == ["review_rejection"]
    variables = desk.instance(instance_id)["variables"]
    assert (variables["rcc_approved"], variables["tech_approved"], variables["csd_approved"]) == (True, True, False)
    assert variables["tech_comments"] == "技术力量满足要求"
    assert variables["rejection_reason"] == "区域网点已饱和 / enough outlets here"
    decisions = [(e["actor"], e["data"]["outcome"]) for e in events_of(desk.history(instance_id), "task_decided")]
    assert decisions == [("rcc_director", "approve"), ("tech_section", "approve"), ("csd_head", "reject")]


def test_onboarding_approved_by_the_csd_head_issues_the_agreement(desk: Desk) -> None:
    instance_id = desk.start("outlet", "outlet_onboarding", REGISTRATION, business_key="outlet-decided-2")
    for user, element in (("rcc_director", "rcc_review"), ("tech_section", "tech_review"), ("csd_head", "csd_approval")):
        decide(desk, user, instance_id, element, "approve")
    assert desk.waiting(instance_id) == ["issue_agreement"]


@pytest.mark.parametrize("refusing_step", ["rcc_confirm", "tech_confirm", "csd_approve"])
def test_revocation_confirmed_or_refused_at_each_step(desk: Desk, refusing_step: str) -> None:
    steps = [("rcc_director", "rcc_confirm"), ("tech_section", "tech_confirm"), ("csd_head", "csd_approve")]
    instance_id = desk.start("rcc_director", "outlet_revocation", COMPANY_PROPOSAL)
    for user, element in steps:
        if element == refusing_step:
            decide(desk, user, instance_id, element, "reject", status=422)  # a refusal says why
            decide(desk, user, instance_id, element, "reject", "给予整改期 / time to improve")
            break
        decide(desk, user, instance_id, element, "approve")
    assert desk.instance(instance_id)["status"] == "completed"
    assert desk.history(instance_id)[-1]["data"]["end_event"] == "revocation_rejected"

    approved = desk.start("rcc_director", "outlet_revocation", COMPANY_PROPOSAL)
    for user, element in steps:
        decide(desk, user, approved, element, "approve")
    assert desk.waiting(approved) == ["clear_accounts"]


def test_return_refused_becomes_warranty_repair_with_the_directors_reason(desk: Desk) -> None:
    instance_id = _request(desk, days=20)
    desk.work("outlet", instance_id, "inspect_product", _inspection(20, True, True))
    decide(desk, "rcc_director", instance_id, "rcc_director_approval", "reject", "问题可修复 / repairable")
    assert desk.queues() == {"outlet": ["warranty_repair"]}
    assert desk.instance(instance_id)["variables"]["approval_notes"] == "问题可修复 / repairable"


def test_fee_audit_sends_back_then_approves_with_the_amount(desk: Desk) -> None:
    instance_id = _request(desk, customer_request="exchange", days=25)
    desk.work("outlet", instance_id, "inspect_product", _inspection(25, True, False))
    decide(desk, "rcc_director", instance_id, "rcc_director_approval", "approve")
    desk.work("outlet", instance_id, "carry_out_return", EXCHANGED)
    desk.work("csd_head", instance_id, "return_to_factory", AT_FACTORY)
    desk.work("outlet", instance_id, "submit_fee_claim", FEE_CLAIM)

    missing = decide(desk, "rcc_settlement", instance_id, "audit_fee_claim", "approve", status=422)
    assert [e["field"] for e in missing["errors"]] == ["approved_amount"]
    decide(desk, "rcc_settlement", instance_id, "audit_fee_claim", "reject", "缺工单照片 / photo missing")
    assert desk.queues() == {"outlet": ["submit_fee_claim"]}
    assert desk.instance(instance_id)["variables"]["fee_rejection_reason"] == "缺工单照片 / photo missing"
    desk.work("outlet", instance_id, "submit_fee_claim", {**FEE_CLAIM, "claim_notes": "已补工单照片"})
    decide(desk, "rcc_settlement", instance_id, "audit_fee_claim", "approve", data={"approved_amount": 150.0})
    assert desk.queues() == {"rcc_settlement": ["settle_payment"]}
