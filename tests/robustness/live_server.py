"""A real `tixi serve` subprocess on a loopback port, on a throw-away SQLite file or PostgreSQL database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine

from tests.conftest import free_port, migrated_database
from tests.robustness.test_crash import Process


@contextmanager
def live_database(kind: str, tmp_path: Path) -> Iterator[Engine]:
    with migrated_database(kind, tmp_path, "tixi_live") as engine:
        yield engine


class LiveServer(Process):
    """`tixi serve --no-scheduler` with extra TIXI_* settings; `base` is its URL once started."""

    def __init__(self, engine: Engine, settings: dict[str, str]) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        saved = {name: os.environ.get(name) for name in settings}
        os.environ.update(settings)  # Process passes the environment on to the server
        try:
            super().__init__(["serve", "--host", "127.0.0.1", "--port", str(self.port), "--no-scheduler"],
                             engine.url.render_as_string(hide_password=False))
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        self.wait_for("Application startup complete")

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.kill()
