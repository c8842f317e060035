"""Tasklist work (assign, delegate, priority, follow-up, comments, case-field filters) and SLA deadlines."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from engine.clock import FrozenClock
from tests.api.conftest import Desk
from tests.api.test_outlet_onboarding import REGISTRATION
from tests.conftest import TEST_PROCESSES

Deploy = Callable[[Path], list[dict[str, Any]]]


def _add_director(client: TestClient, desk: Desk, name: str = "director2") -> dict[str, str]:
    created = client.post("/api/users", headers=desk.login("admin"),
                          json={"username": name, "password": "long-enough-pw", "groups": ["rcc_director"]})
    assert created.status_code == 201, created.text
    return desk.login(name, "long-enough-pw")


def test_assign_delegate_priority_follow_up_and_comments(desk: Desk, client: TestClient, clock: FrozenClock) -> None:
    instance_id = desk.start("outlet", "outlet_onboarding", REGISTRATION, business_key="HD-1")
    task = desk.task_of("rcc_director", instance_id, "rcc_review")
    url = f"/api/tasks/{task['task_id']}"
    director, other = desk.login("rcc_director"), _add_director(client, desk)
    assert task["priority"] == 50 and task["region"] == "east"
    # Only the assignee hands a task on; a stranger to the task's groups cannot receive it.
    assert client.post(f"{url}/assign", headers=director, json={"assignee": "director2"}).status_code == 403
    client.post(f"{url}/claim", headers=director)
    assert client.post(f"{url}/assign", headers=director, json={"assignee": "tech_section"}).status_code == 422
    assert client.patch(url, headers=other, json={"priority": 90}).status_code == 403
    patched = client.patch(url, headers=director, json={"priority": 90, "follow_up_at": "2026-01-07T09:00:00Z"})
    assert patched.json()["priority"] == 90 and patched.json()["follow_up_at"].startswith("2026-01-07")
    assert client.patch(url, headers=director, json={"priority": 101}).status_code == 422

    delegated = client.post(f"{url}/delegate", headers=director, json={"assignee": "director2"}).json()
    assert (delegated["assignee"], delegated["owner"]) == ("director2", "rcc_director")
    assert client.post(f"{url}/comments", headers=other, json={"text": "现场照片已上传 / photos uploaded"}).status_code == 201
    back = client.post(f"{url}/unclaim", headers=other).json()
    assert (back["assignee"], back["owner"]) == ("rcc_director", None)  # returns to the one who delegated
    assigned = client.post(f"{url}/assign", headers=director, json={"assignee": "director2"}).json()
    assert assigned["assignee"] == "director2"
    comments = client.get(f"{url}/comments", headers=director).json()
    assert [(c["author"], c["text"]) for c in comments] == [("director2", "现场照片已上传 / photos uploaded")]
    assert client.get(f"{url}/comments", headers=desk.login("tech_section")).status_code == 404
    types = [e["event_type"] for e in desk.history(instance_id)]
    assert {"task_updated", "task_delegated", "comment_added", "task_unclaimed", "task_assigned"} <= set(types)


def test_queue_filters_on_promoted_case_fields_and_sorts(desk: Desk, clock: FrozenClock, client: TestClient) -> None:
    east = desk.start("outlet", "outlet_onboarding", REGISTRATION)
    clock.advance(timedelta(minutes=1))
    north = desk.start("outlet", "outlet_onboarding", {**REGISTRATION, "region": "north"})
    assert [t["instance_id"] for t in desk.queue("rcc_director", region="north")] == [north]
    assert [t["instance_id"] for t in desk.queue("rcc_director", region="east")] == [east]
    headers = desk.login("rcc_director")
    task = desk.task_of("rcc_director", north, "rcc_review")
    client.post(f"/api/tasks/{task['task_id']}/claim", headers=headers)
    client.patch(f"/api/tasks/{task['task_id']}", headers=headers, json={"priority": 80})
    assert [t["instance_id"] for t in desk.queue("rcc_director", sort="priority")] == [north, east]
    assert [t["instance_id"] for t in desk.queue("rcc_director", sort="created")] == [east, north]
    assert client.get("/api/tasks", headers=headers, params={"sort": "random"}).status_code == 422


def _report(desk: Desk, user: str = "quality", **params: Any) -> Any:
    params = {"start": "2026-01-01", "end": "2026-12-31", **params}
    return desk.client.get("/api/reports/sla", headers=desk.login(user), params=params)


def test_sla_deadlines_met_breached_open_and_paused(desk: Desk, deploy_file: Deploy, clock: FrozenClock) -> None:
    deploy_file(TEST_PROCESSES / "sla_parts_wait.bpmn")
    # One repair done in time, one late, one still open but overdue, one open within its time.
    in_time = desk.start("rcc_agent", "sla_parts_wait", {"region": "east", "outlet_code": "HD-001"})
    late = desk.start("rcc_agent", "sla_parts_wait", {"region": "east", "outlet_code": "HD-001"})
    overdue = desk.start("rcc_agent", "sla_parts_wait", {"region": "north", "outlet_code": "HB-002"})
    confirmation = {"agreement_confirmed": True, "signatory_name": "李"}
    for instance_id in (in_time, late, overdue):
        desk.client.post("/api/messages", headers=desk.login("rcc_agent"),
                         json={"name": "sla_parts_arrived", "correlation_keys": {"instance_id": instance_id}})
    clock.advance(timedelta(hours=2))
    desk.work("outlet", in_time, "repair", confirmation)
    clock.advance(timedelta(hours=30))
    desk.work("outlet", late, "repair", confirmation)
    desk.start("rcc_agent", "sla_parts_wait", {"region": "north", "outlet_code": "HB-002"})  # open, within time
    rows = {(r["region"], r["outlet_code"]): r for r in _report(desk).json()}
    assert (rows[("east", "HD-001")]["met"], rows[("east", "HD-001")]["breached"]) == (1, 1)
    assert (rows[("north", "HB-002")]["breached"], rows[("north", "HB-002")]["open"]) == (1, 1)
    assert all(r["process_key"] == "sla_parts_wait" for r in rows.values())

    # While the case waits for parts (sla_pause), its repair clock stands still.
    paused = desk.start("rcc_agent", "sla_parts_wait", {"region": "华南", "outlet_code": "HN-003"})
    clock.advance(timedelta(hours=48))  # two days waiting for parts: not the outlet's fault
    desk.client.post("/api/messages", headers=desk.login("rcc_agent"),
                     json={"name": "sla_parts_arrived", "correlation_keys": {"instance_id": paused}})
    clock.advance(timedelta(hours=20))
    desk.work("outlet", paused, "repair", confirmation)
    south = [r for r in _report(desk).json() if r["region"] == "华南"]
    assert (south[0]["met"], south[0]["breached"]) == (1, 0)


def test_sla_report_is_for_quality_and_checks_its_period(desk: Desk) -> None:
    assert _report(desk, "outlet").status_code == 403
    assert _report(desk, "quality", start="2026-02-01", end="2026-01-01").status_code == 422
    assert _report(desk, "csd_head").json() == []


def test_calendar_api_for_admins(desk: Desk, client: TestClient) -> None:
    admin = desk.login("admin")
    put = client.put("/api/calendar/2026-10-01", headers=admin, json={"kind": "holiday", "name": "国庆节"})
    assert put.status_code == 200 and put.json()["day"] == "2026-10-01"
    assert client.put("/api/calendar/2026-10-02", headers=admin, json={"kind": "party", "name": "x"}).status_code == 422
    assert client.put("/api/calendar/2026-10-02", headers=desk.login("quality"),
                      json={"kind": "holiday", "name": "x"}).status_code == 403
    assert [d["day"] for d in client.get("/api/calendar", headers=desk.login("outlet")).json()] == ["2026-10-01"]
    assert client.delete("/api/calendar/2026-10-01", headers=admin).status_code == 204
    assert client.delete("/api/calendar/2026-10-01", headers=admin).status_code == 404


def test_case_deadline_is_met_or_breached_when_the_case_ends(desk: Desk, deploy_file: Deploy,
                                                             clock: FrozenClock) -> None:
    deploy_file(TEST_PROCESSES / "sla_case.bpmn")
    quick = desk.start("rcc_agent", "sla_case", {"region": "east"})
    slow = desk.start("rcc_agent", "sla_case", {"region": "east"})
    withdrawn = desk.start("rcc_agent", "sla_case", {"region": "east"})
    clock.advance(timedelta(days=1))
    desk.work("rcc_director", quick, "handle", {"rcc_approved": True})
    desk.client.post(f"/api/instances/{withdrawn}/terminate", headers=desk.login("admin"), json={"reason": "撤回"})
    clock.advance(timedelta(days=2))
    desk.work("rcc_director", slow, "handle", {"rcc_approved": True})
    [row] = _report(desk, process_key="sla_case").json()
    # The task has no due date: these are the three cases' own deadlines; the withdrawn one counts for neither.
    assert (row["met"], row["breached"], row["open"], row["total"]) == (1, 1, 0, 2)
