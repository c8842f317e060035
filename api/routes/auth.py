from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.auth import issue_token
from api.deps import (
    CHECKED_INPUT,
    ActorCacheDep,
    ActorDep,
    ClockDep,
    LoginGuardDep,
    SessionDep,
    SettingsDep,
    client_address,
)
from api.problems import responses
from api.routing import api_router
from api.schemas import MeOut, PasswordChangeIn, TokenOut
from api.settings import Settings
from api.web.session import close_session, open_session, uses_web_session
from engine import sessions
from engine.clock import Clock
from engine.errors import AuthenticationError, ValidationError
from engine.identity import Actor
from engine.passwords import check_new_password

router = api_router(prefix="/api/auth", tags=["auth"], responses=responses(400, 401, 422), dependencies=CHECKED_INPUT)


def _token(username: str, generation: int, clock: Clock, settings: Settings) -> TokenOut:
    token = issue_token(username, generation=generation, secret=settings.secret_key, now=clock.now(),
                        minutes=settings.token_minutes)
    return TokenOut(access_token=token, expires_in=settings.token_minutes * 60)


# `async`, and no SessionDep: a login must hold no pooled connection while its password is hashed.
@router.post("/token", summary="Log in (OAuth2 password flow)", responses=responses(429))
async def login(form: Annotated[OAuth2PasswordRequestForm, Depends()], request: Request, guard: LoginGuardDep,
                clock: ClockDep, settings: SettingsDep) -> TokenOut:
    record = await guard.check_password(form.username, form.password, address=client_address(request))
    return _token(record.username, record.token_generation, clock, settings)


@router.post("/logout", status_code=204, summary="End every token of the caller (all their sessions)")
def logout(session: SessionDep, clock: ClockDep, actor: ActorDep, actors: ActorCacheDep) -> Response:
    with session.begin():
        sessions.end_sessions(session, clock, actor=actor, reason="logout")
    actors.forget(actor.username)  # after the commit, so the ended token is refused from the next request on
    response = Response(status_code=204)
    close_session(response)
    return response


@router.post("/password", summary="Change one's own password; ends the caller's other tokens",
             responses=responses(429))
async def change_password(body: PasswordChangeIn, request: Request, response: Response, session: SessionDep,
                          clock: ClockDep, settings: SettingsDep, actor: ActorDep, actors: ActorCacheDep,
                          guard: LoginGuardDep) -> TokenOut:
    """The answer holds a new token (and, for the web app, a new session cookie): the old ones are ended."""
    check_new_password(body.new_password)
    try:
        record = await guard.check_password(actor.username, body.current_password, address=client_address(request))
    except AuthenticationError:
        raise ValidationError("the current password is wrong; enter the one you log in with",
                              field="current_password") from None
    new_hash = await guard.hash(body.new_password)
    generation = await run_in_threadpool(_store_password, session, clock, actor, new_hash, record.token_generation)
    actors.forget(actor.username)
    token = _token(actor.username, generation, clock, settings)
    if uses_web_session(request):
        open_session(response, token.access_token, max_age=token.expires_in, secure=request.url.scheme == "https")
    return token


def _store_password(session: Session, clock: Clock, actor: Actor, password_hash: str, generation: int) -> int:
    with session.begin():
        return sessions.change_own_password(session, clock, actor=actor, password_hash=password_hash,
                                            checked_generation=generation)


@router.get("/me", summary="Who the token belongs to")
def me(actor: ActorDep) -> MeOut:
    return MeOut(username=actor.username, groups=sorted(actor.groups))
