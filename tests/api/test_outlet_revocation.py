"""Outlet revocation (撤销) end to end through HTTP: both proposing sides and every refusal."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Desk

COMPANY_PROPOSAL: dict[str, Any] = {
    "proposed_by": "company", "outlet_name": "华东家电维修中心", "outlet_code": "HD-001", "region": "east",
    "reason": "causes_complaints", "breach_details": "三个月内有效投诉 12 起 / 12 valid complaints in 3 months",
    "proposer_name": "张敏",
}
OUTLET_PROPOSAL: dict[str, Any] = {
    "proposed_by": "outlet", "outlet_name": "华东家电维修中心", "outlet_code": "HD-001", "region": "east",
    "reason": "outlet_request", "written_notice_ref": "HD-2026-书面通知-07", "proposer_name": "王伟",
}
CLEARANCE = {"accounts_settled": True, "spare_parts_returned": True, "outstanding_amount": 0,
             "clearance_notes": "备件已退回"}
NOTICE = {"notified_on": "2026-02-01", "notice_channel": "letter", "notice_ref": "TZ-2026-03"}


@pytest.mark.parametrize(("proposer", "proposal"), [("rcc_director", COMPANY_PROPOSAL), ("outlet", OUTLET_PROPOSAL)])
def test_revocation_approved_from_either_side(desk: Desk, proposer: str, proposal: dict[str, Any]) -> None:
    instance_id = desk.start(proposer, "outlet_revocation", proposal, business_key="HD-001")
    assert desk.waiting(instance_id) == ["rcc_confirm"]
    desk.work("rcc_director", instance_id, "rcc_confirm", {"rcc_confirmed": True})
    desk.work("tech_section", instance_id, "tech_confirm", {"tech_confirmed": True})
    desk.work("csd_head", instance_id, "csd_approve", {"csd_approved": True})
    assert [t["element_id"] for t in desk.queue("rcc_settlement")] == ["clear_accounts"]
    desk.work("rcc_settlement", instance_id, "clear_accounts", CLEARANCE)
    # The script task ran in the sandbox and the cooperation is marked terminated before notice.
    assert desk.waiting(instance_id) == ["notify_outlet"]
    assert desk.instance(instance_id)["variables"]["cooperation_status"] == "terminated"
    desk.work("rcc_agent", instance_id, "notify_outlet", NOTICE)

    detail = desk.instance(instance_id)
    assert detail["status"] == "completed"
    assert detail["variables"]["proposed_by"] == proposal["proposed_by"]
    history = desk.history(instance_id)
    assert history[0]["actor"] == proposer
    assert history[-1]["data"]["end_event"] == "outlet_revoked"
    steps = [e["data"]["element"] for e in history if e["event_type"] == "element_completed"]
    assert "terminate_cooperation" in steps
    completions = [(e["actor"], e["data"]["element"]) for e in history if e["event_type"] == "task_completed"]
    assert completions == [("rcc_director", "rcc_confirm"), ("tech_section", "tech_confirm"),
                           ("csd_head", "csd_approve"), ("rcc_settlement", "clear_accounts"),
                           ("rcc_agent", "notify_outlet")]


@pytest.mark.parametrize(
    ("refusing_step", "steps_before"),
    [
        ("rcc_confirm", []),
        ("tech_confirm", [("rcc_director", "rcc_confirm", {"rcc_confirmed": True})]),
        ("csd_approve", [("rcc_director", "rcc_confirm", {"rcc_confirmed": True}),
                         ("tech_section", "tech_confirm", {"tech_confirmed": True})]),
    ],
)
def test_revocation_refused_at_each_step(desk: Desk, refusing_step: str,
                                         steps_before: list[tuple[str, str, dict[str, Any]]]) -> None:
    instance_id = desk.start("rcc_director", "outlet_revocation", COMPANY_PROPOSAL)
    for user, element, data in steps_before:
        desk.work(user, instance_id, element, data)
    refusal = {
        "rcc_confirm": ("rcc_director", {"rcc_confirmed": False, "rcc_comments": "证据不足"}),
        "tech_confirm": ("tech_section", {"tech_confirmed": False, "tech_comments": "服务质量已整改"}),
        "csd_approve": ("csd_head", {"csd_approved": False, "csd_comments": "给予整改期"}),
    }[refusing_step]
    desk.work(refusal[0], instance_id, refusing_step, refusal[1])
    assert desk.instance(instance_id)["status"] == "completed"
    assert desk.history(instance_id)[-1]["data"]["end_event"] == "revocation_rejected"
    assert desk.queue("rcc_settlement") == []


def test_company_proposal_needs_breach_details(desk: Desk) -> None:
    proposal = {k: v for k, v in COMPANY_PROPOSAL.items() if k != "breach_details"}
    response = desk.client.post("/api/instances", headers=desk.login("rcc_director"),
                                json={"definition_key": "outlet_revocation", "variables": proposal})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["breach_details"]
    assert desk.client.get("/api/instances", headers=desk.login("admin")).json()["total"] == 0
