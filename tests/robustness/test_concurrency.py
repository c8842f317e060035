"""Fifty clients working the same queues of one PostgreSQL database at once, timers firing beside them.

Directors race to claim and complete the same review tasks (several threads per user, so the
same user also races themselves), agents send the same messages to the same cases, an admin
suspends and resumes cases under their feet, outlets confirm, and scheduler threads fire timers
while the clock moves. Every response must be a success or a clean refusal (403/404/409, never a
5xx), every acknowledged completion and message must be in the database exactly once, and
afterwards the invariant checker must find the history and the rows consistent.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.auth import issue_token
from api.settings import Settings
from engine import definitions, instances
from engine.catalog import DEFAULT_FORMS_DIR, FormCatalog
from engine.clock import FrozenClock
from engine.db import make_engine, scratch_postgres_database, transaction
from engine.identity import Actor, add_user, sync_demo_users
from engine.invariants import check_invariants
from engine.migrations import upgrade_to_head
from engine.tables import AuditEvent, Task, Timer
from engine.timers import fire_due_timers
from tests.conftest import DESIGNER, TEST_PROCESSES, sessions

SECRET = "load-test-secret-key-of-a-sensible-length"
DIRECTORS = [f"director{n}" for n in range(5)]
CASES, PARTS_CASES, ROUNDS = 24, 10, 12
FOLLOWER_ROUNDS = 150  # outlets, admins and schedulers go on while directors work, at most this often
CLIENTS = {"director": 25, "agent": 10, "outlet": 8, "admin": 2, "scheduler": 5}  # 50 in all
REFUSALS = {403, 404, 409}


@pytest.fixture
def load_db() -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    with scratch_postgres_database("tixi_load") as scratch:
        upgrade_to_head(scratch)
        # Fifty threads share one pool; keep well under the server's max_connections (other tests use it too).
        engine = make_engine(scratch.url.render_as_string(hide_password=False), pool_size=10, max_overflow=10)
        yield engine, sessions(engine)
        engine.dispose()


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    completed: list[tuple[str, str]] = field(default_factory=list)  # (task_id, user) acknowledged with 200
    messages: list[str] = field(default_factory=list)  # instance ids resumed with 200
    fired: int = 0
    errors: list[str] = field(default_factory=list)
    directors_done: threading.Event = field(default_factory=threading.Event)

    def rounds(self) -> Iterator[int]:
        """Rounds of a client that follows the directors' work: until they finish (bounded)."""
        for number in range(FOLLOWER_ROUNDS):
            if self.directors_done.is_set():
                return
            yield number

    def note(self, action: str, response: Any, allowed: set[int]) -> None:
        with self.lock:
            self.statuses[(action, response.status_code)] += 1
            if response.status_code not in allowed:
                self.errors.append(f"{action}: {response.status_code} {response.text[:300]}")


def _seed(factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog) -> list[str]:
    admin = Actor("admin", frozenset({"admin"}))
    with transaction(factory) as session:
        sync_demo_users(session, clock, enabled=True)
        for name in DIRECTORS:
            add_user(session, clock, actor=admin, username=name, password="load-test-pw", groups=["rcc_director"])
        for name in ("two_step_review.bpmn", "parts_wait.bpmn"):
            definitions.deploy(session, clock, catalog, actor=DESIGNER, filename=name,
                               content=(TEST_PROCESSES / name).read_bytes())
    keys = [f"PARTS-{n}" for n in range(PARTS_CASES)]
    with transaction(factory) as session:
        for _ in range(CASES):
            instances.start_instance(session, clock, catalog, actor=Actor("outlet", frozenset({"outlet"})),
                                     definition_key="two_step_review", variables={"days": 3})
        for key in keys:
            instances.start_instance(session, clock, catalog, actor=Actor("rcc_agent", frozenset({"rcc_agent"})),
                                     definition_key="parts_wait", business_key=key)
    return keys


def _headers(user: str, clock: FrozenClock) -> dict[str, str]:
    return {"Authorization": f"Bearer {issue_token(user, generation=0, secret=SECRET, now=clock.now(), minutes=60 * 24 * 365)}"}


def _director(client: TestClient, user: str, rng: random.Random, clock: FrozenClock, tally: Tally) -> None:
    headers = _headers(user, clock)
    for _ in range(ROUNDS):
        queue = client.get("/api/tasks", headers=headers, params={"candidate_group": "rcc_director", "limit": 10})
        tally.note("queue", queue, {200})
        items = queue.json()["items"] if queue.status_code == 200 else []
        if not items:
            continue
        task = rng.choice(items[:4])  # few choices: threads collide on purpose
        claimed = client.post(f"/api/tasks/{task['task_id']}/claim", headers=headers)
        tally.note("claim", claimed, {200} | REFUSALS)
        done = client.post(f"/api/tasks/{task['task_id']}/complete", headers=headers, json={"data": {"rcc_approved": True}})
        tally.note("complete", done, {200} | REFUSALS)
        if done.status_code == 200:
            with tally.lock:
                tally.completed.append((task["task_id"], user))
        elif rng.random() < 0.5:
            tally.note("unclaim", client.post(f"/api/tasks/{task['task_id']}/unclaim", headers=headers), {200} | REFUSALS)


def _agent(client: TestClient, rng: random.Random, keys: list[str], clock: FrozenClock, tally: Tally) -> None:
    headers = _headers("rcc_agent", clock)
    for _ in range(ROUNDS):
        sent = client.post("/api/messages", headers=headers,
                           json={"name": "parts_arrived", "business_key": rng.choice(keys[:4]), "variables": {"parts": 2}})
        tally.note("message", sent, {200} | REFUSALS)
        if sent.status_code == 200:
            with tally.lock:
                tally.messages.append(sent.json()["instance_id"])


def _outlet(client: TestClient, rng: random.Random, clock: FrozenClock, tally: Tally) -> None:
    headers = _headers("outlet", clock)
    for _ in tally.rounds():
        queue = client.get("/api/tasks", headers=headers, params={"limit": 5})
        tally.note("queue", queue, {200})
        for task in (queue.json()["items"] if queue.status_code == 200 else [])[:1]:
            done = client.post(f"/api/tasks/{task['task_id']}/complete", headers=headers,
                               json={"data": {"agreement_confirmed": True, "signatory_name": "王芳"}})
            tally.note("confirm", done, {200} | REFUSALS)
            if done.status_code == 200:
                with tally.lock:
                    tally.completed.append((task["task_id"], "outlet"))


def _admin(client: TestClient, rng: random.Random, clock: FrozenClock, tally: Tally) -> None:
    headers = _headers("admin", clock)
    for _ in tally.rounds():
        page = client.get("/api/instances", headers=headers, params={"status": "running", "limit": 20})
        tally.note("instances", page, {200})
        if page.status_code != 200 or not page.json()["items"]:
            continue
        instance_id = rng.choice(page.json()["items"])["instance_id"]
        tally.note("suspend", client.post(f"/api/instances/{instance_id}/suspend", headers=headers,
                                          json={"reason": "load test"}), {200} | REFUSALS)
        tally.note("resume", client.post(f"/api/instances/{instance_id}/resume", headers=headers,
                                         json={"reason": "load test over"}), {200} | REFUSALS)


def _scheduler(factory: sessionmaker[Session], clock: FrozenClock, tally: Tally) -> None:
    for _ in tally.rounds():
        clock.advance(timedelta(minutes=20))  # five threads: the day-long timers fall due mid-run
        fired = fire_due_timers(factory, clock)
        with tally.lock:
            tally.fired += fired


def test_fifty_clients_on_one_postgresql(load_db: tuple[Engine, sessionmaker[Session]]) -> None:
    engine, factory = load_db
    clock, catalog = FrozenClock(), FormCatalog(DEFAULT_FORMS_DIR)
    keys = _seed(factory, clock, catalog)
    app = create_app(Settings(database_url=str(engine.url), secret_key=SECRET, forms_dir=DEFAULT_FORMS_DIR,
                              scheduler_in_process=False), clock=clock, session_factory=factory, run_scheduler=False)
    tally, barrier = Tally(), threading.Barrier(sum(CLIENTS.values()))

    def client_thread(kind: str, number: int) -> None:
        rng = random.Random(f"{kind}-{number}")
        client = TestClient(app, raise_server_exceptions=False)
        barrier.wait(timeout=120)
        try:
            if kind == "director":
                _director(client, DIRECTORS[number % len(DIRECTORS)], rng, clock, tally)
            elif kind == "agent":
                _agent(client, rng, keys, clock, tally)
            elif kind == "outlet":
                _outlet(client, rng, clock, tally)
            elif kind == "admin":
                _admin(client, rng, clock, tally)
            else:
                _scheduler(factory, clock, tally)
        except Exception as error:  # a thread's crash must fail the test, not vanish
            with tally.lock:
                tally.errors.append(f"{kind}-{number} crashed: {error!r}")

    threads = [threading.Thread(target=client_thread, args=(kind, n), name=f"{kind}-{n}")
               for kind, count in CLIENTS.items() for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        if thread.name.startswith(("director", "agent")):
            thread.join(timeout=600)
    tally.directors_done.set()
    for thread in threads:
        thread.join(timeout=600)
    assert not any(t.is_alive() for t in threads), "a client hung"
    requests = sum(tally.statuses.values())
    print(f"\n{len(threads)} clients, {requests} HTTP requests, {tally.fired} timer firings: "
          f"{sorted(tally.statuses.items())}")
    assert tally.errors == []

    # Races happened and were refused cleanly, and real work got done.
    assert tally.fired > 0 and tally.statuses[("confirm", 200)] > 0
    assert tally.statuses[("complete", 200)] >= 10 and tally.statuses[("claim", 409)] + tally.statuses[("complete", 409)] > 0
    # Every acknowledged completion is in the database, once, by the user who was told 200.
    assert len({task_id for task_id, _ in tally.completed}) == len(tally.completed)
    with factory() as session:
        for task_id, user in tally.completed:
            task = session.get(Task, uuid.UUID(task_id))
            assert task is not None and (task.status, task.completed_by) == ("completed", user)
        completions = session.scalar(select(func.count()).select_from(AuditEvent)
                                     .where(AuditEvent.event_type == "task_completed"))
        received = list(session.scalars(select(AuditEvent.instance_id)
                                        .where(AuditEvent.event_type == "message_received")))
        timer_events = session.scalar(select(func.count()).select_from(AuditEvent)
                                      .where(AuditEvent.event_type == "timer_fired"))
        fired_rows = session.scalar(select(func.count()).select_from(Timer).where(Timer.status == "fired"))
        report = check_invariants(session)
    # Each timer fired once, by one of the five schedulers, and said so in the history.
    assert timer_events == fired_rows == tally.fired, (timer_events, fired_rows, tally.fired)
    assert completions == len(tally.completed)
    # One message per waiting case got through, however many agents sent it at once.
    assert sorted(map(str, received)) == sorted(tally.messages) and len(set(received)) == len(received)
    assert report.violations == []
    assert report.instances == CASES + PARTS_CASES
