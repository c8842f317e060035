"""The interactive API documentation (Swagger UI at /docs, ReDoc at /redoc), under a policy of its own.

Both load their scripts from this server (`/static/vendor`, copied from npm by `make web`), so they
read without internet access. Swagger UI starts from inline scripts, which the pages' policy forbids:
rather than 'unsafe-inline', each answer names the hashes of exactly the scripts it carries. Styles
stay 'unsafe-inline' (both UIs set style attributes; ReDoc writes its styles at run time); a style
cannot run code. ReDoc runs its search in a worker it makes from a blob.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse

from api.routing import api_router

VENDOR = "/static/vendor"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)

router = api_router(include_in_schema=False)


def docs_policy(html: str) -> str:
    """A CSP allowing this server's scripts and this page's own inline scripts, nothing else."""
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
                      for s in _INLINE_SCRIPT.findall(html))
    return (f"default-src 'self'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' data:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'; "
            f"object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


def _with_policy(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = docs_policy(bytes(page.body).decode("utf-8"))
    return page


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return _with_policy(get_swagger_ui_html(openapi_url=f"{root}{request.app.openapi_url}",
                                            title=f"{request.app.title} - Swagger UI",
                                            oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT}",
                                            swagger_js_url=f"{root}{VENDOR}/swagger-ui-bundle.js",
                                            swagger_css_url=f"{root}{VENDOR}/swagger-ui.css",
                                            swagger_favicon_url="data:,"))


@router.get(OAUTH2_REDIRECT)
def swagger_ui_redirect() -> HTMLResponse:
    return _with_policy(get_swagger_ui_oauth2_redirect_html())


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return _with_policy(get_redoc_html(openapi_url=f"{root}{request.app.openapi_url}",
                                       title=f"{request.app.title} - ReDoc",
                                       redoc_js_url=f"{root}{VENDOR}/redoc.standalone.js",
                                       redoc_favicon_url="data:,", with_google_fonts=False))
