"""Service accounts and the external tasks they work, for admins (workers use /engine-rest, other
systems /api, both by HTTP basic auth with the account's key)."""

from __future__ import annotations

from api.deps import CHECKED_INPUT, ActorDep, ClockDep, SessionDep
from api.problems import API_ERRORS
from api.routing import api_router
from api.schemas import (
    ExternalTaskAdminOut,
    ServiceAccountCreatedOut,
    ServiceAccountGroupsIn,
    ServiceAccountIn,
    ServiceAccountOut,
)
from engine import external_tasks, service_accounts
from engine.db import reading
from engine.permissions import Permission, require

router = api_router(prefix="/api/service-accounts", tags=["service accounts"], responses=API_ERRORS,
                   dependencies=CHECKED_INPUT)
external_router = api_router(prefix="/api/external-tasks", tags=["service accounts"], responses=API_ERRORS,
                            dependencies=CHECKED_INPUT)


@router.post("", status_code=201, summary="Create a service account; its API key is shown this once (admins)")
def create(body: ServiceAccountIn, session: SessionDep, clock: ClockDep, actor: ActorDep) -> ServiceAccountCreatedOut:
    require(actor, Permission.ADMINISTER)
    key = service_accounts.new_api_key()
    key_hash = service_accounts.hash_api_key(key)  # ~100 ms of CPU: before the transaction, not inside it
    with session.begin():
        info = service_accounts.create_service_account(session, clock, actor=actor, name=body.name, key_hash=key_hash,
                                                       groups=body.groups)
    return ServiceAccountCreatedOut(**ServiceAccountOut.of(info).model_dump(), api_key=key)


@router.get("", summary="Every service account, with when it was last used (admins)")
def list_accounts(session: SessionDep, actor: ActorDep) -> list[ServiceAccountOut]:
    with reading(session):
        return [ServiceAccountOut.of(a) for a in service_accounts.list_service_accounts(session, actor=actor)]


@router.put("/{name}/groups", summary="Set the groups a service account acts in, from its next request (admins)")
def set_groups(name: str, body: ServiceAccountGroupsIn, session: SessionDep, clock: ClockDep,
               actor: ActorDep) -> ServiceAccountOut:
    with session.begin():
        return ServiceAccountOut.of(service_accounts.set_service_account_groups(
            session, clock, actor=actor, name=name, groups=body.groups))


@router.post("/{name}/revoke", summary="End a service account at once (admins)")
def revoke(name: str, session: SessionDep, clock: ClockDep, actor: ActorDep) -> ServiceAccountOut:
    with session.begin():
        return ServiceAccountOut.of(service_accounts.revoke_service_account(session, clock, actor=actor, name=name))


@external_router.get("", summary="Open external tasks with their locks, retries and failures (admins)")
def list_external_tasks(session: SessionDep, clock: ClockDep, actor: ActorDep) -> list[ExternalTaskAdminOut]:
    require(actor, Permission.ADMINISTER)
    with reading(session):
        return [ExternalTaskAdminOut.of(t) for t in external_tasks.list_external_tasks(session, clock, actor=actor)]
