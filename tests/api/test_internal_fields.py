"""Fields a form marks internal (the reviewers' notes) are kept from outlet staff, in the task, the case,
its history and the opinions, while RCC and CSD staff read them."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import Desk, events_of
from tests.api.test_outlet_onboarding import AGREEMENT, APPROVE_CSD, APPROVE_RCC, REGISTRATION

NOTES = ("site_inspection_notes", "tech_comments", "csd_comments")


def _everything(client: TestClient, desk: Desk, user: str, instance_id: str, task_id: str | None = None) -> str:
    """All a user reads of a case through the API, as one text."""
    headers = desk.login(user)
    parts = [client.get(f"/api/instances/{instance_id}", headers=headers),
             client.get(f"/api/instances/{instance_id}/history", headers=headers)]
    if task_id:
        parts.append(client.get(f"/api/tasks/{task_id}", headers=headers))
    for response in parts:
        assert response.status_code == 200, (user, response.text)
    return json.dumps([p.json() for p in parts], ensure_ascii=False)


def test_reviewers_notes_are_hidden_from_the_outlet_and_read_by_the_rcc(desk: Desk, client: TestClient) -> None:
    instance_id = desk.start("outlet", "outlet_onboarding", REGISTRATION, business_key="outlet-huadong-001")
    desk.work("rcc_director", instance_id, "rcc_review", APPROVE_RCC)
    tech = desk.task_of("tech_section", instance_id, "tech_review")
    decided = client.post(f"/api/tasks/{tech['task_id']}/decide", headers=desk.login("tech_section"),
                          json={"outcome": "approve", "opinion": "技术力量满足要求 / enough engineers"})
    assert decided.status_code == 200, decided.text
    desk.work("csd_head", instance_id, "csd_approval", APPROVE_CSD)
    desk.work("rcc_director", instance_id, "issue_agreement", AGREEMENT)
    # The applicant is now bound to the new outlet HD-101 and confirms the agreement.
    confirm = desk.task_of("outlet", instance_id, "confirm_agreement")

    applicant = _everything(client, desk, "outlet", instance_id, str(confirm["task_id"]))
    for name in NOTES:
        assert name not in applicant, name
    for secret in (APPROVE_RCC["site_inspection_notes"], "技术力量满足要求", APPROVE_CSD["csd_comments"]):
        assert secret not in applicant, secret
    # What the applicant is meant to read stays: its own registration and the decisions themselves.
    assert REGISTRATION["outlet_name"] in applicant and '"rcc_approved": true' in applicant
    history = client.get(f"/api/instances/{instance_id}/history", headers=desk.login("outlet")).json()
    [decision] = events_of(history, "task_decided")
    assert (decision["data"]["outcome"], decision["data"]["opinion"]) == ("approve", None)

    for reviewer in ("rcc_director", "csd_head", "admin"):
        seen = _everything(client, desk, reviewer, instance_id)
        for secret in (APPROVE_RCC["site_inspection_notes"], "技术力量满足要求", APPROVE_CSD["csd_comments"]):
            assert secret in seen, (reviewer, secret)
    variables: dict[str, Any] = client.get(f"/api/instances/{instance_id}",
                                           headers=desk.login("rcc_director")).json()["variables"]
    assert variables["tech_comments"] == "技术力量满足要求 / enough engineers"


def test_a_rejection_reason_told_to_the_applicant_is_not_internal(desk: Desk, client: TestClient) -> None:
    instance_id = desk.start("outlet", "outlet_onboarding", REGISTRATION, business_key="outlet-huadong-002")
    review = desk.task_of("rcc_director", instance_id, "rcc_review")
    rejected = client.post(f"/api/tasks/{review['task_id']}/decide", headers=desk.login("rcc_director"),
                           json={"outcome": "reject", "opinion": "维修区面积不足 / repair area too small",
                                 "data": {"site_inspection_notes": "只看到一间办公室"}})
    assert rejected.status_code == 200, rejected.text
    task = desk.task_of("outlet", instance_id, "review_rejection")
    applicant = _everything(client, desk, "outlet", instance_id, str(task["task_id"]))
    assert "维修区面积不足" in applicant and "只看到一间办公室" not in applicant
