"""Slow clients against a real `tixi serve` on a loopback port (issue 13, finding 16).

A client that trickles its headers (slowloris) or sends nothing at all is dropped once the header
deadline passes, while other clients keep being served. The server runs as an operator starts it,
a subprocess of `python -m api.cli serve`, with a one-second deadline so the test stays short.
Waiting is done by the sockets themselves (a receive with a timeout paces the trickle), not sleep().
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from engine.db import make_engine
from engine.migrations import upgrade_to_head
from tests.conftest import ROOT, free_port

HEADER_TIMEOUT = 1.0
SLACK = 1.5  # the event loop's timer and the process's scheduling on a busy machine



@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    database = tmp_path_factory.mktemp("serve") / "tixi.db"
    engine = make_engine(f"sqlite:///{database}")
    upgrade_to_head(engine)
    engine.dispose()
    port = free_port()
    env = {**os.environ, "TIXI_DATABASE_URL": f"sqlite:///{database}", "TIXI_SECRET_KEY": "slow-client-test-key-0123456789",
           "TIXI_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT), "TIXI_DEMO_USERS": "false"}
    process = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--no-scheduler"],
                               cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    seen = []
    for line in process.stderr:  # blocks until uvicorn says it listens, or the process ends
        seen.append(line)
        if "Uvicorn running on" in line:
            break
    else:
        pytest.fail("tixi serve did not start:\n" + "".join(seen))
    yield port
    process.terminate()
    process.wait(timeout=15)


def _health(port: int) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/api/health")
        return connection.getresponse().status
    finally:
        connection.close()


def _closed_by_server(client: socket.socket, pace: float) -> bool:
    """Wait up to `pace` seconds for the server to close; True if it did."""
    client.settimeout(pace)
    try:
        return client.recv(1024) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_a_client_trickling_its_headers_is_dropped_and_others_are_served(server: int) -> None:
    slow = socket.create_connection(("127.0.0.1", server))
    opened = time.monotonic()
    slow.sendall(b"GET /api/health HTTP/1.1\r\nHost: tixi\r\n")
    trickle, served_meanwhile, closed = iter(b"X-Slow: " + b"a" * 10_000), [], False
    while time.monotonic() - opened < HEADER_TIMEOUT * 5:
        slow.sendall(bytes([next(trickle)]))
        if not served_meanwhile:
            served_meanwhile.append(_health(server))
        if closed := _closed_by_server(slow, 0.1):
            break
    held = time.monotonic() - opened
    slow.close()
    assert closed, f"the slow client was still connected after {held:.1f} s"
    assert HEADER_TIMEOUT - 0.2 <= held <= HEADER_TIMEOUT + SLACK, held
    assert served_meanwhile == [200]
    assert _health(server) == 200


def test_a_client_that_sends_nothing_is_dropped(server: int) -> None:
    idle = socket.create_connection(("127.0.0.1", server))
    opened = time.monotonic()
    closed = _closed_by_server(idle, HEADER_TIMEOUT * 5)
    held = time.monotonic() - opened
    idle.close()
    assert closed and held <= HEADER_TIMEOUT + SLACK, held


def test_a_kept_alive_connection_gets_the_deadline_for_its_next_request_too(server: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server, timeout=5)
    connection.request("GET", "/api/health")
    assert connection.getresponse().read() == b'{"status":"ok"}'
    assert connection.sock is not None
    kept = connection.sock
    kept.sendall(b"GET /api/health HTTP/1.1\r\nHost: tixi\r\n")  # the second request's headers never end
    opened, closed = time.monotonic(), False
    while not closed and time.monotonic() - opened < HEADER_TIMEOUT * 5:
        kept.sendall(b"a")
        closed = _closed_by_server(kept, 0.1)
    held = time.monotonic() - opened
    connection.close()
    assert closed and held <= HEADER_TIMEOUT + SLACK, held


def test_the_protocol_hooks_the_timer_relies_on_still_exist() -> None:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    for hook in ("connection_made", "on_headers_complete", "on_response_complete", "connection_lost"):
        assert hook in vars(HttpToolsProtocol), hook
