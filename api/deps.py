"""Request dependencies as `Annotated` aliases; tests replace them via `app.dependency_overrides`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session, sessionmaker

from api.actors import ActorCache
from api.auth import read_token
from api.login_guard import LoginGuard
from api.schemas import unstorable_text
from api.settings import Settings
from api.web.session import web_session_token
from engine.catalog import FormCatalog
from engine.clock import Clock
from engine.errors import AuthenticationError, ValidationError
from engine.identity import Actor, find_token_holder

_bearer = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)


def get_session(request: Request) -> Iterator[Session]:
    """A session on one connection for the whole request.

    A request runs two transactions or more (the actor's look-up, then the route's); bound to the
    engine, the session would check a connection out of the pool for each, and pay the pool's
    pre-ping (a round trip) every time.
    """
    factory: sessionmaker[Session] = request.app.state.session_factory
    with factory.kw["bind"].connect() as connection, factory(bind=connection) as session:
        yield session


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


def get_actor(
    request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep,
    token: Annotated[str | None, Depends(_bearer)],
) -> Actor:
    """The person behind the bearer token, with their groups as they are now.

    The web app's pages call the same API with the session cookie instead of a bearer header. The
    actor is kept for a few seconds (`api.actors`): a user disabled through this server is out at
    once, one disabled by another process within TIXI_ACTOR_CACHE_SECONDS. A token whose generation
    is not the user's (a logout, a password change or reset, disabling since) is refused.
    """
    if not token:
        token = web_session_token(request)
    if not token:
        raise AuthenticationError("log in first: send 'Authorization: Bearer <token>' from POST /api/auth/token")
    now = clock.now()
    claims = read_token(token, secret=settings.secret_key, now=now)
    actors: ActorCache = request.app.state.actor_cache
    holder = actors.find(claims.username, now)
    # A token of another generation than the kept one's is checked against the database: it may be
    # newer (a login after a logout on another server), and a refusal is never kept.
    if holder is None or holder.token_generation != claims.generation:
        generation = actors.generation
        with session.begin():
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
