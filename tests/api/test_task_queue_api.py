"""Task queue rules through HTTP: who may claim and complete, form validation, races, admin controls."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.clock import FrozenClock
from engine.tables import AuditEvent, Instance, Task, TaskCandidateGroup
from tests.api.conftest import Desk
from tests.api.test_outlet_onboarding import REGISTRATION

Login = Callable[[str], dict[str, str]]


def _snapshot(factory: sessionmaker[Session]) -> tuple[int, int, list[Any]]:
    with factory() as session:
        events = session.scalar(select(func.count()).select_from(AuditEvent)) or 0
        states = [(i.lock_version, i.status) for i in session.scalars(select(Instance).order_by(Instance.instance_id))]
        open_tasks = session.scalar(select(func.count()).select_from(Task).where(Task.status == "open")) or 0
    return events, open_tasks, states


@pytest.fixture
def review(desk: Desk) -> tuple[str, str]:
    instance_id = desk.start("outlet", "outlet_onboarding", REGISTRATION, business_key="HD-7")
    return instance_id, desk.task_of("rcc_director", instance_id, "rcc_review")["task_id"]


def test_queue_lists_tasks_with_filters_and_paging(desk: Desk, clock: FrozenClock) -> None:
    ids = []
    for n in range(3):
        ids.append(desk.start("outlet", "outlet_onboarding", REGISTRATION, business_key=f"HD-{n}"))
        clock.advance(timedelta(minutes=5))
    queue = desk.queue("rcc_director")
    assert [t["business_key"] for t in queue] == ["HD-0", "HD-1", "HD-2"]  # oldest first
    assert all(t["due_at"] for t in queue)  # camunda:dueDate gives every review a deadline
    assert queue[0]["candidate_groups"] == ["rcc_director"]
    assert [t["instance_id"] for t in desk.queue("rcc_director", business_key="HD-1")] == [ids[1]]
    page = desk.client.get("/api/tasks", headers=desk.login("rcc_director"), params={"limit": 2, "offset": 2}).json()
    assert (page["total"], len(page["items"])) == (3, 1)
    desk.work("rcc_director", ids[0], "rcc_review", {"rcc_approved": True})
    assert len(desk.queue("rcc_director")) == 2
    done = desk.queue("rcc_director", status="completed")
    assert [(t["instance_id"], t["completed_by"]) for t in done] == [(ids[0], "rcc_director")]
    bad = desk.client.get("/api/tasks", headers=desk.login("rcc_director"), params={"status": "weird"})
    assert bad.status_code == 422 and bad.json()["field"] == "status"


def test_queue_count_stops_at_the_cap(desk: Desk, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch) -> None:
    """A huge queue is not counted to its end on every page: past the cap the page says so."""
    monkeypatch.setattr("engine.task_queue.QUEUE_COUNT_CAP", 2)
    for n in range(3):
        desk.start("outlet", "outlet_onboarding", REGISTRATION, business_key=f"HD-{n}")
        clock.advance(timedelta(minutes=5))
    page = desk.client.get("/api/tasks", headers=desk.login("rcc_director"), params={"limit": 1, "offset": 2}).json()
    assert (page["total"], page["total_capped"]) == (2, True)
    assert [t["business_key"] for t in page["items"]] == ["HD-2"]  # paging goes on past the count
    exact = desk.client.get("/api/tasks", headers=desk.login("rcc_director"), params={"business_key": "HD-1"}).json()
    assert (exact["total"], exact["total_capped"]) == (1, False)


def test_queue_page_carries_groups_order_and_count_in_one_read(desk: Desk, clock: FrozenClock,
                                                               factory: sessionmaker[Session]) -> None:
    """The page, its count and every task's candidate groups come from one statement: a task reached
    by two routes (its group, and claimed) is listed once, with all its groups, in queue order."""
    ids = []
    for n in range(3):
        ids.append(desk.start("outlet", "outlet_onboarding", REGISTRATION, business_key=f"HD-{n}"))
        clock.advance(timedelta(minutes=5))
    first, second, third = (desk.task_of("rcc_director", i, "rcc_review") for i in ids)
    with factory() as session, session.begin():
        session.add(TaskCandidateGroup(task_id=uuid.UUID(second["task_id"]), group_id="quality"))
        session.get_one(Task, uuid.UUID(first["task_id"])).due_at = None
        session.get_one(Task, uuid.UUID(third["task_id"])).due_at = clock.now() - timedelta(days=1)
    claimed = desk.client.post(f"/api/tasks/{second['task_id']}/claim", headers=desk.login("rcc_director"))
    assert claimed.status_code == 200, claimed.text

    page = desk.client.get("/api/tasks", headers=desk.login("rcc_director")).json()
    assert [t["business_key"] for t in page["items"]] == ["HD-0", "HD-1", "HD-2"]
    assert (page["total"], page["total_capped"]) == (3, False)
    assert [t["candidate_groups"] for t in page["items"]] == [["rcc_director"], ["quality", "rcc_director"],
                                                             ["rcc_director"]]
    assert page["items"][1]["assignee"] == "rcc_director"
    by_due = desk.queue("rcc_director", sort="due")
    assert [t["business_key"] for t in by_due] == ["HD-2", "HD-1", "HD-0"]  # no due date: last
    assert [(t["business_key"], t["candidate_groups"]) for t in desk.queue("quality")] == [
        ("HD-1", ["quality", "rcc_director"])]
    past_the_end = desk.client.get("/api/tasks", headers=desk.login("rcc_director"), params={"offset": 5}).json()
    assert (past_the_end["items"], past_the_end["total"]) == ([], 3)
    empty = desk.client.get("/api/tasks", headers=desk.login("csd_head")).json()
    assert (empty["items"], empty["total"], empty["total_capped"]) == ([], 0, False)


def test_claim_requires_candidate_group(desk: Desk, review: tuple[str, str], factory: sessionmaker[Session]) -> None:
    _, task_id = review
    before = _snapshot(factory)
    # Not in the queue of another group: the task does not exist for them (ids are not to be guessed).
    response = desk.client.post(f"/api/tasks/{task_id}/claim", headers=desk.login("tech_section"))
    assert response.status_code == 404
    assert desk.client.get(f"/api/tasks/{task_id}", headers=desk.login("tech_section")).status_code == 404
    assert _snapshot(factory) == before


def test_complete_requires_claim_and_assignee(desk: Desk, review: tuple[str, str], factory: sessionmaker[Session],
                                              client: TestClient) -> None:
    _, task_id = review
    admin = desk.login("admin")
    created = client.post("/api/users", headers=admin,
                          json={"username": "director2", "password": "long-enough-pw", "groups": ["rcc_director"]})
    assert created.status_code == 201, created.text
    other = desk.login("director2", "long-enough-pw")
    unclaimed = client.post(f"/api/tasks/{task_id}/complete", headers=other, json={"data": {"rcc_approved": True}})
    assert unclaimed.status_code == 403
    assert "claim the task" in unclaimed.json()["detail"]
    assert client.post(f"/api/tasks/{task_id}/claim", headers=desk.login("rcc_director")).status_code == 200
    before = _snapshot(factory)
    assert client.post(f"/api/tasks/{task_id}/claim", headers=other).status_code == 409
    response = client.post(f"/api/tasks/{task_id}/complete", headers=other, json={"data": {"rcc_approved": True}})
    assert response.status_code == 403
    assert "only the assignee (rcc_director)" in response.json()["detail"]
    assert client.post(f"/api/tasks/{task_id}/unclaim", headers=other).status_code == 403
    assert _snapshot(factory) == before
    assert client.post(f"/api/tasks/{task_id}/unclaim", headers=desk.login("rcc_director")).status_code == 200
    assert client.post(f"/api/tasks/{task_id}/claim", headers=other).status_code == 200


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ({}, ["rcc_approved"]),
        ({"rcc_approved": "yes"}, ["rcc_approved"]),
        ({"rcc_approved": False}, ["rejection_reason"]),
        ({"rcc_approved": True, "site_inspection_notes": "x" * 5000}, ["site_inspection_notes"]),
        ({"rcc_approved": True, "smuggled": 1}, ["smuggled"]),
        ({"rcc_approved": False, "rejection_reason": 42, "site_inspection_notes": ["no"]},
         ["rejection_reason", "site_inspection_notes"]),
    ],
)
def test_bad_form_data_is_rejected_naming_each_field(desk: Desk, review: tuple[str, str],
                                                     factory: sessionmaker[Session], data: dict[str, Any],
                                                     fields: list[str]) -> None:
    instance_id, task_id = review
    headers = desk.login("rcc_director")
    assert desk.client.post(f"/api/tasks/{task_id}/claim", headers=headers).status_code == 200
    before = _snapshot(factory)
    response = desk.client.post(f"/api/tasks/{task_id}/complete", headers=headers, json={"data": data})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["type"] == "urn:tixi:problem:invalid-form-data"
    assert sorted({e["field"] for e in body["errors"]}) == sorted(fields)
    assert _snapshot(factory) == before
    assert desk.waiting(instance_id) == ["rcc_review"]


def test_start_form_is_validated(desk: Desk, factory: sessionmaker[Session]) -> None:
    before = _snapshot(factory)
    bad = {**REGISTRATION, "region_class": "D", "staff": {**REGISTRATION["staff"], "engineers": -1}}
    response = desk.client.post("/api/instances", headers=desk.login("outlet"),
                                json={"definition_key": "outlet_onboarding", "variables": bad})
    assert response.status_code == 422
    assert sorted(e["field"] for e in response.json()["errors"]) == ["region_class", "staff.engineers"]
    assert _snapshot(factory) == before


def test_only_starter_groups_start(desk: Desk, factory: sessionmaker[Session]) -> None:
    before = _snapshot(factory)
    response = desk.client.post("/api/instances", headers=desk.login("csd_head"),
                                json={"definition_key": "outlet_onboarding", "variables": REGISTRATION})
    assert response.status_code == 403
    missing = desk.client.post("/api/instances", headers=desk.login("outlet"),
                               json={"definition_key": "no_such_process", "variables": {}})
    assert missing.status_code == 404
    assert _snapshot(factory) == before


def test_concurrent_completion_exactly_one_wins(desk: Desk, review: tuple[str, str],
                                                factory: sessionmaker[Session]) -> None:
    instance_id, task_id = review
    headers = desk.login("rcc_director")
    assert desk.client.post(f"/api/tasks/{task_id}/claim", headers=headers).status_code == 200
    barrier, statuses = threading.Barrier(2), []

    def complete() -> None:
        barrier.wait()
        response = desk.client.post(f"/api/tasks/{task_id}/complete", headers=headers,
                                    json={"data": {"rcc_approved": True}})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=complete) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409]
    history = desk.history(instance_id)
    assert [e["data"]["element"] for e in history if e["event_type"] == "task_completed"] == ["rcc_review"]
    assert desk.waiting(instance_id) == ["tech_review"]


def test_complete_with_claim_takes_an_unclaimed_task_in_one_transaction(
        desk: Desk, review: tuple[str, str], factory: sessionmaker[Session], client: TestClient) -> None:
    """`claim: true` claims and completes in one request, under a claim's rules: a member of the
    task's groups may; a task someone else holds stays theirs; the queue of another group sees nothing."""
    instance_id, task_id = review
    admin = desk.login("admin")
    for name, group in (("director2", "rcc_director"), ("tech2", "tech_section")):
        created = client.post("/api/users", headers=admin,
                              json={"username": name, "password": "long-enough-pw", "groups": [group]})
        assert created.status_code == 201, created.text
    before = _snapshot(factory)
    outsider = client.post(f"/api/tasks/{task_id}/complete", headers=desk.login("tech2", "long-enough-pw"),
                           json={"data": {"rcc_approved": True}, "claim": True})
    assert outsider.status_code == 404
    assert client.post(f"/api/tasks/{task_id}/complete", headers=desk.login("rcc_director"),
                       json={"data": {"rcc_approved": "yes"}, "claim": True}).status_code == 422
    assert _snapshot(factory) == before  # a refused completion claims nothing either
    done = client.post(f"/api/tasks/{task_id}/complete", headers=desk.login("rcc_director"),
                       json={"data": {"rcc_approved": True}, "claim": True})
    assert done.status_code == 200, done.text
    assert done.json()["assignee"] == "rcc_director" and done.json()["status"] == "completed"
    types = [e["event_type"] for e in desk.history(instance_id) if e["task_id"] == task_id]
    assert types[-2:] == ["task_claimed", "task_completed"]
    # Someone else's task is not taken over by asking to claim it.
    nxt = desk.task_of("tech_section", instance_id, "tech_review")["task_id"]
    assert client.post(f"/api/tasks/{nxt}/claim", headers=desk.login("tech_section")).status_code == 200
    taken = client.post(f"/api/tasks/{nxt}/complete", headers=desk.login("tech2", "long-enough-pw"),
                        json={"data": {}, "claim": True})
    assert taken.status_code == 403 and "only the assignee (tech_section)" in taken.json()["detail"]


def test_concurrent_claims_exactly_one_wins(desk: Desk, review: tuple[str, str], client: TestClient) -> None:
    instance_id, task_id = review
    client.post("/api/users", headers=desk.login("admin"),
                json={"username": "director2", "password": "long-enough-pw", "groups": ["rcc_director"]})
    people = [desk.login("rcc_director"), desk.login("director2", "long-enough-pw")]
    barrier, statuses = threading.Barrier(2), []

    def claim(headers: dict[str, str]) -> None:
        barrier.wait()
        statuses.append(client.post(f"/api/tasks/{task_id}/claim", headers=headers).status_code)

    threads = [threading.Thread(target=claim, args=(h,)) for h in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409]
    assert len([e for e in desk.history(instance_id) if e["event_type"] == "task_claimed"]) == 1


def test_admin_suspends_resumes_terminates(desk: Desk, review: tuple[str, str], factory: sessionmaker[Session]) -> None:
    instance_id, task_id = review
    admin, director = desk.login("admin"), desk.login("rcc_director")
    url = f"/api/instances/{instance_id}"
    assert desk.client.post(f"{url}/suspend", headers=director, json={"reason": "x"}).status_code == 403
    assert desk.client.post(f"{url}/suspend", headers=admin, json={"reason": ""}).status_code == 422
    assert desk.client.post(f"{url}/suspend", headers=admin, json={"reason": "客户要求暂停"}).json()["status"] == "suspended"
    assert desk.client.post(f"/api/tasks/{task_id}/claim", headers=director).status_code == 409
    assert desk.client.post(f"{url}/suspend", headers=admin, json={"reason": "again"}).status_code == 409
    assert desk.client.post(f"{url}/resume", headers=admin, json={"reason": "资料已补齐"}).json()["status"] == "running"
    assert desk.client.post(f"/api/tasks/{task_id}/claim", headers=director).status_code == 200
    terminated = desk.client.post(f"{url}/terminate", headers=admin, json={"reason": "申请人撤回"}).json()
    assert terminated["status"] == "terminated" and terminated["status_reason"] == "申请人撤回"
    assert desk.queue("rcc_director") == []
    types = [e["event_type"] for e in desk.history(instance_id)]
    assert types[-5:] == ["suspended", "resumed", "task_claimed", "terminated", "task_cancelled"]


def test_instances_are_visible_only_to_participants(desk: Desk, review: tuple[str, str]) -> None:
    """Outside the organisation's scopes (no region, no outlet, not the CSD) a case is seen by who took
    part in it or whose queue it waits on; the CSD's departments see every case."""
    instance_id, _ = review
    assert desk.client.get(f"/api/instances/{instance_id}", headers=desk.login("outlet")).status_code == 200
    assert desk.client.get(f"/api/instances/{instance_id}", headers=desk.login("rcc_director")).status_code == 200
    for national in ("tech_section", "csd_head", "quality"):
        assert desk.client.get(f"/api/instances/{instance_id}", headers=desk.login(national)).status_code == 200
    for stranger in ("rcc_agent", "rcc_visitor", "rcc_settlement"):
        assert desk.client.get(f"/api/instances/{instance_id}", headers=desk.login(stranger)).status_code == 404
        assert desk.client.get(f"/api/instances/{instance_id}/history",
                               headers=desk.login(stranger)).status_code == 404
        assert desk.client.get("/api/instances", headers=desk.login(stranger)).json()["total"] == 0
    listed = desk.client.get("/api/instances", headers=desk.login("admin"),
                             params={"definition_key": "outlet_onboarding", "status": "running"}).json()
    assert [i["instance_id"] for i in listed["items"]] == [instance_id]
    assert desk.client.get("/api/instances", headers=desk.login("admin"),
                           params={"business_key": "other"}).json()["total"] == 0
