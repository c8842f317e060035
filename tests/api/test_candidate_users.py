"""`camunda:candidateUsers`: a task offered to people by name shows in their queues, beside its groups.

Queue, single-task read, claim, completion, the case page and the history agree; names come as
written, from `${...}` (a name, a comma list or a list) or both; a name that is no user is refused at
Check naming the element and the user. Everything goes through the API on both databases.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

Login = Callable[[str], dict[str, str]]

_PROCESS = ('<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
            'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">'
            '<bpmn:process id="{key}" isExecutable="true"><bpmn:startEvent id="s"/>'
            '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="review"/>'
            '<bpmn:userTask id="review" name="Review" camunda:formKey="rcc_site_review" {attributes}/>'
            '<bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="e"/><bpmn:endEvent id="e"/>'
            '</bpmn:process></bpmn:definitions>')


def _deploy(client: TestClient, login: Login, key: str, attributes: str, dry_run: bool = False) -> Any:
    return client.post(f"/api/definitions?dry_run={str(dry_run).lower()}", headers=login("designer"),
                       files={"file": (f"{key}.bpmn", _PROCESS.format(key=key, attributes=attributes).encode(),
                                       "application/xml")})


def _start(client: TestClient, login: Login, key: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/instances", headers=login("admin"),
                           json={"definition_key": key, "variables": variables})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _queue(client: TestClient, login: Login, user: str) -> list[str]:
    response = client.get("/api/tasks", headers=login(user))
    assert response.status_code == 200, response.text
    return [t["instance_id"] for t in response.json()["items"]]


def test_candidate_users_see_claim_and_complete_the_task_and_others_cannot(client: TestClient, login: Login) -> None:
    response = _deploy(client, login, "offered",
                       'camunda:candidateGroups="rcc_director" camunda:candidateUsers="rcc_agent, ${reviewer}"')
    assert response.status_code == 201, response.text
    case = _start(client, login, "offered", {"reviewer": "rcc_visitor"})
    instance_id = case["instance_id"]
    # The group's member, the user named as written and the one named by the expression: all three queues.
    for user in ("rcc_director", "rcc_agent", "rcc_visitor"):
        assert instance_id in _queue(client, login, user), user
    assert instance_id not in _queue(client, login, "rcc_settlement")
    [task] = [t for t in client.get("/api/tasks", headers=login("rcc_agent")).json()["items"]
              if t["instance_id"] == instance_id]
    task_id = task["task_id"]
    assert task["candidate_groups"] == ["rcc_director"]

    detail = client.get(f"/api/tasks/{task_id}", headers=login("rcc_agent")).json()
    assert detail["candidate_users"] == ["rcc_agent", "rcc_visitor"]
    assert "claim" in detail["allowed_actions"]
    # Someone neither in the group nor named sees neither the task nor the case, and cannot claim it.
    assert client.get(f"/api/tasks/{task_id}", headers=login("rcc_settlement")).status_code == 404
    assert client.post(f"/api/tasks/{task_id}/claim", headers=login("rcc_settlement")).status_code == 404
    assert client.get(f"/api/instances/{instance_id}", headers=login("rcc_settlement")).status_code == 404
    assert client.get(f"/api/instances/{instance_id}", headers=login("rcc_visitor")).status_code == 200

    claimed = client.post(f"/api/tasks/{task_id}/claim", headers=login("rcc_visitor"))
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["assignee"] == "rcc_visitor"
    assert client.post(f"/api/tasks/{task_id}/claim", headers=login("rcc_agent")).status_code == 409
    done = client.post(f"/api/tasks/{task_id}/complete", headers=login("rcc_visitor"),
                       json={"data": {"rcc_approved": True}})
    assert done.status_code == 200, done.text
    assert client.get(f"/api/instances/{instance_id}", headers=login("admin")).json()["status"] == "completed"
    history = client.get(f"/api/instances/{instance_id}/history", headers=login("admin")).json()
    [created] = [e for e in history if e["event_type"] == "task_created"]
    assert created["data"]["candidate_users"] == ["rcc_agent", "rcc_visitor"]
    assert [e["actor"] for e in history if e["event_type"] == "task_completed"] == ["rcc_visitor"]


def test_an_expression_may_name_a_list_or_a_comma_list_and_the_task_needs_no_group(
        client: TestClient, login: Login) -> None:
    assert _deploy(client, login, "by_name", 'camunda:candidateUsers="${reviewers}"').status_code == 201
    listed = _start(client, login, "by_name", {"reviewers": ["rcc_agent", "rcc_settlement"]})["instance_id"]
    comma = _start(client, login, "by_name", {"reviewers": "rcc_visitor, rcc_settlement"})["instance_id"]
    assert listed in _queue(client, login, "rcc_agent") and comma not in _queue(client, login, "rcc_agent")
    assert {listed, comma} <= set(_queue(client, login, "rcc_settlement"))
    assert comma in _queue(client, login, "rcc_visitor") and listed not in _queue(client, login, "rcc_visitor")
    # No group holds it: only the named may claim it; a group member of another queue may not.
    assert listed not in _queue(client, login, "rcc_director")


def test_a_candidate_user_who_does_not_exist_is_refused_at_check_naming_the_element_and_user(
        client: TestClient, login: Login) -> None:
    for dry_run in (True, False):
        response = _deploy(client, login, "ghosts", 'camunda:candidateGroups="rcc_director" '
                           'camunda:candidateUsers="rcc_agent,ghost.user"', dry_run=dry_run)
        assert response.status_code == 422, response.text
        error = response.json()["errors"][0]
        assert error["element"] == "review"
        assert "camunda:candidateUsers names 'ghost.user', who is no user of Tixi" in error["problem"]
        assert "候选用户 'ghost.user' 不存在" in error["problem"]
    assert client.get("/api/definitions", headers=login("admin")).json() == []


def test_a_candidate_users_expression_the_sandbox_refuses_or_that_mixes_text_is_refused_at_check(
        client: TestClient, login: Login) -> None:
    mixed = _deploy(client, login, "mixed", 'camunda:candidateUsers="user-${id}"', dry_run=True)
    assert mixed.status_code == 422, mixed.text
    assert mixed.json()["element"] == "review"
    assert "camunda:candidateUsers item 'user-${id}' mixes text and an expression" in mixed.json()["detail"]
    unsafe = _deploy(client, login, "unsafe", 'camunda:candidateUsers="${__import__}"', dry_run=True)
    assert unsafe.status_code == 422, unsafe.text
    assert unsafe.json()["element"] == "review" and "'__import__'" in unsafe.json()["detail"]


def test_a_first_task_whose_candidate_users_expression_fails_is_refused_at_start(
        client: TestClient, login: Login) -> None:
    assert _deploy(client, login, "missing", 'camunda:candidateUsers="${reviewers}"').status_code == 201
    response = client.post("/api/instances", headers=login("admin"), json={"definition_key": "missing",
                                                                            "variables": {}})
    assert response.status_code == 422, response.text
    assert "the candidate users expression of 'Review' failed" in response.json()["detail"]
    assert client.get("/api/instances", headers=login("admin")).json()["items"] == []
