"""`tixi serve --workers 2`: two server processes on one port and one database (issue 18's scale-out).

The parent binds the port and forks the servers; a server that dies is started again, and SIGTERM
to the parent stops them all. Run as a real subprocess on both databases.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from tests.conftest import DATABASES, free_port
from tests.robustness.live_server import live_database
from tests.robustness.test_crash import Process, _bearer

EXIT_BOUND = 60.0  # seconds; the servers exit about one grace period after SIGTERM


@pytest.fixture(params=DATABASES)
def served_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    with live_database(request.param, tmp_path) as engine:
        yield engine


def _children(pid: int) -> list[int]:
    return sorted(int(child) for path in Path(f"/proc/{pid}/task").glob("*/children")
                  for child in path.read_text().split())


def _startups(process: Process) -> int:
    return sum("Application startup complete" in line for line in process.lines)


def _queue_answers(base: str, requests: int) -> list[int]:
    """Status codes of `requests` queue reads sent eight at a time."""
    headers = _bearer("rcc_director")

    def read(_: int) -> int:
        with httpx.Client(base_url=base, timeout=30) as client:
            return client.get("/api/tasks", headers=headers).status_code

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(read, range(requests)))


def test_two_server_processes_share_the_port_survive_a_crash_and_stop_together(served_db: Engine) -> None:
    port = free_port()
    server = Process(["serve", "--host", "127.0.0.1", "--port", str(port), "--no-scheduler", "--workers", "2"],
                     served_db.url.render_as_string(hide_password=False))
    base = f"http://127.0.0.1:{port}"
    try:
        server.wait_for("from 2 processes")
        with server.changed:
            assert server.changed.wait_for(lambda: _startups(server) == 2, 60), "".join(server.lines[-30:])
        first = _children(server.popen.pid)
        assert len(first) == 2
        assert _queue_answers(base, 40) == [200] * 40

        os.kill(first[0], signal.SIGKILL)  # one server dies; the parent starts another in its place
        server.wait_for("starting it again")
        with server.changed:
            assert server.changed.wait_for(lambda: _startups(server) == 3, 60), "".join(server.lines[-30:])
        again = _children(server.popen.pid)
        assert len(again) == 2 and first[0] not in again and first[1] in again
        assert _queue_answers(base, 20) == [200] * 20

        server.popen.send_signal(signal.SIGTERM)
        assert server.popen.wait(timeout=EXIT_BOUND) == 0
        assert not any(Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text()
                       for pid in again)
    finally:
        if server.popen.poll() is None:
            server.kill()
