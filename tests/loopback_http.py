"""A JSON HTTP server on a free loopback port, for tests that need a real system on the other end.

The test gives one function that turns a request into an answer; the server runs it on its own
thread per request (so a handler may wait, as a hanging system does) and is shut down on exit.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    path: str
    headers: Any
    body: Any  # the decoded JSON body


# An answer is (status, JSON body), or None to close the connection without answering.
Answer = tuple[int, Any] | None


@contextmanager
def serving_json(answer: Callable[[Request], Answer]) -> Iterator[str]:
    """Serve `answer` on 127.0.0.1 and yield the base URL (no trailing slash)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (the standard library's name)
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            reply = answer(Request(self.path, self.headers, json.loads(raw) if raw else None))
            if reply is None:
                return
            status, body = reply
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
