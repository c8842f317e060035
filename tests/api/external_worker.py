"""A real HTTP server for Camunda's external-task client: uvicorn on a loopback port, in this process.

In-process so the server shares the test's database (both dialects) and its frozen clock: lock
expiry and retry timeouts are reached by moving the clock, never by waiting.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from camunda.external_task.external_task import ExternalTask, TaskResult
from camunda.external_task.external_task_worker import ExternalTaskWorker, NoExternalTaskFound
from fastapi import FastAPI

from tests.conftest import free_port

# The client logs every poll at INFO; a load test would drown the output.
logging.getLogger("camunda").setLevel(logging.WARNING)


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """`app` served by uvicorn on a free loopback port until the block ends; yields the /engine-rest URL.

    The test client already ran the app's start-up; uvicorn runs none of its own (lifespan off).
    """
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        thread.join(0.01)  # waits for start-up, not for behaviour under test
        assert thread.is_alive(), "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}/engine-rest"
    finally:
        server.should_exit = True
        thread.join(30)


def worker(base_url: str, worker_id: str, name: str, key: str, **config: Any) -> ExternalTaskWorker:
    """The client's worker with a service account's basic auth; no long polling unless asked for."""
    return ExternalTaskWorker(worker_id=worker_id, base_url=base_url, config={
        "auth_basic": {"username": name, "password": key}, "maxTasks": 1, "lockDuration": 60_000,
        "asyncResponseTimeout": 0, "retries": 3, "retryTimeout": 5_000, "sleepSeconds": 0, **config})


def run_once(task_worker: ExternalTaskWorker, topics: str | list[str],
             action: Callable[[ExternalTask], TaskResult]) -> bool:
    """Fetch and execute one batch as the client's own loop does; False when nothing was there."""
    try:
        task_worker.fetch_and_execute(topics, action)
    except NoExternalTaskFound:
        return False
    return True
