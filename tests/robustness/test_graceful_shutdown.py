"""SIGTERM to `tixi serve` while a request is deep in a long advance (issue 13, finding 3).

The server runs as a real subprocess on a loopback port with a budget far too large to end the
advance (as good as none), and the request completes a review followed by an endless script and
gateway loop. Before the fix uvicorn waited for that request for ever. Now the server stops the
advance a grace period after SIGTERM, answers 503, rolls the transaction back and exits: the
instance is as it was before the request, and the invariant checker finds nothing half-done.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from engine.db import make_session_factory
from engine.invariants import check_invariants
from engine.tables import Instance, Task
from tests.conftest import TEST_PROCESSES
from tests.robustness.live_server import LiveServer, live_database
from tests.robustness.test_crash import _bearer

EXIT_BOUND = 60.0  # seconds; generous: the server exits about one grace period (1 s) after SIGTERM


@pytest.fixture(params=["sqlite", "postgresql"])
def shutdown_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with live_database(request.param, tmp_path) as engine:
        yield engine


# A budget nothing reaches, and a one-second grace after SIGTERM.
AS_GOOD_AS_NO_BUDGET = {"TIXI_ADVANCE_MAX_STEPS": "1000000000", "TIXI_ADVANCE_MAX_CPU_SECONDS": "100000",
                        "TIXI_ADVANCE_MAX_WALL_SECONDS": "100000", "TIXI_ADVANCE_MAX_DMN_CELLS": "1000000000",
                        "TIXI_SHUTDOWN_GRACE_SECONDS": "1"}


def _stuck_completion(base: str) -> tuple[str, threading.Thread, list[Any]]:
    """Start a loop case, claim its review and send the completion that never finishes advancing."""
    designer, outlet, director = _bearer("designer"), _bearer("outlet"), _bearer("rcc_director")
    with httpx.Client(base_url=base, timeout=30) as client:
        path = TEST_PROCESSES / "budget_loop.bpmn"
        deployed = client.post("/api/definitions", headers=designer,
                               files={"file": (path.name, path.read_bytes(), "application/octet-stream")})
        assert deployed.status_code == 201, deployed.text
        started = client.post("/api/instances", headers=outlet,
                              json={"definition_key": "budget_loop", "variables": {"count": 0}})
        assert started.status_code == 201, started.text
        task_id = started.json()["waiting_tasks"][0]["task_id"]
        assert client.post(f"/api/tasks/{task_id}/claim", headers=director).status_code == 200
    answers: list[Any] = []

    def complete() -> None:
        with httpx.Client(base_url=base, timeout=EXIT_BOUND) as client:
            try:
                answers.append(client.post(f"/api/tasks/{task_id}/complete", headers=director,
                                           json={"data": {"rcc_approved": True}}))
            except httpx.TransportError as error:
                answers.append(error)

    thread = threading.Thread(target=complete, daemon=True)
    thread.start()
    return task_id, thread, answers


def test_sigterm_stops_the_request_in_flight_and_the_server_exits(shutdown_db: Engine) -> None:
    server = LiveServer(shutdown_db, AS_GOOD_AS_NO_BUDGET)
    try:
        task_id, request, answers = _stuck_completion(server.base)
        request.join(2.0)
        assert request.is_alive(), f"the completion answered at once ({answers}): it was never stuck"
        began = time.monotonic()
        server.popen.send_signal(signal.SIGTERM)
        try:
            server.popen.wait(timeout=EXIT_BOUND)
        except subprocess.TimeoutExpired:
            pytest.fail(f"tixi serve still running {EXIT_BOUND:.0f} s after SIGTERM")
        print(f"tixi serve exited {time.monotonic() - began:.2f} s after SIGTERM", file=sys.stderr)
        request.join(EXIT_BOUND)
        [answer] = answers
        assert isinstance(answer, httpx.Response) and answer.status_code == 503, answer
        assert answer.json()["type"].endswith("shutting-down")
    finally:
        server.stop()
    _assert_untouched(make_session_factory(shutdown_db), task_id)


def _assert_untouched(factory: sessionmaker[Session], task_id: str) -> None:
    """The stopped advance was rolled back: the review is open again and nothing is half-advanced."""
    with factory() as session:
        task = session.scalars(select(Task).where(Task.task_id == uuid.UUID(task_id))).one()
        assert (task.status, task.assignee) == ("open", "rcc_director")
        instance = session.get(Instance, task.instance_id)
        assert instance is not None and instance.status == "running"
        report = check_invariants(session)
        assert report.violations == [], report.violations
