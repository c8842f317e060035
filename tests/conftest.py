"""Fixtures: every engine and API test runs against an SQLite file and a PostgreSQL database.

PostgreSQL: a throw-away database is created on the server of TIXI_TEST_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/test) and dropped afterwards. An unreachable server fails
the run; it is never skipped. TIXI_TEST_DATABASES=sqlite narrows the run for quick local loops.
"""

from __future__ import annotations

import os
import re
import socket
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# Every saved workflow is rebuilt from what was written and compared, and finished tasks are
# spilled into chunks after only two gather, so the whole suite exercises long-case storage:
# TEST_CONFIG below for the sessions made here, these variables for the servers tests start.
os.environ.setdefault("TIXI_VERIFY_STATE", "1")
os.environ.setdefault("TIXI_STATE_SPILL_AT", "2")

import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, event, text, update
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.settings import Settings
from engine import definitions, instances
from engine.attachment_tables import Attachment, AttachmentBlob
from engine.catalog import DEFAULT_FORMS_DIR, FormCatalog
from engine.clock import FrozenClock
from engine.config import DEFAULT_DEMO_DIR, EngineConfig
from engine.db import make_engine, scratch_postgres_database, transaction
from engine.demo_network import sync_demo_network
from engine.identity import Actor, sync_demo_users
from engine.migrations import upgrade_to_head
from engine.register_tables import Customer, Outlet, OutletAssessment, OutletStaff, Product, Region
from engine.saved_filter_tables import SavedFilter
from engine.states import OutletStatus
from engine.tables import (
    AuditEvent,
    CalendarDay,
    Deadline,
    Definition,
    Deployment,
    ExternalTask,
    Group,
    GroupNotificationDefault,
    Instance,
    InstanceStateChunk,
    MessageSubscription,
    Notification,
    NotificationSetting,
    ServiceAccount,
    StartTimer,
    Task,
    TaskCandidateGroup,
    TaskCandidateUser,
    TaskComment,
    Timer,
    User,
    WebhookEndpoint,
)
from engine.workflow_store import session_factory

ROOT = Path(__file__).resolve().parent.parent
TEST_PROCESSES = Path(__file__).resolve().parent / "processes"
DATABASES = [d.strip() for d in os.environ.get("TIXI_TEST_DATABASES", "sqlite,postgresql").split(",") if d.strip()]
STANDARD_GROUPS = {"outlet", "rcc_agent", "rcc_visitor", "rcc_director", "rcc_settlement", "tech_section",
                   "csd_head", "training", "quality", "designer", "admin"}
DESIGNER = Actor("designer", frozenset({"designer"}))
DEMO_NETWORK = json.loads((DEFAULT_DEMO_DIR / "network.json").read_text(encoding="utf-8"))
DEMO_REGIONS = [r["code"] for r in DEMO_NETWORK["regions"]]
DEMO_OUTLETS = [o["code"] for o in DEMO_NETWORK["outlets"]]
# The engine's configuration for the whole suite (the environment above says the same to servers).
TEST_CONFIG = EngineConfig(verify_state=True, state_spill_at=2)


def start_two_task_case(factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog) -> uuid.UUID:
    """Deploy bench/processes/minimal_two_tasks.bpmn and start a case of it as the outlet; its id."""
    path = ROOT / "bench" / "processes" / "minimal_two_tasks.bpmn"
    with transaction(factory) as session:
        definitions.deploy(session, clock, catalog, actor=DESIGNER, filename=path.name, content=path.read_bytes())
    with transaction(factory) as session:
        return instances.start_instance(session, clock, catalog, actor=Actor("outlet", frozenset({"outlet"})),
                                        definition_key="minimal_two_tasks").summary.instance_id


def free_port() -> int:
    """A loopback port nothing listens on now, for a server a test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sessions(engine: Engine) -> sessionmaker[Session]:
    """Sessions as the app makes them: with the suite's configuration and a workflow cache of their own."""
    return session_factory(engine, TEST_CONFIG)


@contextmanager
def migrated_database(kind: str, directory: Path, prefix: str) -> Iterator[Engine]:
    """An engine on a new database at the newest schema: an SQLite file in `directory`, or a throw-away PostgreSQL one."""
    if kind == "sqlite":
        engine = make_engine(f"sqlite:///{directory / 'tixi.db'}")
        upgrade_to_head(engine)
        yield engine
        engine.dispose()
        return
    with scratch_postgres_database(prefix) as engine:
        upgrade_to_head(engine)
        yield engine


@pytest.fixture(scope="session", params=DATABASES)
def db_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    with migrated_database(request.param, tmp_path_factory.mktemp("db"), "tixi_test") as engine:
        yield engine


@pytest.fixture(scope="session")
def _demo_users(db_engine: Engine) -> None:
    # Hashing eleven argon2 passwords per test would dominate the suite: users live for the session.
    with transaction(sessions(db_engine)) as session:
        sync_demo_users(session, FrozenClock(), enabled=True)
        # The demo network (two regions, four outlets, their staff) is as standard as the demo users.
        sync_demo_network(session, FrozenClock(), DEFAULT_DEMO_DIR, customers=False)


@pytest.fixture
def factory(db_engine: Engine, _demo_users: None) -> Iterator[sessionmaker[Session]]:
    """A session factory on a database holding only the standard groups and demo users."""
    made = sessions(db_engine)
    yield made
    with transaction(made) as session:
        for table in (AttachmentBlob, Attachment, Notification, NotificationSetting, GroupNotificationDefault,
                      WebhookEndpoint, AuditEvent,
                      TaskComment, Deadline, MessageSubscription, TaskCandidateGroup, TaskCandidateUser, Timer, Task,
                      ExternalTask,
                      ServiceAccount, InstanceStateChunk, Instance, StartTimer, CalendarDay, Definition, Deployment):
            session.execute(delete(table))
        session.execute(delete(User).where(User.is_demo.is_(False)))
        session.execute(delete(SavedFilter))  # per person, and the demo people outlive a test
        for table in (OutletStaff, OutletAssessment, Product, Customer):
            session.execute(delete(table))
        session.execute(delete(Outlet).where(Outlet.code.not_in(DEMO_OUTLETS)))
        session.execute(delete(Region).where(Region.code.not_in(DEMO_REGIONS)))
        session.execute(update(Outlet).values(status=OutletStatus.ACTIVE))
        # A test may bind a demo user (an onboarding binds its applicant to the new outlet): unbind them again.
        session.execute(update(User).where(User.username.in_(STANDARD_GROUPS)).values(outlet_code=None,
                                                                                    region_code=None))
        outlets = {o["code"]: o["region_code"] for o in DEMO_NETWORK["outlets"]}
        for user in DEMO_NETWORK["users"]:
            session.execute(update(User).where(User.username == user["username"]).values(
                outlet_code=user.get("outlet_code"),
                region_code=user.get("region_code") or outlets.get(user.get("outlet_code", ""))))
        session.execute(delete(Group).where(Group.group_id.not_in(STANDARD_GROUPS)))
        # Demo users outlive a test: undo what it did to them (disabling, logouts, lock-outs).
        session.execute(text("UPDATE users SET is_active = :yes, token_generation = 0, failed_logins = 0, "
                             "first_failed_at = NULL, locked_until_at = NULL").bindparams(yes=True))


@pytest.fixture
def statements(db_engine: Engine) -> Iterator[list[str]]:
    """Every statement the driver sends while the test runs, whitespace collapsed (for statement counts)."""
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        seen.append(re.sub(r"\s+", " ", statement))

    event.listen(db_engine, "before_cursor_execute", count)
    yield seen
    event.remove(db_engine, "before_cursor_execute", count)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def catalog() -> FormCatalog:
    return FormCatalog(DEFAULT_FORMS_DIR)


@pytest.fixture
def app_settings(db_engine: Engine) -> Settings:
    return Settings(database_url=str(db_engine.url), secret_key="test-secret-key-not-for-production",
                    forms_dir=DEFAULT_FORMS_DIR, demo_users=True, scheduler_in_process=False)


@contextmanager
def app_client(settings: Settings, clock: FrozenClock, factory: sessionmaker[Session]) -> Iterator[TestClient]:
    """The app with these settings on the test's sessions and clock, without a scheduler, served to a test client."""
    with TestClient(create_app(settings, clock=clock, session_factory=factory, run_scheduler=False)) as test_client:
        yield test_client


@pytest.fixture
def client(app_settings: Settings, clock: FrozenClock, factory: sessionmaker[Session]) -> Iterator[TestClient]:
    with app_client(app_settings, clock, factory) as test_client:
        yield test_client


@pytest.fixture
def login(client: TestClient) -> Callable[[str], dict[str, str]]:
    """Headers of a freshly logged-in demo user (password 'demo')."""

    def _login(username: str, password: str = "demo") -> dict[str, str]:
        response = client.post("/api/auth/token", data={"username": username, "password": password})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    return _login


@pytest.fixture
def deploy_file(client: TestClient, login: Callable[[str], dict[str, str]]) -> Callable[[Path], list[dict]]:
    def _deploy(path: Path) -> list[dict]:
        with path.open("rb") as handle:
            response = client.post("/api/definitions", headers=login("designer"),
                                   files={"file": (path.name, handle, "application/octet-stream")})
        assert response.status_code == 201, response.text
        return list(response.json()["definitions"])

    return _deploy


@pytest.fixture
def deployed_processes(deploy_file: Callable[[Path], list[dict]], tmp_path: Path) -> list[dict]:
    """Everything in processes/, deployed through the API by the demo designer as one bundle."""
    bundle = tmp_path / "processes.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        for path in sorted((ROOT / "processes").glob("*.*mn")):
            archive.write(path, path.name)
    return deploy_file(bundle)
