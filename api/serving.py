"""`tixi serve`'s server: uvicorn, with a shutdown that stops workflow advances still in flight."""

from __future__ import annotations

import logging
import math
import os
import signal
import socket
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn
from fastapi import FastAPI

log = logging.getLogger(__name__)


def serve_until_stopped(app: FastAPI, *, host: str, port: int, grace_seconds: float, http: type[Any] | str = "auto",
                        limit_concurrency: int | None = None, access_log: bool = False,
                        sock: socket.socket | None = None) -> None:
    """Serve until SIGTERM or SIGINT; advances still running `grace_seconds` later are stopped.

    `http` is uvicorn's protocol (the header timeout's, api/header_timeout.py); past
    `limit_concurrency` open connections and requests uvicorn answers 503. `sock`: a listening
    socket bound by the parent of several server processes (serve_in_processes).
    """
    # uvicorn's own bound on the wait for requests in flight, past the moment their advances stop.
    config = _config(app, host=host, port=port, grace_seconds=grace_seconds, http=http,
                     limit_concurrency=limit_concurrency, access_log=access_log)
    _StoppingServer(config, app.state.stop_advances, grace_seconds).run(sockets=[sock] if sock else None)


def _config(app: Any, *, host: str, port: int, grace_seconds: float, http: type[Any] | str,
            limit_concurrency: int | None, access_log: bool) -> uvicorn.Config:
    # The access log is off unless asked for: a log line per request was 5-9 % of the server's CPU
    # (issue 18), and every change a request makes is in the audit history anyway.
    return uvicorn.Config(app, host=host, port=port, timeout_graceful_shutdown=math.ceil(grace_seconds) + 5,
                          http=http, limit_concurrency=limit_concurrency, access_log=access_log)


def serve_in_processes(build_app: Callable[[int], FastAPI], *, processes: int, host: str, port: int,
                       grace_seconds: float, http: type[Any] | str = "auto", limit_concurrency: int | None = None,
                       access_log: bool = False) -> None:
    """Serve from `processes` server processes sharing one listening socket, until SIGTERM or SIGINT.

    Python runs one request's Python at a time per process; on a machine with several CPUs more
    processes on one database serve more. The socket is bound here, once, and each child builds its
    own app (`build_app(index)`: its own database engine and workflow cache, nothing shared across
    the fork). A child that dies is started again; a signal to this process goes to every child,
    each of which stops as `serve_until_stopped` does.
    """
    config = _config(None, host=host, port=port, grace_seconds=grace_seconds, http=http,
                     limit_concurrency=limit_concurrency, access_log=access_log)
    sock = config.bind_socket()
    children: dict[int, int] = {}  # pid -> index
    stopping = threading.Event()

    def start(index: int) -> None:
        pid = os.fork()
        if pid == 0:  # the child: default signal handling until uvicorn installs its own
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            code = 0
            try:
                serve_until_stopped(build_app(index), host=host, port=port, grace_seconds=grace_seconds, http=http,
                                    limit_concurrency=limit_concurrency, access_log=access_log, sock=sock)
            except BaseException:  # a child must never return into the parent's code
                log.exception("server process %d failed", index)
                code = 1
            os._exit(code)
        children[pid] = index

    def forward(sig: int, _frame: FrameType | None) -> None:
        stopping.set()
        for pid in list(children):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for index in range(processes):
        start(index)
    log.info("serving on http://%s:%d from %d processes", host, port, processes)
    while children:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        except InterruptedError:
            continue
        if pid not in children:
            continue
        index = children.pop(pid)
        if not stopping.is_set():
            log.error("server process %d (pid %d) ended with status %d; starting it again", index, pid, status)
            start(index)
    sock.close()


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
