"""Fixtures the hostile-input tests share."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import TEST_PROCESSES


@pytest.fixture
def claimed_review(client: TestClient, login: Callable[..., dict[str, str]],
                   deploy_file: Callable[..., Any]) -> Iterator[dict[str, str]]:
    """A started two-step review whose review task the director has claimed: ids of both."""
    deploy_file(TEST_PROCESSES / "two_step_review.bpmn")
    started = client.post("/api/instances", headers=login("outlet"),
                          json={"definition_key": "two_step_review", "variables": {"days": 3}})
    assert started.status_code == 201, started.text
    task_id = started.json()["waiting_tasks"][0]["task_id"]
    assert client.post(f"/api/tasks/{task_id}/claim", headers=login("rcc_director")).status_code == 200
    yield {"instance_id": started.json()["instance_id"], "task_id": task_id}
