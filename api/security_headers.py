"""Security headers on every answer: pages, API, stored files, static files and errors alike.

A plain ASGI wrapper placed outside every other layer (see `api.app.TixiApp`), so it also sees the
500s that Starlette's outermost error middleware writes, the 404s of the router and /static, and
the 401/422 problems of exception handlers.

Two policies: our own pages load scripts, styles, fonts and images from Tixi only and are never
framed; anything else (JSON, problem+json, a stored BPMN file, a script) is not a document to
render, so if a browser is ever made to open one as a page it gets no scripts, no plugins and a
sandbox.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PAGE_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    # No inline script anywhere, but the libraries write styles at run time: dmn-js's FEEL editor
    # (CodeMirror) adds <style> elements, JSON Editor and dmn-js set style attributes. A style
    # cannot run code; allowing inline ones is the accepted trade for these libraries.
    "style-src 'self' 'unsafe-inline'",
    # The favicon is `data:,`; bpmn-js's and dmn-js's icon fonts are embedded as data: URLs.
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
DATA_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; sandbox"

COMMON_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    # Full URLs (task and instance ids) stay inside Tixi; the page's own POSTs keep their Origin.
    "referrer-policy": "same-origin",
}


def policy_for(content_type: str) -> str:
    return PAGE_POLICY if content_type.split(";")[0].strip().lower() == "text/html" else DATA_POLICY


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in COMMON_HEADERS.items():
                    headers[name] = value
                # A route that knows better (the API docs page, with its own script hashes) keeps its own.
                if "content-security-policy" not in headers:
                    headers["content-security-policy"] = policy_for(headers.get("content-type", ""))
            await send(message)

        await self.app(scope, receive, send_with_headers)
