"""A deadline for a request's headers, which uvicorn lacks (slowloris, issue 13 finding 16).

uvicorn's `timeout_keep_alive` covers only the idle time after a response, and every byte received
cancels it; nothing limits a new connection that sends nothing, or a header trickled a byte at a
time, so such clients hold their sockets for ever. An ASGI middleware cannot help: the app is first
called once the headers are complete. So this subclass of uvicorn's httptools protocol arms a timer
whenever the connection waits for a request (on connect, and after a response when nothing is
pipelined) and disarms it when the headers are complete; if it fires, the connection is closed.
A slow body is not covered here: the app is running by then and reads it under its own limits.

This leans on four methods of uvicorn's protocol (connection_made, on_headers_complete,
on_response_complete, connection_lost); tests/api/test_slow_clients.py drives a real `tixi serve`
and fails if uvicorn changes under them.
"""

from __future__ import annotations

import asyncio
import logging

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)


class HeaderTimeoutProtocol(HttpToolsProtocol):
    header_timeout: float = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._disarm_header_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        # A pipelined request already has its headers; only an empty pipeline waits for new ones.
        waiting = not self.pipeline
        super().on_response_complete()
        if waiting and not self.transport.is_closing():
            self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            log.info("closed a connection from %s: no complete request headers within %s s", self.client,
                     self.header_timeout)
            self.transport.close()


def header_timeout_protocol(seconds: float) -> type[asyncio.Protocol]:
    """The protocol class for `uvicorn.run(http=...)`, with this deadline for headers."""

    class _Protocol(HeaderTimeoutProtocol):
        header_timeout = seconds

    return _Protocol
