"""Log in and out of the web app, and switch its language."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.auth import issue_token
from api.deps import CHECKED_INPUT, ClockDep, SessionDep, SettingsDep
from api.web import i18n
from api.web.pages import render
from api.web.session import close_session, csrf_matches, open_session
from engine.errors import AuthenticationError
from engine.identity import authenticate

router = APIRouter(include_in_schema=False, dependencies=CHECKED_INPUT)


def _local(url: str | None) -> str:
    """Only paths on this site are followed after login, never another host (an open redirect)."""
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return "/tasks"


@router.get("/login")
def login_page(request: Request, settings: SettingsDep, next: str = "/tasks") -> HTMLResponse:
    return render(request, "login.html", actor=None, next=_local(next), demo_users=settings.demo_users)


@router.post("/login", response_model=None)
def log_in(request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep,
           username: Annotated[str, Form(max_length=64)], password: Annotated[str, Form(max_length=200)],
           next: Annotated[str, Form(max_length=2000)] = "/tasks") -> HTMLResponse | RedirectResponse:
    try:
        with session.begin():
            actor = authenticate(session, username, password)
    except AuthenticationError:
        return render(request, "login.html", actor=None, status_code=401, failed=True, username=username,
                      next=_local(next), demo_users=settings.demo_users)
    response = RedirectResponse(_local(next), status_code=303)
    token = issue_token(actor.username, secret=settings.secret_key, now=clock.now(), minutes=settings.token_minutes)
    open_session(response, token, max_age=settings.token_minutes * 60, secure=request.url.scheme == "https")
    return response


@router.post("/logout")
def log_out(request: Request, csrf: Annotated[str, Form()] = "") -> RedirectResponse:
    response = RedirectResponse("/login", status_code=303)
    if csrf_matches(request, csrf):  # another site cannot log a user out either
        close_session(response)
    return response


@router.get("/lang/{code}")
def switch_language(code: str, next: str = "/tasks") -> RedirectResponse:
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(i18n.LANGUAGE_COOKIE, i18n.language_of(code), max_age=365 * 24 * 3600, samesite="lax")
    return response
