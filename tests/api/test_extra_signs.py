"""加签 through HTTP: the RCC director asks the CSD head to sign a return's approval before or after
them; the task waits as the rule says, the signer's 同意/拒绝 and opinion go into the history and the
approval record, and every refusal is clear and changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from engine.extra_signs import signers_for
from tests.api.conftest import Desk, events_of
from tests.api.test_case_moves import REASON, _at_director, _problem, _record

ASK = "金额较大，请部长会签 / a large amount: please co-sign"


def _ask(desk: Desk, client: TestClient, task_id: str, position: str, signer: str = "csd_head") -> dict[str, Any]:
    director = desk.login("rcc_director")
    assert client.post(f"/api/tasks/{task_id}/claim", headers=director).status_code == 200
    asked = client.post(f"/api/tasks/{task_id}/extra-signs", headers=director,
                        json={"signer": signer, "position": position, "reason": ASK})
    assert asked.status_code == 201, asked.text
    return dict(asked.json())


def _sign(desk: Desk, client: TestClient, sign: dict[str, Any], outcome: str, opinion: str | None = None) -> Any:
    return client.post(f"/api/tasks/{sign['task_id']}/extra-signs/{sign['sign_id']}/decide",
                       headers=desk.login(sign["signer"]), json={"outcome": outcome, "opinion": opinion})


def _decide(desk: Desk, client: TestClient, task_id: str) -> Any:
    return client.post(f"/api/tasks/{task_id}/decide", headers=desk.login("rcc_director"), json={"outcome": "approve"})


def test_a_signer_before_blocks_the_task_until_they_decide(desk: Desk, client: TestClient,
                                                           factory: sessionmaker[Session]) -> None:
    instance_id, approval = _at_director(desk)
    sign = _ask(desk, client, approval["task_id"], "before")
    assert (sign["status"], sign["position"], sign["requested_by"]) == ("open", "before", "rcc_director")
    waiting = _problem(_decide(desk, client, approval["task_id"]), 409)
    assert "csd_head" in waiting["detail"]
    mine = client.get("/api/my/extra-signs", headers=desk.login("csd_head")).json()
    assert [(s["sign_id"], s["step"], s["reason"]) for s in mine] == [
        (sign["sign_id"], "RCC 主任批准退换货 / RCC director approves", ASK)]
    assert _problem(_sign(desk, client, sign, "reject"), 422)["field"] == "opinion"  # 拒绝 needs an opinion
    rejected = _sign(desk, client, sign, "reject", "发票存疑 / the invoice is doubtful")
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected"
    assert client.get("/api/my/extra-signs", headers=desk.login("csd_head")).json() == []
    _problem(_sign(desk, client, sign, "approve"), 409)  # decided once
    # The rejection is recorded; the holder decides, as before.
    assert _decide(desk, client, approval["task_id"]).status_code == 200
    assert desk.waiting(instance_id) == ["carry_out_return"]
    entries = [(e.kind, e.actor, e.outcome, e.to, e.text) for e in _record(factory, instance_id)
               if e.kind.startswith("sign_")]
    assert entries == [("sign_added", "rcc_director", "前加签 / Sign before", "csd_head", ASK),
                       ("sign_decided", "csd_head", "拒绝 / Reject", None, "发票存疑 / the invoice is doubtful")]


def test_a_signer_after_holds_the_decision_until_they_approve(desk: Desk, client: TestClient) -> None:
    instance_id, approval = _at_director(desk)
    sign = _ask(desk, client, approval["task_id"], "after")
    held = _decide(desk, client, approval["task_id"])
    assert held.status_code == 200, held.text
    assert held.json()["status"] == "open"  # decided, but held for the signer
    assert desk.waiting(instance_id) == ["rcc_director_approval"]
    assert client.get("/api/my/extra-signs", headers=desk.login("csd_head")).json()[0]["held"] is True
    _problem(_decide(desk, client, approval["task_id"]), 409)  # held once is enough
    approved = _sign(desk, client, sign, "approve", "同意 / agreed")
    assert approved.status_code == 200, approved.text
    assert desk.waiting(instance_id) == ["carry_out_return"]
    history = desk.history(instance_id)
    completed = [(e["actor"], e["data"]["element"]) for e in events_of(history, "task_completed")]
    assert completed[-1] == ("rcc_director", "rcc_director_approval")  # the holder's decision, as theirs
    assert [e["data"]["signer"] for e in events_of(history, "extra_sign_held")] == ["csd_head"]


def test_a_rejection_after_drops_the_held_decision(desk: Desk, client: TestClient) -> None:
    instance_id, approval = _at_director(desk)
    sign = _ask(desk, client, approval["task_id"], "after")
    assert _decide(desk, client, approval["task_id"]).status_code == 200
    assert _sign(desk, client, sign, "reject", "先补发票 / the invoice first").status_code == 200
    assert desk.waiting(instance_id) == ["rcc_director_approval"]  # the holder's to decide again
    assert _decide(desk, client, approval["task_id"]).status_code == 200
    assert desk.waiting(instance_id) == ["carry_out_return"]


def test_adding_a_signer_refusals(desk: Desk, client: TestClient) -> None:
    instance_id, approval = _at_director(desk)
    url, director = f"/api/tasks/{approval['task_id']}/extra-signs", desk.login("rcc_director")
    body = {"signer": "csd_head", "position": "before", "reason": ASK}
    assert "claim" in _problem(client.post(url, headers=director, json=body), 403)["detail"]  # not held yet
    assert client.post(f"/api/tasks/{approval['task_id']}/claim", headers=director).status_code == 200
    before = desk.history(instance_id)
    assert _problem(client.post(url, headers=director, json={**body, "position": "sideways"}), 422)["field"] == "position"
    assert _problem(client.post(url, headers=director, json={**body, "signer": "rcc_director"}), 422)["field"] == "signer"
    assert _problem(client.post(url, headers=director, json={**body, "signer": "nobody"}), 422)["field"] == "signer"
    assert _problem(client.post(url, headers=director, json={**body, "reason": " "}), 422)["field"] == "reason"
    _problem(client.post(url, headers=desk.login("admin"), json=body), 403)
    assert desk.history(instance_id) == before
    sign = client.post(url, headers=director, json=body).json()
    _problem(client.post(url, headers=director, json={**body, "signer": "quality"}), 409)  # one open sign at a time
    # Only the signer decides it; once the task is gone (sent back), nobody does.
    _problem(client.post(f"/api/tasks/{approval['task_id']}/extra-signs/{sign['sign_id']}/decide",
                         headers=director, json={"outcome": "approve"}), 404)
    sent = client.post(f"/api/tasks/{approval['task_id']}/send-back", headers=director,
                       json={"to": "inspect_product", "reason": REASON})
    assert sent.status_code == 200, sent.text
    assert client.get("/api/my/extra-signs", headers=desk.login("csd_head")).json() == []
    _problem(_sign(desk, client, sign, "approve"), 409)


def test_the_signer_finds_the_task_in_their_queue_while_the_sign_is_open(desk: Desk, client: TestClient) -> None:
    instance_id, approval = _at_director(desk)
    task_url, head = f"/api/tasks/{approval['task_id']}", desk.login("csd_head")
    assert client.get(task_url, headers=head).status_code == 404  # not in their queue: not theirs to open
    counted = client.get("/api/my/counts", headers=head).json()["open"]
    sign = _ask(desk, client, approval["task_id"], "before")
    queue = client.get("/api/tasks", headers=head).json()["items"]
    assert [t["task_id"] for t in queue if t["instance_id"] == instance_id] == [approval["task_id"]]
    assert client.get("/api/my/counts", headers=head).json()["open"] == counted + 1  # the navigation's number too
    detail = client.get(task_url, headers=head)
    assert detail.status_code == 200, detail.text
    assert detail.json()["assignee"] == "rcc_director"  # signing is their only power: they do not hold it
    assert not {"claim", "complete", "hand_on"} & set(detail.json()["allowed_actions"])
    _problem(client.post(f"{task_url}/claim", headers=head), 403)
    assert _sign(desk, client, sign, "approve", "同意 / agreed").status_code == 200
    queue = client.get("/api/tasks", headers=head).json()["items"]
    assert [t for t in queue if t["instance_id"] == instance_id] == []  # answered: gone from the queue
    assert client.get(f"/api/instances/{instance_id}", headers=head).status_code == 200  # the case stays readable


def test_sign_refusals_say_their_kind_for_the_pages(desk: Desk, client: TestClient) -> None:
    """The pages word a refusal by its problem type: waiting for a signer, or a signer who may not sign."""
    created = client.post("/api/users", headers=desk.login("admin"),
                          json={"username": "hd.wang", "password": "long-enough-pw", "groups": ["outlet"],
                                "outlet_code": "HD-001"})
    assert created.status_code == 201, created.text
    instance_id, approval = _at_director(desk)
    url, director = f"/api/tasks/{approval['task_id']}/extra-signs", desk.login("rcc_director")
    assert client.post(f"/api/tasks/{approval['task_id']}/claim", headers=director).status_code == 200
    elsewhere = _problem(client.post(url, headers=director, json={"signer": "hd.wang", "position": "before",
                                                                  "reason": ASK}), 422)
    assert (elsewhere["type"], elsewhere["field"]) == ("urn:tixi:problem:signer-refused", "signer")
    _ask(desk, client, approval["task_id"], "before")
    for refused in (_decide(desk, client, approval["task_id"]),
                    client.post(url, headers=director, json={"signer": "quality", "position": "after", "reason": ASK})):
        problem = _problem(refused, 409)
        assert (problem["type"], problem["signer"]) == ("urn:tixi:problem:awaiting-sign", "csd_head")
    assert desk.waiting(instance_id) == ["rcc_director_approval"]


def test_the_pages_offer_as_signers_only_colleagues_who_may_see_the_case(desk: Desk, client: TestClient,
                                                                         factory: sessionmaker[Session]) -> None:
    for username, outlet in (("hd.wang", "HD-001"), ("case.outlet", "HB-002")):
        body = {"username": username, "password": "long-enough-pw", "groups": ["outlet"], "outlet_code": outlet}
        assert client.post("/api/users", headers=desk.login("admin"), json=body).status_code == 201
    _, approval = _at_director(desk)
    with factory() as session:
        offered = signers_for(session, task_id=uuid.UUID(approval["task_id"]), exclude="rcc_director")
    assert "csd_head" in offered and "case.outlet" in offered  # the CSD; the case's own outlet (HB-002)
    assert "hd.wang" not in offered and "rcc_director" not in offered  # another outlet's staff; oneself
    director = desk.login("rcc_director")
    assert client.post(f"/api/tasks/{approval['task_id']}/claim", headers=director).status_code == 200
    for name in ("hd.wang", "rcc_director"):  # what the page leaves out, the engine refuses
        _problem(client.post(f"/api/tasks/{approval['task_id']}/extra-signs", headers=director,
                             json={"signer": name, "position": "before", "reason": ASK}), 422)


def test_the_signers_queue_row_says_a_sign_is_asked_of_them_and_filters_on_it(desk: Desk, client: TestClient) -> None:
    _, approval = _at_director(desk)
    _, other = _at_director(desk)  # in the director's queue, but no sign asked of anyone

    def flags(user: str, **params: Any) -> dict[str, bool]:
        mine = {approval["task_id"], other["task_id"]}
        return {t["task_id"]: t["sign_requested"] for t in desk.queue(user, **params) if t["task_id"] in mine}

    assert flags("rcc_director") == {approval["task_id"]: False, other["task_id"]: False}
    sign = _ask(desk, client, approval["task_id"], "before")
    assert flags("csd_head") == {approval["task_id"]: True}  # there because the sign is asked of them
    assert flags("csd_head", sign_requested="true") == {approval["task_id"]: True}
    assert flags("csd_head", sign_requested="false") == {}
    # The holder's row carries no mark: the sign is not asked of them.
    assert flags("rcc_director") == {approval["task_id"]: False, other["task_id"]: False}
    assert flags("rcc_director", sign_requested="true") == {}
    assert flags("rcc_director", sign_requested="false") == {approval["task_id"]: False, other["task_id"]: False}
    bad = client.get("/api/tasks?sign_requested=maybe", headers=desk.login("csd_head"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "sign_requested"
    assert _sign(desk, client, sign, "approve", "同意 / agreed").status_code == 200
    assert flags("csd_head") == {}  # signed: out of their queue, and the filter finds nothing
    assert flags("csd_head", sign_requested="true") == {}
