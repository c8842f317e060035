"""The web app's login session: the API's own signed token, kept in an HttpOnly cookie.

Pages read with the cookie; their scripts write through the JSON API with the same cookie plus a
CSRF token (double submit: a second, script-readable cookie echoed in the X-CSRF-Token header).
Both cookies are SameSite=Strict, so another site can neither send them nor read the token.
"""

from __future__ import annotations

import secrets
from hmac import compare_digest

from fastapi import Request, Response

from engine.errors import AuthenticationError

SESSION_COOKIE = "tixi_session"
CSRF_COOKIE = "tixi_csrf"
CSRF_HEADER = "X-CSRF-Token"
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def web_session_token(request: Request) -> str | None:
    """The session cookie's token, if any; a writing request must also prove it comes from Tixi's own page."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    if request.method not in _SAFE_METHODS and not csrf_matches(request, request.headers.get(CSRF_HEADER)):
        raise AuthenticationError(f"a request with the session cookie must send the {CSRF_HEADER} header "
                                  f"holding the {CSRF_COOKIE} cookie's value")
    return token


def uses_web_session(request: Request) -> bool:
    """Whether the request was authenticated by the session cookie rather than a bearer header."""
    return not request.headers.get("Authorization") and bool(request.cookies.get(SESSION_COOKIE))


def csrf_matches(request: Request, presented: str | None) -> bool:
    expected = request.cookies.get(CSRF_COOKIE)
    return bool(expected and presented and compare_digest(expected, presented))


def open_session(response: Response, token: str, *, max_age: int, secure: bool) -> None:
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite="strict", secure=secure)
    response.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(32), max_age=max_age, httponly=False, samesite="strict",
                        secure=secure)


def close_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
