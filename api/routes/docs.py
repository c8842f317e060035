"""The interactive API documentation (Swagger UI at /docs), under a policy of its own.

Swagger UI loads from a CDN and starts from inline scripts, which the pages' policy forbids. Rather
than 'unsafe-inline', each answer names the CDN and the hashes of exactly the scripts it carries.
Its styles stay 'unsafe-inline' (the React UI sets style attributes); a style cannot run code.
ReDoc is turned off (`redoc_url=None` in the app): one documentation page is enough.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse

CDN = "https://cdn.jsdelivr.net"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)

router = APIRouter(include_in_schema=False)


def docs_policy(html: str) -> str:
    """A CSP allowing the CDN and this page's own inline scripts, nothing else."""
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
                      for s in _INLINE_SCRIPT.findall(html))
    return (f"default-src 'self'; script-src 'self' {CDN} {hashes}; style-src 'self' {CDN} 'unsafe-inline'; "
            f"img-src 'self' data: https://fastapi.tiangolo.com; connect-src 'self'; object-src 'none'; "
            f"base-uri 'none'; frame-ancestors 'none'")


def _with_policy(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = docs_policy(bytes(page.body).decode("utf-8"))
    return page


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return _with_policy(get_swagger_ui_html(openapi_url=f"{root}{request.app.openapi_url}",
                                            title=f"{request.app.title} - Swagger UI",
                                            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT}"))


@router.get(OAUTH2_REDIRECT)
def swagger_ui_redirect() -> HTMLResponse:
    return _with_policy(get_swagger_ui_oauth2_redirect_html())
