"""Request dependencies as `Annotated` aliases; tests replace them via `app.dependency_overrides`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from api.actors import ActorCache
from api.auth import TokenClaims
from api.login_guard import LoginGuard
from api.schemas import unstorable_text
from api.service_account_auth import BASIC_HINT, actor_for_basic
from api.settings import Settings
from api.web.session import web_session_token
from engine.catalog import FormCatalog
from engine.clock import Clock
from engine.db import reading
from engine.errors import AuthenticationError, ValidationError
from engine.identity import Actor, find_token_holder

_bearer = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session for the request, bound to the engine: a connection is checked out per transaction.

    It is made and closed on the event loop, with no thread hand-off, because neither touches
    the database: a session holds a connection only inside `session.begin()` (or `reading`), and the pool pings
    only a connection that sat idle (engine/db.py). A request whose actor is kept (api/actors.py)
    checks out one connection, for the route's transaction (a read's: `engine.db.reading`) only.
    A session still in a transaction at the end (a route that read without `begin`) rolls it back
    in a worker thread, since that is a round trip.
    """
    factory: sessionmaker[Session] = request.app.state.session_factory
    session = factory()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


# The dependencies below do no I/O, so they are `async def`: FastAPI runs a plain `def` dependency
# in its thread pool, a hand-over each way per dependency and request.
async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def get_catalog(request: Request) -> FormCatalog:
    catalog: FormCatalog = request.app.state.catalog
    return catalog


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_login_guard(request: Request) -> LoginGuard:
    guard: LoginGuard = request.app.state.login_guard
    return guard


def client_address(request: Request) -> str:
    """The caller's address as the server saw it (uvicorn puts a trusted proxy's X-Forwarded-For here)."""
    return request.client.host if request.client else "unknown"


SessionDep = Annotated[Session, Depends(get_session)]
LoginGuardDep = Annotated[LoginGuard, Depends(get_login_guard)]
ClockDep = Annotated[Clock, Depends(get_clock)]
CatalogDep = Annotated[FormCatalog, Depends(get_catalog)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_actor(request: Request, session: SessionDep, token: Annotated[str | None, Depends(_bearer)]) -> Actor:
    """The person behind the bearer token, with their groups as they are now, or a service account.

    The web app's pages call the same API with the session cookie instead of a bearer header;
    machines (workers, the hotline) send a service account's key by HTTP basic auth
    (api/service_account_auth.py). The person's actor is kept for a few seconds (`api.actors`): a
    user disabled through this server is out at once, one disabled by another process within
    TIXI_ACTOR_CACHE_SECONDS. A token whose generation is not the user's (a logout, a password
    change or reset, disabling since) is refused.

    The token's check and the kept actor are CPU only, so they run on the event loop; only a
    look-up in the database goes to a worker thread (a `def` dependency would hand every request
    to the thread pool and back). The clock and the checked tokens are read from the app's state,
    not as dependencies of their own: each dependency costs every request its resolution.
    """
    if token is None:
        scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic":
            return await run_in_threadpool(actor_for_basic, request, session, credentials)
    claims, now, kept = _claims_and_kept_actor(request, token)
    if kept is not None:
        return kept
    return await run_in_threadpool(_look_up_actor, request, session, claims, now)


def _claims_and_kept_actor(request: Request, token: str | None) -> tuple[TokenClaims, datetime, Actor | None]:
    """The token's claims, the time they were checked at, and the kept actor when it still counts."""
    if not token:
        token = web_session_token(request)
    if not token:
        raise AuthenticationError("log in first: send 'Authorization: Bearer <token>' from POST /api/auth/token, "
                                  f"or {BASIC_HINT}")
    state = request.app.state
    now = state.clock.now()
    claims = state.checked_tokens.read(token, now)
    actors: ActorCache = request.app.state.actor_cache
    holder = actors.find(claims.username, now)
    # A token of another generation than the kept one's is checked against the database: it may be
    # newer (a login after a logout on another server), and a refusal is never kept.
    if holder is None or holder.token_generation != claims.generation:
        return claims, now, None
    return claims, now, holder.actor


def _look_up_actor(request: Request, session: Session, claims: TokenClaims, now: datetime) -> Actor:
    actors: ActorCache = request.app.state.actor_cache
    generation = actors.generation
    with reading(session):
        holder = find_token_holder(session, claims.username)
    if holder is None:
        raise AuthenticationError("the user of this token is unknown or disabled")
    actors.keep(holder, now, generation=generation)
    if holder.token_generation != claims.generation:
        raise AuthenticationError("this token was ended (a logout, a password change or reset, or the account was "
                                  "disabled); log in again")
    return holder.actor


async def get_actor_cache(request: Request) -> ActorCache:
    actors: ActorCache = request.app.state.actor_cache
    return actors


ActorDep = Annotated[Actor, Depends(get_actor)]
ActorCacheDep = Annotated[ActorCache, Depends(get_actor_cache)]


async def storable_parameters(request: Request) -> None:
    """Refuse path and query values no database can store (NUL, lone surrogates) before any query sees them."""
    for params in (request.path_params, request.query_params):
        for name, value in params.items():
            found = unstorable_text(value, name)
            if found:
                raise ValidationError(f"{found[0]} {found[1]}", field=found[0])


CHECKED_INPUT = [Depends(storable_parameters)]
