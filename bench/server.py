"""The live server for the HTTP benchmarks: `tixi serve` as a subprocess on a free loopback port,
and what /proc says about that process (CPU seconds, resident memory).
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import Engine

ROOT = Path(__file__).resolve().parent.parent
TIXI = Path(sys.executable).parent / "tixi"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Server:
    base_url: str
    pid: int

    def processes(self) -> list[int]:
        """The server process and, with `--workers`, the server processes it forked."""
        children = [int(pid) for path in Path(f"/proc/{self.pid}/task").glob("*/children")
                    for pid in path.read_text().split()]
        return [self.pid, *children]

    def cpu_seconds(self) -> float:
        """utime + stime of the server's processes, all their threads (fields 14 and 15 of /proc/<pid>/stat)."""
        total = 0
        for pid in self.processes():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / CLOCK_TICKS

    def rss_kib(self) -> int:
        """VmRSS of the server's processes together, in KiB."""
        return sum(_rss_kib(pid) for pid in self.processes())


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def database_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def live_server(engine: Engine, workers: int = 1) -> Iterator[Server]:
    """`tixi serve` (`--workers` server processes) on the (migrated) database of `engine` with the demo
    users, without the timer scheduler; up once /api/health answers, stopped (SIGTERM) after the block."""
    port = _free_port()
    env = {**os.environ, "TIXI_DATABASE_URL": database_url(engine), "TIXI_DEMO_USERS": "true",
           "TIXI_SECRET_KEY": secrets.token_urlsafe(32)}
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen([str(TIXI), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-scheduler",
                                    "--workers", str(workers)],
                                   env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_until_up(base_url, process, log)
            yield Server(base_url, process.pid)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_up(base_url: str, process: subprocess.Popen[bytes], log: tempfile._TemporaryFileWrapper[str]) -> None:
    deadline = time.monotonic() + 180  # a loaded machine: the demo users alone are argon2 hashes
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"tixi serve exited {process.returncode}:\n{log.read()[-3000:]}")
        try:
            if httpx.get(f"{base_url}/api/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("tixi serve did not answer /api/health within 180 s")
