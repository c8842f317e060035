"""Multi-instance user tasks, parallel and sequential, as Camunda 7 runs them, through the API.

`camunda:collection` with `camunda:elementVariable` makes one task per item (here each assigned to
the person the item names), `loopCardinality` a number of them; `completionCondition` reads
Camunda's counters and ends the rest early (their tasks cancelled); what each instance's form
submitted joins the case. Both databases.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

Login = Callable[[str], dict[str, str]]

_PROCESS = ('<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
            'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">'
            '<bpmn:process id="{key}" isExecutable="true"><bpmn:startEvent id="s"/>'
            '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="review"/>'
            '<bpmn:userTask id="review" name="Review" camunda:formKey="rcc_site_review" {attributes}>'
            '<bpmn:multiInstanceLoopCharacteristics {loop}</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>'
            '<bpmn:sequenceFlow id="f2" sourceRef="review" targetRef="e"/><bpmn:endEvent id="e"/>'
            '</bpmn:process></bpmn:definitions>')


def _deploy(client: TestClient, login: Login, key: str, attributes: str, loop: str, dry_run: bool = False) -> Any:
    xml = _PROCESS.format(key=key, attributes=attributes, loop=loop)
    return client.post(f"/api/definitions?dry_run={str(dry_run).lower()}", headers=login("designer"),
                       files={"file": (f"{key}.bpmn", xml.encode(), "application/xml")})


def _start(client: TestClient, login: Login, key: str, variables: dict[str, Any]) -> Any:
    return client.post("/api/instances", headers=login("admin"), json={"definition_key": key, "variables": variables})


def _tasks(client: TestClient, login: Login, user: str, instance_id: str) -> list[dict[str, Any]]:
    items = client.get("/api/tasks", headers=login(user)).json()["items"]
    return [t for t in items if t["instance_id"] == instance_id]


def _complete(client: TestClient, login: Login, user: str, task_id: str, data: dict[str, Any]) -> None:
    headers = login(user)
    task = client.get(f"/api/tasks/{task_id}", headers=headers).json()
    if task["assignee"] is None:
        assert client.post(f"/api/tasks/{task_id}/claim", headers=headers).status_code == 200
    response = client.post(f"/api/tasks/{task_id}/complete", headers=headers, json={"data": data})
    assert response.status_code == 200, response.text


def test_a_parallel_review_by_each_listed_person_ends_when_two_have_answered(client: TestClient, login: Login) -> None:
    response = _deploy(client, login, "parallel_review", 'camunda:assignee="${reviewer}"',
                       'isSequential="false" camunda:collection="${reviewers}" camunda:elementVariable="reviewer">'
                       '<bpmn:completionCondition>${nrOfCompletedInstances &gt;= 2}</bpmn:completionCondition>')
    assert response.status_code == 201, response.text
    started = _start(client, login, "parallel_review", {"reviewers": ["rcc_agent", "rcc_visitor", "rcc_settlement"]})
    assert started.status_code == 201, started.text
    instance_id = started.json()["instance_id"]
    # One task per listed person, each in that person's queue only, all open at once.
    mine = {user: _tasks(client, login, user, instance_id) for user in ("rcc_agent", "rcc_visitor", "rcc_settlement")}
    assert {user: [t["assignee"] for t in found] for user, found in mine.items()} == {
        "rcc_agent": ["rcc_agent"], "rcc_visitor": ["rcc_visitor"], "rcc_settlement": ["rcc_settlement"]}
    assert {t["element_id"] for found in mine.values() for t in found} == {"review"}
    first = client.get(f"/api/tasks/{mine['rcc_agent'][0]['task_id']}", headers=login("rcc_agent")).json()
    assert first["variables"]["reviewer"] == "rcc_agent" and first["variables"]["loopCounter"] == 0

    _complete(client, login, "rcc_agent", mine["rcc_agent"][0]["task_id"], {"rcc_approved": True})
    assert client.get(f"/api/instances/{instance_id}", headers=login("admin")).json()["status"] == "running"
    _complete(client, login, "rcc_visitor", mine["rcc_visitor"][0]["task_id"],
              {"rcc_approved": False, "rejection_reason": "site too small"})
    # Two of three answered: the condition ends the third, whose task leaves its queue, and the case goes on.
    assert _tasks(client, login, "rcc_settlement", instance_id) == []
    case = client.get(f"/api/instances/{instance_id}", headers=login("admin")).json()
    assert case["status"] == "completed"
    assert case["variables"]["rcc_approved"] is False  # each instance's answer joins the case, the later winning
    assert case["variables"]["rejection_reason"] == "site too small"
    assert case["variables"]["reviewers"] == ["rcc_agent", "rcc_visitor", "rcc_settlement"]
    assert "reviewer" not in case["variables"] and "loopCounter" not in case["variables"]
    history = client.get(f"/api/instances/{instance_id}/history", headers=login("admin")).json()
    assert [e["data"]["element"] for e in history if e["event_type"] == "task_cancelled"] == ["review"]
    assert sorted(e["actor"] for e in history if e["event_type"] == "task_completed") == ["rcc_agent", "rcc_visitor"]


def test_a_sequential_task_by_loop_cardinality_queues_one_instance_after_the_other(
        client: TestClient, login: Login) -> None:
    response = _deploy(client, login, "rounds", 'camunda:candidateGroups="rcc_director"',
                       'isSequential="true"><bpmn:loopCardinality>${rounds}</bpmn:loopCardinality>')
    assert response.status_code == 201, response.text
    started = _start(client, login, "rounds", {"rounds": 2})
    assert started.status_code == 201, started.text
    instance_id = started.json()["instance_id"]
    for round_number in (0, 1):
        [task] = _tasks(client, login, "rcc_director", instance_id)
        detail = client.get(f"/api/tasks/{task['task_id']}", headers=login("rcc_director")).json()
        assert detail["variables"]["loopCounter"] == round_number
        _complete(client, login, "rcc_director", task["task_id"],
                  {"rcc_approved": True, "site_inspection_notes": f"round {round_number}"})
    case = client.get(f"/api/instances/{instance_id}", headers=login("admin")).json()
    assert case["status"] == "completed" and case["variables"]["site_inspection_notes"] == "round 1"


def test_a_loop_cardinality_that_is_no_number_refuses_the_start_naming_it(client: TestClient, login: Login) -> None:
    assert _deploy(client, login, "bad_rounds", 'camunda:candidateGroups="rcc_director"',
                   'isSequential="false"><bpmn:loopCardinality>rounds</bpmn:loopCardinality>').status_code == 201
    response = _start(client, login, "bad_rounds", {"rounds": ["a", "b"]})
    assert response.status_code == 422, response.text
    assert "loopCardinality 'rounds' is ['a', 'b'], not a whole number" in response.json()["detail"]
    # The version's shared spec was not rewritten: a case with a number still runs.
    fine = _start(client, login, "bad_rounds", {"rounds": 2})
    assert fine.status_code == 201, fine.text
    assert len(_tasks(client, login, "rcc_director", fine.json()["instance_id"])) == 2


@pytest.mark.parametrize(("loop", "message"), [
    ('isSequential="false"><bpmn:loopDataInputRef>items</bpmn:loopDataInputRef>'
     '<bpmn:inputDataItem id="item"/>',
     "task 'review' (Review) repeats over loopDataInputRef, inputDataItem (the standard's data input)"),
    ('isSequential="false">', "is multi-instance without loopCardinality or camunda:collection"),
    ('isSequential="false" camunda:collection="${reviewers.keys()}">', "camunda:collection '${reviewers.keys()}' is "
                                                                      "not a variable"),
    ('isSequential="false" camunda:collection="items"><bpmn:completionCondition>${done ? 1 : 0}'
     '</bpmn:completionCondition>', "completion condition refused: the JUEL expression"),
], ids=["standard data input", "no cardinality", "collection expression", "untranslatable condition"])
def test_a_multi_instance_tixi_cannot_run_is_refused_at_check(client: TestClient, login: Login, loop: str,
                                                             message: str) -> None:
    response = _deploy(client, login, "refused_mi", 'camunda:candidateGroups="rcc_director"', loop, dry_run=True)
    assert response.status_code == 422, response.text
    assert response.json()["element"] == "review"
    assert message in response.json()["detail"], response.json()["detail"]


def test_sending_back_from_a_multi_instance_task_is_refused_at_check(client: TestClient, login: Login) -> None:
    xml = ('<?xml version="1.0"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
           'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="t">'
           '<bpmn:process id="mi_back" isExecutable="true"><bpmn:startEvent id="s"/>'
           '<bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="prepare"/>'
           '<bpmn:userTask id="prepare" camunda:candidateGroups="rcc_director" camunda:formKey="rcc_site_review"/>'
           '<bpmn:sequenceFlow id="f2" sourceRef="prepare" targetRef="review"/>'
           '<bpmn:userTask id="review" camunda:candidateGroups="rcc_director" camunda:formKey="rcc_site_review">'
           '<bpmn:extensionElements><camunda:properties><camunda:property name="return_to" value="prepare"/>'
           '</camunda:properties></bpmn:extensionElements>'
           '<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>2</bpmn:loopCardinality>'
           '</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>'
           '<bpmn:sequenceFlow id="f3" sourceRef="review" targetRef="e"/><bpmn:endEvent id="e"/>'
           '</bpmn:process></bpmn:definitions>')
    response = client.post("/api/definitions?dry_run=true", headers=login("designer"),
                           files={"file": ("mi_back.bpmn", xml.encode(), "application/xml")})
    assert response.status_code == 422, response.text
    [error] = response.json()["errors"]
    assert error["element"] == "review"
    assert "sends back from or to a multi-instance user task" in error["problem"]
