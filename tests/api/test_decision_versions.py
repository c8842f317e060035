"""Decision tables are versioned like processes: a new version governs new cases, running ones keep theirs."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.api.conftest import Desk
from tests.api.test_return_exchange import with_invoice
from tests.conftest import ROOT

REQUEST: dict[str, Any] = {
    "customer_name": "李四", "customer_phone": "139-0013-9000", "customer_address": "北京市海淀区中关村大街 1 号",
    "product_model": "XQG-70", "serial_number": "SN-2025-009876", "purchase_date": "2025-12-18",
    "invoice_no": "FP-88001234", "region": "north", "region_class": "B", "outlet_code": "HB-002",
    "customer_request": "return", "request_description": "洗衣机漏水 / the washing machine leaks",
}


def _inspection(days: int) -> dict[str, Any]:
    return {"days_since_purchase": days, "quality_problem": True, "significant_problem": True, "disputed": False,
            "inspection_notes": "漏水 / leaks"}


def _decided(desk: Desk, instance_id: str) -> dict[str, Any]:
    [event] = [e for e in desk.history(instance_id) if e["event_type"] == "decision_evaluated"]
    return dict(event["data"])


def test_new_decision_version_binds_new_instances_only(desk: Desk, client: TestClient) -> None:
    before = desk.start("outlet", "return_exchange", with_invoice(desk, "outlet", REQUEST), business_key="R-1")
    # Policy change: returns now allowed up to 20 days.
    source = (ROOT / "processes" / "return_policy.dmn").read_text(encoding="utf-8")
    assert "&lt;= 15" in source
    deployed = client.post("/api/definitions", headers=desk.login("designer"),
                           files={"file": ("return_policy.dmn", source.replace("&lt;= 15", "&lt;= 20").encode(),
                                           "application/xml")})
    assert deployed.status_code == 201, deployed.text
    assert deployed.json()["definitions"][0]["version"] == 2
    after = desk.start("outlet", "return_exchange", with_invoice(desk, "outlet", REQUEST), business_key="R-2")

    for instance_id in (before, after):
        desk.work("outlet", instance_id, "inspect_product", _inspection(18))
    assert _decided(desk, before)["outputs"] == {"policy_outcome": "exchange"}
    assert _decided(desk, after)["outputs"] == {"policy_outcome": "return_or_exchange"}
    assert _decided(desk, after)["inputs"]["days_since_purchase"] == 18
    versions = [desk.history(i)[0]["data"]["decision_versions"] for i in (before, after)]
    assert versions == [{"return_policy": 1}, {"return_policy": 2}]
