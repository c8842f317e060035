"""Hostile free-form data: too deep, too big, badly named or not a finite number, refused before any transaction.

Start variables (of a process without a start form), message variables and correlation keys, task
completion data and retry variables all come as free JSON. A variable nested 256 deep used to be
stored, and every read of the instance then answered 500; nested 600 deep the instance could not be
loaded again at all. Now each is a 422 naming the field path, and nothing changes. An instance whose
stored state cannot be loaded (written before these checks, or by hand) is reported by `tixi audit
check` instead of crashing it, reads answer 409 instead of 500, and an admin can still terminate it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import flag_modified
from typer.testing import CliRunner

from api.cli import app as tixi
from engine.data_limits import MAX_BYTES, MAX_DEPTH
from engine.tables import Instance
from tests.conftest import TEST_PROCESSES
from tests.robustness.checks import audit_problems, snapshot

Login = Callable[[str], dict[str, str]]


def nested(depth: int) -> Any:
    """A value inside `depth` objects: nested(1) == {"a": 1}."""
    value: Any = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def _path(field: str, depth: int) -> str:
    return ".".join([field, *["a"] * depth])


@pytest.fixture
def case(claimed_review: dict[str, str]) -> dict[str, str]:
    """A started two-step review with its review task claimed by the director."""
    return claimed_review


# Where free-form data enters: (user, method path, body with the data under test in `field`).
ENTRIES: dict[str, tuple[str, str, Callable[[str], str]]] = {
    "start variables": ("outlet", "/api/instances",
                        lambda data: f'{{"definition_key": "two_step_review", "variables": {data}}}'),
    "message variables": ("admin", "/api/messages", lambda data: f'{{"name": "parts_arrived", "variables": {data}}}'),
    "correlation keys": ("admin", "/api/messages",
                         lambda data: f'{{"name": "parts_arrived", "correlation_keys": {data}}}'),
    "task data": ("rcc_director", "/api/tasks/{task_id}/complete", lambda data: f'{{"data": {data}}}'),
    "retry variables": ("admin", "/api/instances/{instance_id}/retry",
                        lambda data: f'{{"reason": "fix", "variables": {data}}}'),
}
FIELDS = {"start variables": "variables", "message variables": "variables", "correlation keys": "correlation_keys",
          "task data": "data", "retry variables": "variables"}

# (case, JSON text of the data, path below the field, words of the detail)
HOSTILE = [
    ("one level too deep", json.dumps({"x": nested(MAX_DEPTH + 1)}), "x" + ".a" * MAX_DEPTH, "levels deep"),
    ("256 deep", json.dumps({"x": nested(256)}), "x" + ".a" * MAX_DEPTH, "levels deep"),
    ("600 deep", json.dumps({"x": nested(600)}), "x" + ".a" * MAX_DEPTH, "levels deep"),
    ("600 deep in lists", '{"x": ' + "[" * 600 + "]" * 600 + "}", "x" + ".0" * MAX_DEPTH, "levels deep"),
    ("over a megabyte", json.dumps({"notes": "长" * (MAX_BYTES // 3 + 10)}), "", "bytes of JSON"),
    ("a 129-character name", json.dumps({"x": {"k" * 129: 1}}), "x." + "k" * 32 + "...", "1 to 128 characters"),
    ("an empty name", json.dumps({"x": {"": 1}}), "x.", "1 to 128 characters"),
    ("a control character in a name", json.dumps({"x": {"bell\u0007": 1}}), "x.bell\u0007", "control characters"),
    ("a dunder variable", json.dumps({"__builtins__": {}}), "__builtins__", "usable variable name"),
    ("a variable starting with a digit", json.dumps({"1st": 1}), "1st", "usable variable name"),
    ("a keyword as a variable", json.dumps({"class": 1}), "class", "usable variable name"),
    ("NaN", '{"score": NaN}', "score", "finite number"),
    ("Infinity in a list", '{"scores": [1, -Infinity]}', "scores.1", "finite number"),
]


# Every case on the start; the commonest on every other way in (each run deploys and starts a case).
EVERYWHERE = {"600 deep", "over a megabyte", "a dunder variable", "NaN"}
MATRIX = [(entry, *h) for entry in ENTRIES for h in HOSTILE if entry == "start variables" or h[0] in EVERYWHERE]


@pytest.mark.parametrize(("entry", "name", "data", "below", "words"), MATRIX, ids=[f"{m[0]}: {m[1]}" for m in MATRIX])
def test_hostile_data_is_refused_naming_the_field_and_changes_nothing(
    client: TestClient, login: Login, factory: sessionmaker[Session], case: dict[str, str], entry: str, name: str,
    data: str, below: str, words: str,
) -> None:
    user, path, body = ENTRIES[entry]
    before = snapshot(factory)
    response = client.post(path.format(**case), content=body(data).encode("utf-8"),
                           headers={**login(user), "Content-Type": "application/json"})
    assert response.status_code == 422, (entry, name, response.text[:500])
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    field = FIELDS[entry]
    assert error["field"] == (f"{field}.{below}" if below else field), (entry, name, error["field"][:300])
    assert words in error["message"], error["message"][:300]
    assert snapshot(factory) == before
    assert audit_problems(factory) == []


def test_data_at_the_limits_is_accepted_and_read_back(client: TestClient, login: Login) -> None:
    path = TEST_PROCESSES / "two_step_review.bpmn"
    assert client.post("/api/definitions", headers=login("designer"),
                       files={"file": (path.name, path.read_bytes(), "application/xml")}).status_code == 201
    variables = {"days": 3, "deep": nested(MAX_DEPTH), "客户": {"名字 with spaces": "李四", "k" * 128: [1.5, None]}}
    started = client.post("/api/instances", headers=login("outlet"),
                          json={"definition_key": "two_step_review", "variables": variables})
    assert started.status_code == 201, started.text[:500]
    read = client.get(f"/api/instances/{started.json()['instance_id']}", headers=login("admin"))
    assert read.status_code == 200, read.text[:500]
    assert {k: read.json()["variables"][k] for k in variables} == variables


def _write_unloadable_state(factory: sessionmaker[Session], instance_id: str) -> None:
    """What a start before these checks stored: a variable nested 700 deep in the workflow's data."""
    with factory() as session, session.begin():
        record = session.get(Instance, uuid.UUID(instance_id))
        assert record is not None
        record.state["data"]["deep"] = nested(700)
        flag_modified(record, "state")
        record.state_revision = uuid.uuid4()  # as after a restart: no server holds this workflow in memory


def test_audit_check_reports_an_unloadable_instance_instead_of_crashing(
    client: TestClient, login: Login, factory: sessionmaker[Session], db_engine: Engine, case: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _write_unloadable_state(factory, case["instance_id"])
    monkeypatch.setenv("TIXI_DATABASE_URL", db_engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("TIXI_SECRET_KEY", "audit-check-test-secret-key-of-some-length")
    result = CliRunner().invoke(tixi, ["audit", "check"])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception  # no traceback
    assert f"instance {case['instance_id']}: unloadable: the stored workflow state cannot be loaded" in result.output
    assert "restore the instance from a backup" in result.output
    assert "1 violation(s)" in result.output


def test_an_unloadable_instance_reads_as_a_409_and_an_admin_can_still_terminate_it(
    client: TestClient, login: Login, factory: sessionmaker[Session], case: dict[str, str],
) -> None:
    _write_unloadable_state(factory, case["instance_id"])
    unraised = TestClient(client.app, raise_server_exceptions=False)
    admin = login("admin")
    for path in (f"/api/instances/{case['instance_id']}", f"/api/tasks/{case['task_id']}"):
        response = unraised.get(path, headers=admin)
        assert response.status_code == 409, (path, response.status_code, response.text[:300])
        assert response.json()["type"] == "urn:tixi:problem:state-unloadable", response.json()
        assert "restore the instance from a backup" in response.json()["detail"]
    ended = unraised.post(f"/api/instances/{case['instance_id']}/terminate", headers=admin, json={"reason": "broken"})
    assert ended.status_code == 200, ended.text[:300]
    assert ended.json()["status"] == "terminated"
    queue = client.get("/api/tasks", headers=login("rcc_director")).json()["items"]
    assert case["task_id"] not in [t["task_id"] for t in queue]  # its task left the queue with it
    assert audit_problems(factory) == []  # ended, with no open rows: consistent
