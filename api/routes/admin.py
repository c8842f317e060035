from __future__ import annotations

from typing import Any

from api.deps import CHECKED_INPUT, ActorCacheDep, ActorDep, CatalogDep, ClockDep, SessionDep
from api.problems import API_ERRORS
from api.routing import api_router
from api.schemas import GroupCreateIn, GroupOut, UserCreateIn, UserOut, UserUpdateIn
from engine import identity, logins
from engine.db import reading
from engine.permissions import Permission, require

router = api_router(prefix="/api", tags=["users and groups"], responses=API_ERRORS, dependencies=CHECKED_INPUT)


@router.get("/users", summary="All users (admins)")
def list_users(session: SessionDep, actor: ActorDep) -> list[UserOut]:
    require(actor, Permission.ADMINISTER)
    with reading(session):
        return [UserOut.of(u) for u in identity.list_users(session)]


@router.post("/users", status_code=201, summary="Create a user (admins)")
def create_user(body: UserCreateIn, session: SessionDep, clock: ClockDep, actor: ActorDep) -> UserOut:
    require(actor, Permission.ADMINISTER)
    with session.begin():
        return UserOut.of(identity.add_user(session, clock, actor=actor, username=body.username,
                                            password=body.password, display_name=body.display_name,
                                            groups=body.groups, outlet_code=body.outlet_code,
                                            region_code=body.region_code))


@router.patch("/users/{username}", summary="Rename, disable, reset password, change groups (admins)")
def update_user(username: str, body: UserUpdateIn, session: SessionDep, clock: ClockDep, actor: ActorDep,
                actors: ActorCacheDep) -> UserOut:
    require(actor, Permission.ADMINISTER)
    with session.begin():
        user = identity.update_user(session, clock, actor=actor, username=username,
                                    display_name=body.display_name, is_active=body.is_active,
                                    password=body.password, groups=body.groups, outlet_code=body.outlet_code,
                                    region_code=body.region_code)
    actors.forget(username)  # after the commit: a request in between reads the change, not the kept actor
    return UserOut.of(user)


@router.post("/users/{username}/unlock", summary="Clear a user's login lock-out and failure count (admins)")
def unlock_user(username: str, session: SessionDep, clock: ClockDep, actor: ActorDep) -> UserOut:
    require(actor, Permission.ADMINISTER)
    with session.begin():
        logins.unlock_user(session, clock, actor=actor, username=username)
        return UserOut.of(identity.user_info(session, username))


@router.get("/groups", summary="All groups with their member counts")
def list_groups(session: SessionDep, actor: ActorDep) -> list[GroupOut]:
    with reading(session):
        return [GroupOut.of(g) for g in identity.list_groups(session)]


@router.post("/groups", status_code=201, summary="Create a group (admins)")
def create_group(body: GroupCreateIn, session: SessionDep, clock: ClockDep, actor: ActorDep) -> GroupOut:
    require(actor, Permission.ADMINISTER)
    with session.begin():
        return GroupOut.of(identity.add_group(session, clock, actor=actor, group_id=body.group_id, name=body.name))


@router.get("/forms/{form_key}", tags=["forms"], summary="A form's JSON Schema (e.g. a start form)")
def get_form(form_key: str, catalog: CatalogDep, actor: ActorDep) -> dict[str, Any]:
    return catalog.schema(form_key)
