"""Outlet staff bound to an outlet see only that outlet's cases; one outlet never sees another's customers."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.api.conftest import Desk
from tests.api.test_complaint_handling import CUSTOMER_INTAKE


def _outlet_user(client: TestClient, desk: Desk, username: str, outlet_code: str) -> dict[str, str]:
    created = client.post("/api/users", headers=desk.login("admin"),
                          json={"username": username, "password": "long-enough-pw", "groups": ["outlet"],
                                "outlet_code": outlet_code})
    assert created.status_code == 201, created.text
    assert created.json()["outlet_code"] == outlet_code
    return desk.login(username, "long-enough-pw")


def test_outlet_staff_see_only_their_outlets_cases(desk: Desk, client: TestClient) -> None:
    shanghai = _outlet_user(client, desk, "hd.wang", "HD-001")
    beijing = _outlet_user(client, desk, "hb.li", "HB-002")
    instance_id = desk.start("rcc_agent", "complaint_handling", {**CUSTOMER_INTAKE, "outlet_code": "HD-001"})
    assert client.get("/api/tasks", headers=shanghai).json()["total"] == 0  # not dispatched yet
    desk.work("rcc_agent", instance_id, "dispatch_outlet", {"outlet_code": "HD-001"})
    [task] = [t for t in client.get("/api/tasks", headers=shanghai).json()["items"]]
    assert (task["element_id"], task["outlet_code"]) == ("onsite_repair", "HD-001")

    assert client.get("/api/tasks", headers=beijing).json()["total"] == 0
    for call in (client.get(f"/api/tasks/{task['task_id']}", headers=beijing),
                 client.post(f"/api/tasks/{task['task_id']}/claim", headers=beijing),
                 client.get(f"/api/instances/{instance_id}", headers=beijing)):
        assert call.status_code == 404
    # An outlet user not bound to any outlet (the demo user) still sees the shared queue.
    assert [t["task_id"] for t in desk.queue("outlet")] == [task["task_id"]]
    assert client.post(f"/api/tasks/{task['task_id']}/claim", headers=shanghai).status_code == 200

    # Staff stay within their region: a move to an outlet of another region is refused unless the
    # same change moves them to that region.
    refused = client.patch("/api/users/hb.li", headers=desk.login("admin"), json={"outlet_code": "HD-001"})
    assert refused.status_code == 422 and refused.json()["field"] == "outlet_code", refused.text
    assert client.get("/api/users", headers=desk.login("admin")).json()[-1]["outlet_code"] in ("HB-002", None)
    moved = client.patch("/api/users/hb.li", headers=desk.login("admin"),
                         json={"outlet_code": "HD-001", "region_code": "east"})
    assert (moved.json()["outlet_code"], moved.json()["region_code"]) == ("HD-001", "east"), moved.text
    assert client.get(f"/api/instances/{instance_id}", headers=beijing).status_code == 200
