"""Log in and out of the web app, the account page (change one's password), and the language switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.auth import issue_token, read_token
from api.deps import CHECKED_INPUT, ActorCacheDep, ClockDep, LoginGuardDep, SessionDep, SettingsDep, client_address
from api.problems import status_of
from api.routing import api_router
from api.web import i18n
from api.web.pages import PageActor, render
from api.web.session import SESSION_COOKIE, close_session, csrf_matches, open_session
from engine import sessions
from engine.db import reading
from engine.errors import AuthenticationError, ServiceError
from engine.identity import find_token_holder
from engine.notifications import centre
from engine.notifications.kinds import EventKind

router = api_router(include_in_schema=False, dependencies=CHECKED_INPUT)


def _local(url: str | None) -> str:
    """Only paths on this site are followed after login, never another host (an open redirect)."""
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return "/tasks"


@router.get("/login")
def login_page(request: Request, settings: SettingsDep, next: str = "/tasks") -> HTMLResponse:
    return render(request, "login.html", actor=None, next=_local(next), demo_users=settings.demo_users)


# `async`, and no SessionDep: as POST /api/auth/token, no pooled connection is held while hashing.
@router.post("/login", response_model=None)
async def log_in(request: Request, guard: LoginGuardDep, clock: ClockDep, settings: SettingsDep,
                 username: Annotated[str, Form(max_length=64)], password: Annotated[str, Form(max_length=200)],
                 next: Annotated[str, Form(max_length=2000)] = "/tasks") -> HTMLResponse | RedirectResponse:
    try:
        record = await guard.check_password(username, password, address=client_address(request))
    except AuthenticationError:
        return render(request, "login.html", actor=None, status_code=401, failed=True, username=username,
                      next=_local(next), demo_users=settings.demo_users)
    except ServiceError as refused:  # locked out, throttled or busy: the detail says until when
        page = render(request, "login.html", actor=None, status_code=status_of(refused), refused=refused.detail,
                      username=username, next=_local(next), demo_users=settings.demo_users)
        page.headers["Retry-After"] = str(refused.extras().get("retry_after_seconds", 1))
        return page
    response = RedirectResponse(_local(next), status_code=303)
    token = issue_token(record.username, generation=record.token_generation, secret=settings.secret_key,
                        now=clock.now(), minutes=settings.token_minutes)
    open_session(response, token, max_age=settings.token_minutes * 60, secure=request.url.scheme == "https")
    return response


@router.post("/logout")
def log_out(request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep, actors: ActorCacheDep,
            csrf: Annotated[str, Form()] = "") -> RedirectResponse:
    """The page's script logs out through POST /api/auth/logout; this is the same for a browser without it."""
    response = RedirectResponse("/login", status_code=303)
    if not csrf_matches(request, csrf):  # another site cannot log a user out either
        return response
    try:
        claims = read_token(request.cookies.get(SESSION_COOKIE, ""), secret=settings.secret_key, now=clock.now())
    except AuthenticationError:
        claims = None
    if claims is not None:
        with session.begin():
            holder = find_token_holder(session, claims.username)
            if holder is not None and holder.token_generation == claims.generation:
                sessions.end_sessions(session, clock, actor=holder.actor, reason="logout")
        actors.forget(claims.username)
    close_session(response)
    return response


@router.get("/account")
def account_page(request: Request, session: SessionDep, actor: PageActor, changed: bool = False) -> HTMLResponse:
    with reading(session):
        preferences = centre.get_preferences(session, username=actor.username)
    return render(request, "account.html", actor=actor, section="account", changed=changed, preferences=preferences,
                  digest_kinds=[kind.value for kind in EventKind])


@router.get("/lang/{code}")
def switch_language(code: str, next: str = "/tasks") -> RedirectResponse:
    response = RedirectResponse(_local(next), status_code=303)
    response.set_cookie(i18n.LANGUAGE_COOKIE, i18n.language_of(code), max_age=365 * 24 * 3600, samesite="lax")
    return response
