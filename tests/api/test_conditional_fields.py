"""Fields a form shows only after an earlier answer (`x-show-if`), held to the page's rule by the server:
a hidden field sent anyway is refused, and a field required while shown is missed, each by name."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Desk
from tests.api.test_complaint_handling import NOT_REPAIRED, REPAIRED, _complain
from tests.api.test_decisions_in_processes import decide
from tests.api.test_outlet_onboarding import REGISTRATION


def _refused(desk: Desk, instance_id: str, data: dict[str, Any]) -> list[dict[str, str]]:
    task = desk.task_of("outlet", instance_id, "onsite_repair")
    headers = desk.login("outlet")
    desk.client.post(f"/api/tasks/{task['task_id']}/claim", headers=headers)
    answer = desk.client.post(f"/api/tasks/{task['task_id']}/complete", headers=headers, json={"data": data})
    assert answer.status_code == 422, answer.text
    return list(answer.json()["errors"])


def test_a_hidden_field_sent_anyway_is_refused_by_name(desk: Desk) -> None:
    instance_id = _complain(desk, business_key="TS-COND-HIDDEN")
    # Resolved: the reason it is not resolved does not apply, nor does a reason for declining.
    errors = _refused(desk, instance_id, {**REPAIRED, "unresolved_reason": "缺配件", "decline_reason": "太远"})
    assert {e["field"]: e["message"] for e in errors} == {
        "decline_reason": """'decline_reason' applies only when 'declined' is one of [true]: leave it out""",
        "unresolved_reason": "'unresolved_reason' applies only when 'declined' is one of [false] and "
                                  "'onsite_resolved' is one of [false]: leave it out",
    }
    desk.work("outlet", instance_id, "onsite_repair", REPAIRED)


def test_a_shown_field_the_answers_require_is_missed_by_name(desk: Desk) -> None:
    instance_id = _complain(desk, business_key="TS-COND-MISSING")
    unreasoned = {k: v for k, v in NOT_REPAIRED.items() if k != "unresolved_reason"}
    errors = _refused(desk, instance_id, unreasoned)
    assert [e["field"] for e in errors] == ["unresolved_reason"]
    desk.work("outlet", instance_id, "onsite_repair", NOT_REPAIRED)


def test_an_approval_refuses_the_rejection_reason_that_applies_only_to_a_rejection(desk: Desk) -> None:
    instance_id = desk.start("outlet", "outlet_onboarding", REGISTRATION, business_key="outlet-cond-1")
    decide(desk, "rcc_director", instance_id, "rcc_review", "approve")
    decide(desk, "tech_section", instance_id, "tech_review", "approve")
    refused = decide(desk, "csd_head", instance_id, "csd_approval", "approve", status=422,
                     data={"rejection_reason": "本区网点已饱和"})
    assert [(e["field"], e["kind"]) for e in refused["errors"]] == [("rejection_reason", "hidden")]
    decide(desk, "csd_head", instance_id, "csd_approval", "approve")
    assert "rejection_reason" not in desk.instance(instance_id)["variables"]


def test_each_field_error_names_the_rule_it_broke_for_a_page_to_say_in_its_language(desk: Desk) -> None:
    """A form's 422 carries each error's JSON Schema keyword and its number (engine/catalog.py)."""
    instance_id = desk.start("outlet", "outlet_onboarding", REGISTRATION, business_key="outlet-cond-kinds")
    review = desk.task_of("rcc_director", instance_id, "rcc_review")
    headers = desk.login("rcc_director")
    desk.client.post(f"/api/tasks/{review['task_id']}/claim", headers=headers)
    refused = desk.client.post(f"/api/tasks/{review['task_id']}/complete", headers=headers,
                               json={"data": {"rcc_approved": "yes", "site_inspection_notes": "x" * 2001}})
    assert refused.status_code == 422, refused.text
    kinds = {e["field"]: (e["kind"], e.get("limit")) for e in refused.json()["errors"]}
    assert kinds == {"rcc_approved": ("type", "boolean"), "site_inspection_notes": ("maxLength", 2000)}
