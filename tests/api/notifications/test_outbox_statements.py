"""The outbox's cost on the hot path: a task entering a queue reads its audience once and inserts once.

Task creation runs on every step of every case; the outbox once read settings, defaults and
webhooks apart and made the PostgreSQL benchmark fall. The count is of statements touching the
notification tables, so it measures the outbox and nothing else the step does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from tests.api.conftest import Desk
from tests.api.notifications.conftest import rows_of

OUTBOX_TABLES = re.compile(r"\b(notifications|notification_settings|group_notification_defaults|webhook_endpoints)\b")


@pytest.fixture
def outbox_statements(db_engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        if OUTBOX_TABLES.search(statement):
            seen.append(statement)

    event.listen(db_engine, "before_cursor_execute", count)
    yield seen
    event.remove(db_engine, "before_cursor_execute", count)


def test_a_queued_task_costs_the_outbox_one_read_and_one_insert(
        outlet_case: Callable[..., str], desk: Desk, client: TestClient, factory: sessionmaker[Session],
        outbox_statements: list[str]) -> None:
    admin = desk.login("admin")
    # Every source of the audience at once: a member with settings, one without (the group's
    # default applies), an inactive one, and the group's webhook.
    assert client.put("/api/groups/outlet/notification-defaults", headers=admin,
                      json={"channels": {"task_queued": ["in_app"]}}).status_code == 200
    for name in ("zhao.min", "qian.li"):
        created = client.post("/api/users", headers=admin,
                              json={"username": name, "password": f"password-of-{name}", "groups": ["outlet"]})
        assert created.status_code == 201, created.text
    assert client.patch("/api/users/qian.li", headers=admin, json={"is_active": False}).status_code == 200
    outbox_statements.clear()

    outlet_case()
    statements = list(outbox_statements)

    queued = {(r.recipient or r.group_id, r.channel) for r in rows_of(factory, event_kind="task_queued")}
    assert queued == {("outlet", "email"), ("outlet", "in_app"), ("zhao.min", "in_app"), ("outlet", "webhook")}
    assert len(statements) <= 2, statements
