"""A database of an earlier release upgrades to head with its data intact and the app works on it.

Revision 0003 is the last schema without the hash-chained history (0004) and outlet-bound users
(0005). The test writes cases at head, downgrades to 0003 so the rows have exactly that release's
shape, adds a user the way that release wrote one, upgrades again and then works the old case
through the API. Finally it downgrades once more, with the data in place.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, MetaData, func, insert, select

from api.app import create_app
from api.auth import issue_token
from api.settings import Settings
from engine import definitions, instances, tasks
from engine.audit import verify_chains
from engine.catalog import DEFAULT_FORMS_DIR, FormCatalog
from engine.clock import FrozenClock
from engine.db import transaction
from engine.identity import Actor, sync_demo_users
from engine.invariants import check_invariants
from engine.migrations import downgrade_to, upgrade_to_head
from engine.tables import AuditEvent, Instance, Membership, Task, User
from tests.conftest import DESIGNER, TEST_PROCESSES, sessions
from tests.engine.test_migrations import _current_revision, blank_engine  # noqa: F401 - the fixture

PREVIOUS = "0003"
SECRET = "migration-test-secret-of-a-sensible-length"
OUTLET = Actor("outlet", frozenset({"outlet"}))
DIRECTOR = Actor("rcc_director", frozenset({"rcc_director"}))


def _write_cases(engine: Engine) -> list[uuid.UUID]:
    factory, clock, catalog = sessions(engine), FrozenClock(), FormCatalog(DEFAULT_FORMS_DIR)
    path = TEST_PROCESSES / "two_step_review.bpmn"
    with transaction(factory) as session:
        sync_demo_users(session, clock, enabled=True)
        definitions.deploy(session, clock, catalog, actor=DESIGNER, filename=path.name, content=path.read_bytes())
        started = [instances.start_instance(session, clock, catalog, actor=OUTLET, definition_key="two_step_review",
                                            business_key=f"OLD-{n}", variables={"days": 3}) for n in range(2)]
    first = started[0].waiting_tasks[0].task_id
    with transaction(factory) as session:
        tasks.claim_task(session, clock, actor=DIRECTOR, task_id=first)
        tasks.complete_task(session, clock, catalog, actor=DIRECTOR, task_id=first, data={"rcc_approved": True})
    return [s.summary.instance_id for s in started]


def _counts(engine: Engine) -> tuple[int, ...]:
    with engine.connect() as conn:
        return tuple(int(conn.scalar(select(func.count()).select_from(t)) or 0)
                     for t in (Instance, Task, AuditEvent, Membership))


def _add_user_as_the_old_release(engine: Engine) -> None:
    """Insert a user with only the columns revision 0003 has (no outlet_code)."""
    old = MetaData()
    old.reflect(engine, only=["users", "memberships"])
    assert "outlet_code" not in old.tables["users"].c
    # Reflected columns are plain types: SQLite keeps a UUID as 32 hex characters, as Uuid writes it.
    user_id: uuid.UUID | str = uuid.uuid4().hex if engine.dialect.name == "sqlite" else uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(insert(old.tables["users"]).values(
            user_id=user_id, username="old.director", display_name="老主任 / Old director",
            password_hash=PasswordHasher().hash("from-release-0003"), is_active=True, is_demo=False,
            created_at=datetime(2026, 1, 5, tzinfo=UTC)))
        conn.execute(insert(old.tables["memberships"]).values(user_id=user_id, group_id="rcc_director"))


def test_previous_release_upgrades_with_its_data(blank_engine: Engine) -> None:  # noqa: F811
    upgrade_to_head(blank_engine)
    case_ids = _write_cases(blank_engine)
    counts = _counts(blank_engine)
    blank_engine.dispose()
    downgrade_to(blank_engine, PREVIOUS)
    assert _current_revision(blank_engine) == PREVIOUS
    assert _counts(blank_engine) == counts  # dropping 0004's and 0005's columns kept every row (memberships too)
    _add_user_as_the_old_release(blank_engine)
    counts = (*counts[:3], counts[3] + 1)

    upgrade_to_head(blank_engine)
    assert _counts(blank_engine) == counts
    factory = sessions(blank_engine)
    with factory() as session:
        checked, breaks = verify_chains(session)  # 0004 chained the rows written before it existed
        report = check_invariants(session)
        old_user = session.scalars(select(User).where(User.username == "old.director")).one()
    assert (checked, breaks) == (counts[2], [])
    assert report.violations == [] and report.instances == 2
    assert old_user.outlet_code is None

    app = create_app(Settings(database_url=str(blank_engine.url), secret_key=SECRET, forms_dir=DEFAULT_FORMS_DIR,
                              scheduler_in_process=False), clock=FrozenClock(), session_factory=factory,
                     run_scheduler=False)
    with TestClient(app) as client:
        login = client.post("/api/auth/token", data={"username": "old.director", "password": "from-release-0003"})
        assert login.status_code == 200, login.text
        director = {"Authorization": f"Bearer {login.json()['access_token']}"}
        [task] = client.get("/api/tasks", headers=director).json()["items"]
        assert (task["instance_id"], task["business_key"]) == (str(case_ids[1]), "OLD-1")
        assert client.post(f"/api/tasks/{task['task_id']}/claim", headers=director).status_code == 200
        done = client.post(f"/api/tasks/{task['task_id']}/complete", headers=director,
                           json={"data": {"rcc_approved": True}})
        assert done.status_code == 200, done.text
        admin = {"Authorization": f"Bearer {issue_token('admin', generation=0, secret=SECRET, now=FrozenClock().now(), minutes=60)}"}
        response = client.get(f"/api/instances/{case_ids[0]}/history", headers=admin)
        assert response.status_code == 200, response.text
        history = response.json()
        kinds = [e["event_type"] for e in history]
        assert kinds[0] == "started" and kinds.count("task_completed") == 1 and "timer_fired" not in kinds
    with factory() as session:
        assert verify_chains(session)[1] == [] and check_invariants(session).violations == []

    blank_engine.dispose()
    downgrade_to(blank_engine, PREVIOUS)  # and back, with the new rows in place
    assert _current_revision(blank_engine) == PREVIOUS
    upgrade_to_head(blank_engine)
    with factory() as session:
        assert verify_chains(session)[1] == []
