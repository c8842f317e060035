"""`Idempotency-Key` on starts and completions: a retry gets the first answer (no second complaint),
the same key with another body is refused, a failed request keeps nothing, keys are per person and
expire."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from engine.clock import FrozenClock
from tests.api.conftest import Desk, events_of
from tests.api.test_case_moves import INSPECTED
from tests.api.test_return_exchange import REQUEST


def _start(desk: Desk, client: TestClient, key: str | None, user: str = "outlet", invoice: str | None = None,
           **changes: Any) -> Any:
    """Start a return request; a retry must name the invoice its first try uploaded (the same body)."""
    headers = {**desk.login(user), **({"Idempotency-Key": key} if key else {})}
    return client.post("/api/instances", headers=headers,
                       json={"definition_key": "return_exchange", "business_key": "TH-IDEM",
                             "variables": {**REQUEST, "invoice": [invoice or desk.stage(user)], **changes}})


def _cases(desk: Desk, client: TestClient) -> int:
    return int(client.get("/api/instances", headers=desk.login("admin"),
                          params={"business_key": "TH-IDEM"}).json()["total"])


def test_a_retried_start_returns_the_first_answer_and_starts_nothing_more(desk: Desk, client: TestClient) -> None:
    invoice = desk.stage("outlet")
    first = _start(desk, client, "hotline-call-0001", invoice=invoice)
    assert first.status_code == 201, first.text
    again = _start(desk, client, "hotline-call-0001", invoice=invoice)
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["Idempotent-Replayed"] == "true"
    assert _cases(desk, client) == 1
    other_body = _start(desk, client, "hotline-call-0001", invoice=invoice, customer_name="王五")
    assert other_body.status_code == 422, other_body.text
    assert other_body.json()["field"] == "Idempotency-Key"
    assert _cases(desk, client) == 1
    # Keys are per person: another starter's same key is their own request.
    assert _start(desk, client, "hotline-call-0001", user="rcc_agent").status_code == 201
    assert _cases(desk, client) == 2


def test_a_failed_request_keeps_nothing_and_keys_expire(desk: Desk, client: TestClient, clock: FrozenClock) -> None:
    invoice = desk.stage("outlet")
    refused = _start(desk, client, "hotline-call-0002", invoice=invoice, customer_phone=12)  # the start form refuses
    assert refused.status_code == 422, refused.text
    # The corrected request, same key, then its retry.
    assert _start(desk, client, "hotline-call-0002", invoice=invoice).status_code == 201
    assert _start(desk, client, "hotline-call-0002", invoice=invoice).status_code == 201
    assert _cases(desk, client) == 1
    clock.advance(timedelta(hours=25))  # the kept answer has expired: the same key starts a case again
    assert _start(desk, client, "hotline-call-0002").status_code == 201
    assert _cases(desk, client) == 2


def test_a_retried_completion_returns_the_first_answer(desk: Desk, client: TestClient) -> None:
    instance_id = str(_start(desk, client, None).json()["instance_id"])
    task = desk.task_of("outlet", instance_id, "inspect_product")
    headers = {**desk.login("outlet"), "Idempotency-Key": "phone-tap-7"}
    assert client.post(f"/api/tasks/{task['task_id']}/claim", headers=desk.login("outlet")).status_code == 200
    first = client.post(f"/api/tasks/{task['task_id']}/complete", headers=headers, json={"data": INSPECTED})
    assert first.status_code == 200, first.text
    again = client.post(f"/api/tasks/{task['task_id']}/complete", headers=headers, json={"data": INSPECTED})
    assert (again.status_code, again.json()) == (200, first.json())  # not "409 task is completed"
    without = client.post(f"/api/tasks/{task['task_id']}/complete", headers=desk.login("outlet"),
                          json={"data": INSPECTED})
    assert without.status_code == 409  # without the key a second completion is what it is
    assert len(events_of(desk.history(instance_id), "task_completed")) == 1
    too_long = client.post(f"/api/tasks/{task['task_id']}/complete", json={"data": INSPECTED},
                           headers={**desk.login("outlet"), "Idempotency-Key": "k" * 201})
    assert too_long.status_code == 422
