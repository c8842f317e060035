"""SIGKILL `tixi serve` and `tixi worker` mid-run on PostgreSQL: nothing acknowledged is lost, nothing half-done.

Real subprocesses on a throw-away database, real HTTP on 127.0.0.1. Each round starts the
server, drives starts, claims and completions from several threads, and kills the server with
SIGKILL while requests are in flight. Afterwards every request that got a 2xx has its effect in
the database, and the invariant checker finds no half-advanced instance. Timers that fell due
while nothing ran fire once a worker starts; a worker killed mid-tick leaves its claims to the
next one (its transaction dies with its connection, so PostgreSQL rolls it back and releases the
SKIP LOCKED row locks: no lease table is needed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from api.auth import issue_token
from engine import definitions, instances, tasks
from engine.catalog import DEFAULT_FORMS_DIR, FormCatalog
from engine.clock import FrozenClock, SystemClock
from engine.db import scratch_postgres_database, transaction
from engine.identity import Actor, sync_demo_users
from engine.invariants import check_invariants
from engine.migrations import upgrade_to_head
from engine.tables import AuditEvent, Instance, Task, Timer
from tests.conftest import DESIGNER, ROOT, TEST_PROCESSES, free_port, sessions

SECRET = "crash-test-secret-key-of-a-sensible-length"
KILLS, DRIVERS, ACKS_PER_ROUND, DUE_TIMERS = 3, 4, 12, 20
READY_TIMEOUT = 90.0


@pytest.fixture
def crash_db() -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    with scratch_postgres_database("tixi_crash") as engine:
        upgrade_to_head(engine)
        yield engine, sessions(engine)


class Process:
    """A `tixi` subprocess whose output is drained by a thread (a full pipe would stall it)."""

    def __init__(self, args: list[str], url: str) -> None:
        env = {**os.environ, "TIXI_DATABASE_URL": url, "TIXI_SECRET_KEY": SECRET, "TIXI_DEMO_USERS": "true",
               "TIXI_SCHEDULER": "false", "PYTHONUNBUFFERED": "1"}
        self.popen = subprocess.Popen([sys.executable, "-m", "api.cli", *args], cwd=ROOT, env=env,
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines: list[str] = []
        self.changed = threading.Condition()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.popen.stdout is not None
        for raw in self.popen.stdout:
            with self.changed:
                self.lines.append(raw.decode("utf-8", "replace"))
                self.changed.notify_all()
        with self.changed:
            self.changed.notify_all()

    def wait_for(self, text: str, timeout: float = READY_TIMEOUT) -> None:
        with self.changed:
            found = self.changed.wait_for(lambda: any(text in line for line in self.lines)
                                          or self.popen.poll() is not None, timeout)
        assert found and self.popen.poll() is None, f"no '{text}':\n{''.join(self.lines[-30:])}"

    def kill(self) -> None:
        self.popen.send_signal(signal.SIGKILL)
        assert self.popen.wait(timeout=30) == -signal.SIGKILL



def _bearer(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(user, generation=0, secret=SECRET, now=SystemClock().now(), minutes=60)}"}


class Acks:
    def __init__(self) -> None:
        self.lock, self.enough = threading.Lock(), threading.Event()
        self.started: list[str] = []
        self.completed: list[str] = []
        self.target = 0

    def add(self, kind: list[str], value: str) -> None:
        with self.lock:
            kind.append(value)
            if len(self.started) + len(self.completed) >= self.target:
                self.enough.set()


def _drive(base: str, acks: Acks, number: int) -> None:
    """Start cases and work the review queue until the server dies under us."""
    outlet, director = _bearer("outlet"), _bearer("rcc_director")
    with httpx.Client(base_url=base, timeout=30) as client:
        try:
            while True:
                started = client.post("/api/instances", headers=outlet,
                                      json={"definition_key": "two_step_review", "variables": {"days": 3}})
                assert started.status_code == 201, started.text
                acks.add(acks.started, started.json()["instance_id"])
                queue = client.get("/api/tasks", headers=director, params={"limit": 5, "unassigned": True})
                assert queue.status_code == 200, queue.text
                for task in queue.json()["items"][number % 2:][:1]:
                    task_url = f"/api/tasks/{task['task_id']}"
                    if client.post(f"{task_url}/claim", headers=director).status_code != 200:
                        continue  # another driver of the same user got there first
                    done = client.post(f"{task_url}/complete", headers=director, json={"data": {"rcc_approved": True}})
                    assert done.status_code in (200, 409), done.text
                    if done.status_code == 200:
                        acks.add(acks.completed, task["task_id"])
        except httpx.TransportError:
            return  # killed mid-request: that request's outcome is unknown, and not counted


@contextmanager
def _serving(url: str) -> Iterator[str]:
    port = free_port()
    server = Process(["serve", "--host", "127.0.0.1", "--port", str(port), "--no-scheduler"], url)
    try:
        server.wait_for("Application startup complete")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.kill()


def _seed_due_timers(factory: sessionmaker[Session]) -> list[uuid.UUID]:
    """Cases whose one-day timer fell due yesterday, while no worker ran."""
    clock, catalog = FrozenClock(SystemClock().now() - timedelta(days=3)), FormCatalog(DEFAULT_FORMS_DIR)
    with transaction(factory) as session:
        sync_demo_users(session, clock, enabled=True)
        path = TEST_PROCESSES / "two_step_review.bpmn"
        definitions.deploy(session, clock, catalog, actor=DESIGNER, filename=path.name, content=path.read_bytes())
    ids = []
    director = Actor("rcc_director", frozenset({"rcc_director"}))
    for _ in range(DUE_TIMERS):
        with transaction(factory) as session:
            started = instances.start_instance(session, clock, catalog, actor=Actor("outlet", frozenset({"outlet"})),
                                               definition_key="two_step_review", variables={"days": 3})
            task_id = started.waiting_tasks[0].task_id
            tasks.claim_task(session, clock, actor=director, task_id=task_id)
            tasks.complete_task(session, clock, catalog, actor=director, task_id=task_id, data={"rcc_approved": True})
        ids.append(started.summary.instance_id)
    return ids


def _pending_due(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(Timer).where(
            Timer.status == "pending", Timer.due_at <= SystemClock().now())) or 0)


def test_killed_server_and_worker_lose_nothing(crash_db: tuple[Engine, sessionmaker[Session]]) -> None:
    engine, factory = crash_db
    url = engine.url.render_as_string(hide_password=False)
    timer_cases = _seed_due_timers(factory)
    acks = Acks()

    for round_number in range(KILLS):
        with _serving(url) as base:
            acks.target = (round_number + 1) * ACKS_PER_ROUND
            drivers = [threading.Thread(target=_drive, args=(base, acks, n)) for n in range(DRIVERS)]
            for driver in drivers:
                driver.start()
            assert acks.enough.wait(timeout=300), "the server stopped acknowledging requests"
            acks.enough.clear()
        # The server was SIGKILLed with the drivers mid-request; they notice and stop.
        for driver in drivers:
            driver.join(timeout=60)
            assert not driver.is_alive()

    with _serving(url) as base:  # it comes back on the same database after the last kill
        assert httpx.get(f"{base}/api/health", timeout=30).json() == {"status": "ok"}

    # Timers due during the downtime: worker A dies mid-tick, worker B fires whatever A did not commit.
    assert _pending_due(factory) == DUE_TIMERS
    first = Process(["worker", "--interval", "0.2"], url)
    first.wait_for("scheduler started")
    first.kill()
    second = Process(["worker", "--interval", "0.2"], url)
    try:
        second.wait_for("scheduler started")
        with second.changed:
            # Wake on each log line (or every few seconds) and look at the database: bounded, no sleep.
            assert second.changed.wait_for(lambda: _pending_due(factory) == 0, timeout=300), ''.join(second.lines)
    finally:
        second.kill()

    with factory() as session:
        for instance_id in acks.started:
            assert session.get(Instance, uuid.UUID(instance_id)) is not None
        for task_id in acks.completed:
            task = session.get(Task, uuid.UUID(task_id))
            assert task is not None and task.status == "completed"
        fired = session.execute(select(AuditEvent.instance_id, func.count()).where(
            AuditEvent.event_type == "timer_fired").group_by(AuditEvent.instance_id)).all()
        report = check_invariants(session)
    assert dict(fired) == dict.fromkeys(timer_cases, 1)  # each due timer fired exactly once, by A or B
    assert report.violations == []
    print(f"\n{KILLS} server kills + 1 worker kill survived; {len(acks.started)} starts and "
          f"{len(acks.completed)} completions acknowledged, all present; {report.instances} instances consistent")
