"""One C-level builtin call must not freeze the server (issue 13, finding 5).

A script task runs a single builtin call that holds the GIL for minutes: a set of ints whose
hashes all collide, or a comparison of nested lists that doubles at every level. Inside the
server process no check can interrupt it, and every other request waited (21 s for the set at
60,000 items, hours for the lists). The script now runs in a sandbox process that is killed. The
server runs as a real subprocess here so that a freeze of its GIL cannot freeze the test: while
the script runs, health checks and a queue read from other connections keep being answered, and
the script ends as an incident of its task.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from tests.conftest import TEST_PROCESSES
from tests.robustness.live_server import LiveServer, live_database
from tests.robustness.test_crash import _bearer

ANSWER_BOUND = 60.0  # seconds a request may take before the server counts as frozen (generous)


@pytest.fixture(params=["sqlite", "postgresql"])
def freeze_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with live_database(request.param, tmp_path) as engine:
        yield engine


def _start_review(client: httpx.Client, attack: str) -> tuple[str, str]:
    path = TEST_PROCESSES / "sandbox_freeze.bpmn"
    deployed = client.post("/api/definitions", headers=_bearer("designer"),
                           files={"file": (path.name, path.read_bytes(), "application/octet-stream")})
    assert deployed.status_code == 201, deployed.text
    started = client.post("/api/instances", headers=_bearer("outlet"),
                          json={"definition_key": "sandbox_freeze", "variables": {"attack": attack}})
    assert started.status_code == 201, started.text
    task_id = started.json()["waiting_tasks"][0]["task_id"]
    assert client.post(f"/api/tasks/{task_id}/claim", headers=_bearer("rcc_director")).status_code == 200
    return str(started.json()["instance_id"]), task_id


@pytest.mark.parametrize("attack", ["colliding_hashes", "nested_lists"])
def test_other_requests_are_served_while_a_builtin_call_runs(freeze_db: Engine, attack: str) -> None:
    server = LiveServer(freeze_db, {})
    try:
        with httpx.Client(base_url=server.base, timeout=ANSWER_BOUND) as client:
            instance_id, task_id = _start_review(client, attack)
            answers: list[Any] = []

            def complete() -> None:
                with httpx.Client(base_url=server.base, timeout=ANSWER_BOUND) as other:
                    answers.append(other.post(f"/api/tasks/{task_id}/complete", headers=_bearer("rcc_director"),
                                              json={"data": {"rcc_approved": True}}))

            completing = threading.Thread(target=complete, daemon=True)
            completing.start()
            served = 0
            while completing.is_alive():  # until the script has been stopped and the completion answered
                health = client.get("/api/health")
                assert health.status_code == 200, health.text
                queue = client.get("/api/tasks", headers=_bearer("outlet"))
                assert queue.status_code == 200, queue.text
                served += 1
                completing.join(0.05)
            assert served >= 1
            [done] = answers
            assert done.status_code == 200, done.text  # the approver's work is kept
            admin = _bearer("admin")
            instance = client.get(f"/api/instances/{instance_id}", headers=admin).json()
            assert instance["status"] == "failed", instance
            history = client.get(f"/api/instances/{instance_id}/history", headers=admin).json()
            [incident] = [e["data"] for e in history if e["event_type"] == "incident"]
            assert incident["element"] == "freeze"
            assert "SandboxLimitError" in incident["error"] and "wall time" in incident["error"], incident
    finally:
        server.stop()
