from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import Query, Request

from api.deps import CHECKED_INPUT, ActorDep, CatalogDep, ClockDep, SessionDep, SettingsDep
from api.idempotent import IdempotencyKey, keep, replay
from api.problems import API_ERRORS
from api.routing import api_router
from api.schemas import (
    MAX_INT,
    HistoryEventOut,
    InstanceDetailOut,
    InstanceOut,
    InstanceStartIn,
    PageOut,
    ReasonIn,
    RetryIn,
)
from engine import instances
from engine.clock import end_of_day, start_of_day
from engine.db import reading
from engine.permissions import Permission, require
from engine.withdrawal import withdraw_instance

router = api_router(prefix="/api/instances", tags=["instances"], responses=API_ERRORS, dependencies=CHECKED_INPUT)


@router.post("", status_code=201, summary="Start the latest version of a process and run it until it waits")
def start(body: InstanceStartIn, request: Request, session: SessionDep, clock: ClockDep, catalog: CatalogDep,
          actor: ActorDep, settings: SettingsDep, idempotency_key: IdempotencyKey = None) -> InstanceDetailOut:
    with session.begin():
        if (first := replay(session, clock, actor, request, idempotency_key, body)) is not None:
            return first  # type: ignore[return-value]  # the stored answer, as it was sent
        detail = instances.start_instance(session, clock, catalog, actor=actor, definition_key=body.definition_key,
                                          business_key=body.business_key, variables=body.variables,
                                          version=body.version,
                                          case_number_prefix=settings.case_numbers.get(body.definition_key))
        answer = InstanceDetailOut.of_detail(detail)
        keep(session, clock, actor, request, idempotency_key, body, 201, answer)
    return answer


@router.get("", summary="Instances the caller may see (admins: all)")
def list_instances(
    session: SessionDep, actor: ActorDep,
    definition_key: str | None = None, status: str | None = None, business_key: str | None = None,
    participant: Annotated[str | None, Query(max_length=64, description="a user who acted in the instance")] = None,
    started_from: Annotated[date | None, Query(description="started on or after this day (UTC)")] = None,
    started_to: Annotated[date | None, Query(description="started on or before this day (UTC)")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50, offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
) -> PageOut[InstanceOut]:
    with reading(session):
        page = instances.list_instances(
            session, actor=actor, definition_key=definition_key, status=status, business_key=business_key,
            participant=participant, started_from=start_of_day(started_from) if started_from else None,
            started_before=end_of_day(started_to) if started_to else None,
            limit=limit, offset=offset)
    return PageOut[InstanceOut].of(page, InstanceOut.of)


@router.get("/{instance_id}", summary="Status, waiting tasks, timers and variables")
def get_instance(instance_id: uuid.UUID, session: SessionDep, actor: ActorDep, catalog: CatalogDep) -> InstanceDetailOut:
    with reading(session):
        return InstanceDetailOut.of_detail(instances.get_instance(session, actor=actor, instance_id=instance_id,
                                                                  internal=catalog.internal))


@router.get("/{instance_id}/history", summary="Every recorded step: who, when, what data")
def history(instance_id: uuid.UUID, session: SessionDep, actor: ActorDep, catalog: CatalogDep) -> list[HistoryEventOut]:
    with reading(session):
        return [HistoryEventOut.of(e) for e in instances.instance_history(session, actor=actor, instance_id=instance_id,
                                                                          internal=catalog.internal)]


@router.post("/{instance_id}/suspend", summary="Suspend (admins)")
def suspend(instance_id: uuid.UUID, body: ReasonIn, session: SessionDep, clock: ClockDep, actor: ActorDep) -> InstanceOut:
    require(actor, Permission.ADMINISTER)
    with session.begin():
        return InstanceOut.of(instances.suspend_instance(session, clock, actor=actor, instance_id=instance_id,
                                                         reason=body.reason))


@router.post("/{instance_id}/resume", summary="Resume (admins)")
def resume(instance_id: uuid.UUID, body: ReasonIn, session: SessionDep, clock: ClockDep, actor: ActorDep) -> InstanceOut:
    require(actor, Permission.ADMINISTER)
    with session.begin():
        return InstanceOut.of(instances.resume_instance(session, clock, actor=actor, instance_id=instance_id,
                                                        reason=body.reason))


@router.post("/{instance_id}/terminate", summary="Terminate for good (admins)")
def terminate(instance_id: uuid.UUID, body: ReasonIn, session: SessionDep, clock: ClockDep,
              actor: ActorDep) -> InstanceOut:
    require(actor, Permission.ADMINISTER)
    with session.begin():
        return InstanceOut.of(instances.terminate_instance(session, clock, actor=actor, instance_id=instance_id,
                                                           reason=body.reason))


@router.post("/{instance_id}/withdraw", summary="撤回: the starter withdraws a case nobody else has acted on yet")
def withdraw(instance_id: uuid.UUID, body: ReasonIn, session: SessionDep, clock: ClockDep,
             actor: ActorDep) -> InstanceOut:
    with session.begin():
        withdraw_instance(session, clock, actor=actor, instance_id=instance_id, reason=body.reason)
        return InstanceOut.of(instances.get_instance(session, actor=actor, instance_id=instance_id).summary)


@router.post("/{instance_id}/retry", summary="Retry a failed instance's failing step, optionally with variables (admins)")
def retry(instance_id: uuid.UUID, body: RetryIn, session: SessionDep, clock: ClockDep, actor: ActorDep) -> InstanceDetailOut:
    require(actor, Permission.ADMINISTER)
    with session.begin():
        return InstanceDetailOut.of_detail(instances.retry_instance(session, clock, actor=actor, instance_id=instance_id,
                                                                    variables=body.variables, reason=body.reason))
