"""Camunda 7's external-task REST API under /engine-rest, for workers written for Camunda.

Paths, bodies and answers follow Camunda's (204 for a report, typed variables); errors are
problem+json that also carry `message`, which Camunda's clients print. Long polling looks for work
at an interval in transactions of its own, never holding one open while it waits.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import Query, Request, Response

from api.camunda_schemas import (
    BpmnErrorIn,
    CompleteIn,
    ExtendLockIn,
    ExternalTaskOut,
    FailureIn,
    FetchAndLockIn,
    LockedTaskOut,
)
from api.camunda_variables import from_typed
from api.deps import CHECKED_INPUT, ActorDep, ClockDep, SessionDep, SettingsDep
from api.problems import API_ERRORS, CAMUNDA_PATH
from api.routing import api_router
from engine import external_tasks
from engine.data_limits import data_problem
from engine.db import reading
from engine.errors import ValidationError
from engine.external_tasks import TopicRequest

BASE_PATH = CAMUNDA_PATH.rstrip("/")
router = api_router(prefix=f"{BASE_PATH}/external-task", tags=["external tasks (Camunda 7 API)"],
                   responses=API_ERRORS, dependencies=CHECKED_INPUT)
WorkerDep = ActorDep  # a service account by basic auth, or a person's bearer token (api/deps.py)
_DONE = 204


def _variables(raw: dict[str, object] | None, field: str) -> dict[str, object]:
    plain = from_typed(raw, field)
    found = data_problem(plain, field)
    if found:
        raise ValidationError(f"{found[0]} {found[1]}", field=found[0])
    return plain


@router.post("/fetchAndLock", summary="Lock tasks of the topics for this worker, waiting up to asyncResponseTimeout")
def fetch_and_lock(body: FetchAndLockIn, request: Request, session: SessionDep, clock: ClockDep,
                   settings: SettingsDep, worker: WorkerDep) -> list[LockedTaskOut]:
    topics = [TopicRequest(t.topicName, timedelta(milliseconds=t.lockDuration), t.variables,
                           t.processVariables, t.businessKey, t.processDefinitionKey) for t in body.topics]
    wait = min(body.asyncResponseTimeout or 0, settings.external_task_max_poll_ms) / 1000
    deadline = time.monotonic() + wait
    stopping = request.app.state.stop_advances
    while True:
        with session.begin():
            locked = external_tasks.fetch_and_lock(session, clock, actor=worker, worker_id=body.workerId,
                                                   max_tasks=body.maxTasks, topics=topics,
                                                   use_priority=body.usePriority)
        left = deadline - time.monotonic()
        if locked or left <= 0 or stopping.is_set():
            return [LockedTaskOut.of(info) for info in locked]
        # Nothing yet: wait outside any transaction, then look again (shutdown ends the wait early).
        stopping.wait(min(left, settings.external_task_poll_interval_ms / 1000))


@router.post("/{task_id}/complete", status_code=_DONE, response_class=Response,
             summary="Complete the task with variables; the case runs on")
def complete(task_id: uuid.UUID, body: CompleteIn, session: SessionDep, clock: ClockDep, worker: WorkerDep) -> Response:
    variables = _variables(body.variables, "variables")
    with session.begin():
        external_tasks.complete_external_task(session, clock, actor=worker, task_id=task_id, worker_id=body.workerId,
                                              variables=variables)
    return Response(status_code=_DONE)


@router.post("/{task_id}/failure", status_code=_DONE, response_class=Response,
             summary="Report a failure: retried after retryTimeout; with no retries left, an incident")
def failure(task_id: uuid.UUID, body: FailureIn, session: SessionDep, clock: ClockDep, worker: WorkerDep) -> Response:
    with session.begin():
        external_tasks.report_failure(session, clock, actor=worker, task_id=task_id, worker_id=body.workerId,
                                      error_message=body.errorMessage, error_details=body.errorDetails,
                                      retries=body.retries, retry_timeout=timedelta(milliseconds=body.retryTimeout))
    return Response(status_code=_DONE)


@router.post("/{task_id}/bpmnError", status_code=_DONE, response_class=Response,
             summary="Throw a BPMN error to the task's error boundary event; uncaught, an incident")
def bpmn_error(task_id: uuid.UUID, body: BpmnErrorIn, session: SessionDep, clock: ClockDep,
               worker: WorkerDep) -> Response:
    variables = _variables(body.variables, "variables")
    with session.begin():
        external_tasks.report_bpmn_error(session, clock, actor=worker, task_id=task_id, worker_id=body.workerId,
                                         error_code=body.errorCode, error_message=body.errorMessage,
                                         variables=variables)
    return Response(status_code=_DONE)


@router.post("/{task_id}/extendLock", status_code=_DONE, response_class=Response, summary="Hold the lock longer")
def extend_lock(task_id: uuid.UUID, body: ExtendLockIn, session: SessionDep, clock: ClockDep,
                worker: WorkerDep) -> Response:
    with session.begin():
        external_tasks.extend_lock(session, clock, actor=worker, task_id=task_id, worker_id=body.workerId,
                                   duration=timedelta(milliseconds=body.newDuration))
    return Response(status_code=_DONE)


@router.post("/{task_id}/unlock", status_code=_DONE, response_class=Response,
             summary="Release the lock so any worker may fetch the task")
def unlock(task_id: uuid.UUID, session: SessionDep, clock: ClockDep, worker: WorkerDep) -> Response:
    with session.begin():
        external_tasks.unlock(session, clock, actor=worker, task_id=task_id)
    return Response(status_code=_DONE)


@router.get("", summary="The open external tasks")
def list_tasks(session: SessionDep, clock: ClockDep, worker: WorkerDep,
               topicName: Annotated[str | None, Query(max_length=200)] = None,
               workerId: Annotated[str | None, Query(max_length=255)] = None,
               processInstanceId: uuid.UUID | None = None,
               locked: bool | None = None, notLocked: bool | None = None,
               withRetriesLeft: bool | None = None, noRetriesLeft: bool | None = None,
               maxResults: Annotated[int, Query(ge=1, le=1000)] = 1000) -> list[ExternalTaskOut]:
    is_locked = True if locked else False if notLocked else None
    retries_left = True if withRetriesLeft else False if noRetriesLeft else None
    with reading(session):
        found = external_tasks.list_external_tasks(session, clock, actor=worker, topic=topicName, worker_id=workerId,
                                                   instance_id=processInstanceId, locked=is_locked,
                                                   retries_left=retries_left, limit=maxResults)
    return [ExternalTaskOut.of(info) for info in found]


@router.get("/{task_id}", summary="One external task")
def get_task(task_id: uuid.UUID, session: SessionDep, worker: WorkerDep) -> ExternalTaskOut:
    with reading(session):
        info = external_tasks.get_external_task(session, actor=worker, task_id=task_id)
    return ExternalTaskOut.of(info)
