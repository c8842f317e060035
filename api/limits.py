"""Refuse oversize request bodies before they are read: by Content-Length, or while streaming.

Starlette spools a whole multipart upload before a route sees it, so a route-level size check
comes after the bytes have been received. This ASGI middleware answers 413 at once when the
declared length is too large, and stops reading a chunked body as soon as it passes the limit.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import PayloadTooLargeError, problem

# Multipart framing (boundaries, part headers) on top of the largest accepted file.
FRAMING_BYTES = 64 * 1024


class BodySizeLimit:
    def __init__(self, app: ASGIApp, *, max_upload_bytes: int) -> None:
        self.app, self.limit = app, max_upload_bytes + FRAMING_BYTES

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared, chunked = b"", False
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
            elif name == b"transfer-encoding":
                chunked = True
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        if not chunked:
            # The HTTP server delivers no more than Content-Length bytes (none without it), so the
            # body cannot outgrow the limit: no wrapping of receive and send for most requests.
            await self.app(scope, receive, send)
            return
        seen, exceeded, refused = 0, False, False

        async def limited_receive() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    exceeded = True
                    return {"type": "http.disconnect"}  # read no further; the app gives up on the body
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal refused
            if not exceeded:
                await send(message)
            elif not refused:  # whatever the app made of the cut-off body, the answer is 413
                refused = True
                await self._refuse(scope, receive, send)

        await self.app(scope, limited_receive, guarded_send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = PayloadTooLargeError(f"request body is larger than {self.limit} bytes", limit=self.limit)
        response = problem(413, error.code, error.title, error.detail, scope.get("path", ""), error.extras())
        await response(scope, receive, send)
