"""A person working the queue through HTTP: find the task, claim it, complete it with form data."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from engine.clock import FrozenClock

Login = Callable[[str], dict[str, str]]


# The smallest files of each kind an attachment may be: what their first bytes say they are.
PDF = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"

ROLES = ("outlet", "rcc_agent", "rcc_visitor", "rcc_director", "rcc_settlement", "tech_section", "csd_head",
         "training", "quality")


def events_of(history: list[dict[str, Any]], event_type: str) -> list[dict[str, Any]]:
    return [e for e in history if e["event_type"] == event_type]


def chosen_by(history: list[dict[str, Any]], gateway: str) -> list[list[str]]:
    """The targets a gateway chose, once per time it was passed."""
    return [[c["target"] for c in e["data"]["chosen"]]
            for e in events_of(history, "gateway_decision") if e["data"]["element"] == gateway]


class Desk:
    """Drives one instance through the API as the demo users, asserting each step succeeds."""

    def __init__(self, client: TestClient, login: Callable[..., dict[str, str]]) -> None:
        self.client, self.login = client, login

    def start(self, username: str, key: str, variables: dict[str, Any], business_key: str | None = None) -> str:
        response = self.client.post("/api/instances", headers=self.login(username),
                                    json={"definition_key": key, "business_key": business_key,
                                          "variables": variables})
        assert response.status_code == 201, response.text
        return str(response.json()["instance_id"])

    def stage(self, username: str, filename: str = "发票.pdf", content: bytes = PDF) -> str:
        """Upload a file for a start form (an invoice by default) and answer its attachment id."""
        response = self.client.post("/api/attachments", headers=self.login(username),
                                    files={"file": (filename, content, "application/octet-stream")})
        assert response.status_code == 201, response.text
        return str(response.json()["attachment_id"])

    def queue(self, username: str, **params: Any) -> list[dict[str, Any]]:
        response = self.client.get("/api/tasks", headers=self.login(username), params=params)
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    def task_of(self, username: str, instance_id: str, element_id: str) -> dict[str, Any]:
        tasks = [t for t in self.queue(username) if t["instance_id"] == instance_id and t["element_id"] == element_id]
        assert len(tasks) == 1, f"{username} sees {[t['element_id'] for t in self.queue(username)]}"
        return tasks[0]

    def work(self, username: str, instance_id: str, element_id: str, data: dict[str, Any]) -> dict[str, Any]:
        task = self.task_of(username, instance_id, element_id)
        headers = self.login(username)
        if task["assignee"] != username:
            claimed = self.client.post(f"/api/tasks/{task['task_id']}/claim", headers=headers)
            assert claimed.status_code == 200, claimed.text
        done = self.client.post(f"/api/tasks/{task['task_id']}/complete", headers=headers, json={"data": data})
        assert done.status_code == 200, done.text
        return task

    def instance(self, instance_id: str, username: str = "admin") -> dict[str, Any]:
        response = self.client.get(f"/api/instances/{instance_id}", headers=self.login(username))
        assert response.status_code == 200, response.text
        return dict(response.json())

    def history(self, instance_id: str, username: str = "admin") -> list[dict[str, Any]]:
        response = self.client.get(f"/api/instances/{instance_id}/history", headers=self.login(username))
        assert response.status_code == 200, response.text
        return list(response.json())

    def queues(self) -> dict[str, list[str]]:
        """Every role's open queue, as element ids (only roles that have something)."""
        shown = {role: sorted(t["element_id"] for t in self.queue(role)) for role in ROLES}
        return {role: tasks for role, tasks in shown.items() if tasks}

    def waiting(self, instance_id: str) -> list[str]:
        return sorted(t["element_id"] for t in self.instance(instance_id)["waiting_tasks"])


# Demo users' tokens with the test-clock time they were issued: argon2 makes every login slow, and
# every test starts at the same frozen moment, so a token serves many tests until the clock moves on.
_DEMO_TOKENS: dict[str, tuple[datetime, dict[str, str]]] = {}


@pytest.fixture
def desk(client: TestClient, login: Callable[..., dict[str, str]], clock: FrozenClock,
         deployed_processes: list[dict[str, Any]]) -> Desk:
    def cached_login(username: str, password: str = "demo") -> dict[str, str]:
        if password != "demo":
            return login(username, password)
        issued = _DEMO_TOKENS.get(username)
        if issued is None or not timedelta(0) <= clock.now() - issued[0] < timedelta(hours=1):
            _DEMO_TOKENS[username] = (clock.now(), login(username))
        return _DEMO_TOKENS[username][1]

    return Desk(client, cached_login)
