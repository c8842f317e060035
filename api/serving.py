"""`tixi serve`'s server: uvicorn, with a shutdown that stops workflow advances still in flight."""

from __future__ import annotations

import math
import threading
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI


def serve_until_stopped(app: FastAPI, *, host: str, port: int, grace_seconds: float, http: type[Any] | str = "auto",
                        limit_concurrency: int | None = None) -> None:
    """Serve until SIGTERM or SIGINT; advances still running `grace_seconds` later are stopped.

    `http` is uvicorn's protocol (the header timeout's, api/header_timeout.py); past
    `limit_concurrency` open connections and requests uvicorn answers 503.
    """
    # uvicorn's own bound on the wait for requests in flight, past the moment their advances stop.
    config = uvicorn.Config(app, host=host, port=port, timeout_graceful_shutdown=math.ceil(grace_seconds) + 5,
                            http=http, limit_concurrency=limit_concurrency)
    _StoppingServer(config, app.state.stop_advances, grace_seconds).run()


class _StoppingServer(uvicorn.Server):
    """A uvicorn server that, asked to exit, stops the workflow advances still running after a grace period.

    uvicorn waits for requests in flight before it exits, and a request deep in a long advance
    kept `tixi serve` up after SIGTERM. Requests that finish within the grace period finish; an
    advance still running then stops at its next budget check, its transaction rolls back (the
    instance is as it was before the request) and the client gets 503.
    """

    def __init__(self, config: uvicorn.Config, stop_advances: threading.Event, grace_seconds: float) -> None:
        super().__init__(config)
        self._stop_advances, self._grace_seconds = stop_advances, grace_seconds

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if not self.should_exit:
            timer = threading.Timer(self._grace_seconds, self._stop_advances.set)
            timer.daemon = True
            timer.start()
        super().handle_exit(sig, frame)
