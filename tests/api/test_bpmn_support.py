"""The BPMN elements of docs/bpmn-support.md, each driven through the API on both databases.

Files from other tools hold service, send and receive tasks, plain and manual tasks and DMN files
with several decisions: each deploys (never a 500) and runs as the matrix says.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import ROOT, TEST_PROCESSES

Login = Callable[[str], dict[str, str]]


def _upload(client: TestClient, login: Login, *paths: Path) -> Any:
    if len(paths) == 1:  # one file as it is, several as a bundle
        files = {"file": (paths[0].name, paths[0].read_bytes(), "application/xml")}
        return client.post("/api/definitions", headers=login("designer"), files=files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for path in paths:
            bundle.write(path, path.name)
    return client.post("/api/definitions", headers=login("designer"),
                       files={"file": ("bundle.zip", buffer.getvalue(), "application/zip")})


def _check(client: TestClient, login: Login, name: str, content: str) -> Any:
    return client.post("/api/definitions", headers=login("designer"),
                       files={"file": (name, content.encode(), "application/xml")})


def _start(client: TestClient, login: Login, key: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/instances", headers=login("admin"),
                           json={"definition_key": key, "variables": variables})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _history(client: TestClient, login: Login, instance_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/instances/{instance_id}/history", headers=login("admin"))
    assert response.status_code == 200, response.text
    return list(response.json())


def test_a_service_task_passes_check_and_deploys(client: TestClient, login: Login) -> None:
    path = TEST_PROCESSES / "external_review.bpmn"
    checked = client.post("/api/definitions?dry_run=true", headers=login("designer"),
                          files={"file": (path.name, path.read_bytes(), "application/xml")})
    assert checked.status_code == 201 and checked.json()["dry_run"] is True, checked.text
    response = _upload(client, login, path)
    assert response.status_code == 201, response.text
    assert [d["key"] for d in response.json()["definitions"]] == ["external_review"]


def test_receive_plain_and_manual_tasks_run(client: TestClient, login: Login) -> None:
    response = _upload(client, login, TEST_PROCESSES / "parts_order_messages.bpmn")
    assert response.status_code == 201, response.text
    started = _start(client, login, "parts_order_messages", {"order_no": "PO-7"})
    assert started["status"] == "running"
    delivered = client.post("/api/messages", headers=login("admin"),
                            json={"name": "parts_delivered", "variables": {"parts_ok": True}})
    assert delivered.status_code == 200, delivered.text
    assert (delivered.json()["outcome"], delivered.json()["element_id"]) == ("resumed", "await_parts")
    done = client.get(f"/api/instances/{started['instance_id']}", headers=login("admin")).json()
    assert done["status"] == "completed"
    assert done["variables"]["parts_ok"] is True and done["variables"]["order_no"] == "PO-7"
    steps = [(e["data"]["element"], e["data"]["type"]) for e in _history(client, login, started["instance_id"])
             if e["event_type"] == "element_completed"]
    assert steps == [("start", "StartEvent"), ("await_parts", "ReceiveTask"),
                     ("note_arrival", "Task"), ("fit_parts", "ManualTask"), ("done", "EndEvent")]


def test_a_dmn_file_with_two_decisions_serves_each_by_its_id(client: TestClient, login: Login) -> None:
    response = _upload(client, login, TEST_PROCESSES / "repair_rules.dmn", TEST_PROCESSES / "repair_routing.bpmn")
    assert response.status_code == 201, response.text
    assert sorted(d["key"] for d in response.json()["definitions"]) == ["repair_route", "repair_routing",
                                                                         "warranty_cover"]
    started = _start(client, login, "repair_routing", {"fault": "compressor", "months": 30})
    assert started["status"] == "completed"
    decided = {e["data"]["element"]: (e["data"]["decision"], e["data"]["outputs"])
               for e in _history(client, login, started["instance_id"]) if e["event_type"] == "decision_evaluated"}
    assert decided == {"decide_route": ("repair_route", {"route": "factory"}),
                       "decide_cover": ("warranty_cover", {"cover": "none"})}


def test_a_dmn_file_with_two_decisions_deploys_alone_then_serves_a_later_process(client: TestClient,
                                                                                  login: Login) -> None:
    assert _upload(client, login, TEST_PROCESSES / "repair_rules.dmn").status_code == 201
    assert _upload(client, login, TEST_PROCESSES / "repair_routing.bpmn").status_code == 201
    started = _start(client, login, "repair_routing", {"fault": "display", "months": 3})
    variables = client.get(f"/api/instances/{started['instance_id']}", headers=login("admin")).json()["variables"]
    assert (variables["route"], variables["cover"]) == ("outlet", "full")


def test_a_required_decision_is_refused_naming_both(client: TestClient, login: Login) -> None:
    source = (TEST_PROCESSES / "repair_rules.dmn").read_text(encoding="utf-8").replace(
        '<decision id="repair_route" name="维修路线 / Repair route">',
        '<decision id="repair_route" name="维修路线 / Repair route"><informationRequirement id="req">'
        '<requiredDecision href="#warranty_cover"/></informationRequirement>')
    response = _check(client, login, "repair_rules.dmn", source)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["element"] == "repair_route"
    assert "requires decision 'warranty_cover'" in body["detail"] and "own business-rule task" in body["detail"]
    assert client.get("/api/definitions", headers=login("admin")).json() == []


def test_throw_inclusive_gateways_subprocess_error_and_terminate_run(client: TestClient, login: Login) -> None:
    assert _upload(client, login, TEST_PROCESSES / "flow_elements.bpmn").status_code == 201
    started = _start(client, login, "flow_elements", {"needs_parts": True, "needs_visit": True, "needs_note": False})
    assert started["status"] == "completed"
    done = [e["data"]["element"] for e in _history(client, login, started["instance_id"])
            if e["event_type"] in ("element_completed", "gateway_decision")]
    assert {"milestone", "split", "order_parts", "book_visit", "join", "inspect_fails", "failed", "stop"} <= set(done)
    assert "note" not in done and "never" not in done
    ended = [e for e in _history(client, login, started["instance_id"]) if e["event_type"] == "ended"]
    assert ended[0]["data"]["end_event"] == "stop"


_PROCESS = ('<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
            'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" id="d" targetNamespace="http://tixi.example/t">'
            '<bpmn:process id="refused" isExecutable="true">{body}</bpmn:process>{extra}</bpmn:definitions>')
_MESSAGE = '<bpmn:message id="m" name="m"/>'
# Each element the library would accept but Tixi cannot run as the standard says, with what the designer reads.
REFUSED = {
    "event-based gateway to a task": ('<bpmn:startEvent id="s"/><bpmn:eventBasedGateway id="g" name="Wait"/>'
                                      '<bpmn:sequenceFlow id="f" sourceRef="g" targetRef="t"/><bpmn:task id="t"/>', "",
                                      "g", "event-based gateway 'g' (Wait) leads to task 't': Tixi races only message "
                                      "and timer intermediate catch events"),
    "event-based gateway with two timers": (
        '<bpmn:startEvent id="s"/><bpmn:eventBasedGateway id="g"/>' + "".join(
            f'<bpmn:sequenceFlow id="f{n}" sourceRef="g" targetRef="t{n}"/><bpmn:intermediateCatchEvent id="t{n}">'
            '<bpmn:timerEventDefinition><bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition>'
            '</bpmn:intermediateCatchEvent>' for n in (1, 2)), "", "g", "races 2 timers, and Tixi races one"),
    "link event": ('<bpmn:startEvent id="s"/><bpmn:intermediateThrowEvent id="l"><bpmn:linkEventDefinition '
                   'name="A"/></bpmn:intermediateThrowEvent>', "", "l", "connect the two places with a sequence flow"),
    "signal start without a signal": ('<bpmn:startEvent id="s"><bpmn:signalEventDefinition/></bpmn:startEvent>', "",
                                      "s", "is a signal event without signalRef: name the signal"),
    "conditional start": ('<bpmn:startEvent id="c"><bpmn:conditionalEventDefinition>'
                          '<bpmn:condition>x</bpmn:condition></bpmn:conditionalEventDefinition>'
                          '</bpmn:startEvent>', "", "c", "is a conditional event start event, which Tixi does not run: "
                          "use a conditional intermediate catch event or boundary event"),
    "compensation boundary": ('<bpmn:startEvent id="s"/><bpmn:task id="t"/><bpmn:boundaryEvent id="b" attachedToRef="t">'
                              '<bpmn:compensateEventDefinition/></bpmn:boundaryEvent>', "", "b",
                              "draw the undoing steps as ordinary tasks"),
    "ad-hoc subprocess": ('<bpmn:startEvent id="s"/><bpmn:adHocSubProcess id="a"/>', "", "a",
                          "ad-hoc sub process 'a' is not run by Tixi"),
    "event subprocess": ('<bpmn:startEvent id="s"/><bpmn:subProcess id="e" triggeredByEvent="true">'
                         '<bpmn:startEvent id="es"/></bpmn:subProcess>', "", "e", "is an event subprocess"),
    "message start inside a subprocess": ('<bpmn:startEvent id="s"/><bpmn:subProcess id="sp"><bpmn:startEvent id="ms">'
                                          '<bpmn:messageEventDefinition messageRef="m"/></bpmn:startEvent>'
                                          '</bpmn:subProcess>', _MESSAGE, "ms", "is a message event start inside a subprocess, which never triggers"),
    "multiple start": ('<bpmn:startEvent id="s"><bpmn:messageEventDefinition messageRef="m"/><bpmn:timerEventDefinition>'
                       '<bpmn:timeDuration>PT1H</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:startEvent>',
                       _MESSAGE, "s", "has 2 event definitions (a multiple event)"),
    "message end without a message": ('<bpmn:startEvent id="s"/><bpmn:endEvent id="e"><bpmn:messageEventDefinition/>'
                                      '</bpmn:endEvent>', "", "e", "throws a message without messageRef: name the message"),
    "receive task without a message": ('<bpmn:startEvent id="s"/><bpmn:receiveTask id="r"/>', "", "r",
                                       "waits for a message without messageRef: name the message"),
    "message catch without a message": ('<bpmn:startEvent id="s"/><bpmn:intermediateCatchEvent id="c">'
                                        '<bpmn:messageEventDefinition/></bpmn:intermediateCatchEvent>', "", "c",
                                        "waits for a message without messageRef"),
    "business rule without a decision": ('<bpmn:startEvent id="s"/><bpmn:businessRuleTask id="br"/>', "", "br",
                                         "is a business-rule task without camunda:decisionRef"),
    "Java delegate": ('<bpmn:startEvent id="s"/><bpmn:serviceTask id="j" camunda:class="com.acme.Mail"/>', "", "j",
                      "is implemented by camunda:class, Java code Tixi cannot run: set camunda:type=\"external\""),
    "connector": ('<bpmn:startEvent id="s"/><bpmn:serviceTask id="c"><bpmn:extensionElements><camunda:connector>'
                  '<camunda:connectorId>soap-http-connector</camunda:connectorId></camunda:connector>'
                  '</bpmn:extensionElements></bpmn:serviceTask>', "", "c",
                  "uses camunda:connector 'soap-http-connector', and Tixi runs only 'http-connector'"),
    "external without topic": ('<bpmn:startEvent id="s"/><bpmn:serviceTask id="x" camunda:type="external"/>', "", "x",
                               "is an external task without camunda:topic"),
    "send task without message or worker": ('<bpmn:startEvent id="s"/><bpmn:sendTask id="st"/>', "", "st",
                                            "is a send task without a message, a notification or a worker"),
    "multi-instance": ('<bpmn:startEvent id="s"/><bpmn:task id="mi"><bpmn:multiInstanceLoopCharacteristics '
                       'camunda:collection="items"/></bpmn:task>', "", "mi",
                       "task 'mi' repeats (multi instance loop characteristics)"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_an_element_tixi_cannot_run_is_refused_at_check_naming_it(client: TestClient, login: Login, case: str) -> None:
    body, extra, element, message = REFUSED[case]
    source = _PROCESS.format(body=body, extra=extra)
    for dry_run in ("true", "false"):
        response = client.post(f"/api/definitions?dry_run={dry_run}", headers=login("designer"),
                               files={"file": ("refused.bpmn", source.encode(), "application/xml")})
        assert response.status_code == 422, response.text
        assert response.json()["element"] == element
        assert message in response.json()["detail"], response.json()["detail"]
    assert client.get("/api/definitions", headers=login("admin")).json() == []


@pytest.mark.parametrize("path", sorted([*(ROOT / "processes").glob("*.*mn"), *TEST_PROCESSES.glob("*.*mn")]),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_no_file_of_the_repository_makes_check_answer_a_server_error(client: TestClient, login: Login,
                                                                     path: Path) -> None:
    response = client.post("/api/definitions?dry_run=true", headers=login("designer"),
                           files={"file": (path.name, path.read_bytes(), "application/xml")})
    # Alone, a process may miss the decision or process it calls: refused with a reason, never a 500.
    assert response.status_code in (201, 422), response.text
    if response.status_code == 422:
        assert response.json()["detail"].startswith(path.name)
