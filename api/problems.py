"""RFC 9457 problem+json responses: the one place that knows HTTP status codes for engine errors."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.schemas import ProblemOut
from engine import errors

log = logging.getLogger(__name__)
RETRYABLE_SQLSTATES = {"40P01", "40001"}  # deadlock detected, serialization failure
CAMUNDA_PATH = "/engine-rest/"  # api/routes/external_tasks.py

STATUS_BY_ERROR: dict[type[errors.ServiceError], int] = {
    errors.NotFoundError: 404,
    errors.AuthenticationError: 401,
    errors.PermissionDeniedError: 403,
    errors.ConflictError: 409,
    errors.ValidationError: 422,
    errors.ProcessError: 422,
    errors.ShuttingDownError: 503,
    errors.AttachmentStoreUnavailableError: 503,
}


class PayloadTooLargeError(errors.ServiceError):
    code, title = "payload-too-large", "Upload too large"


class TooManyRequestsError(errors.ServiceError):
    """Refused before any work for the rest of a throttling window; extras carry `retry_after_seconds`."""

    code, title = "too-many-requests", "Too many requests"


class BusyError(errors.ServiceError):
    """Every password-hashing place is taken; trying again in a moment is the answer.

    A 429 rather than a 503: the server is well, the callers send too many logins at once, and the
    people at work beside them get their answers.
    """

    code, title = "logins-busy", "Too many logins at once"


STATUS_BY_ERROR.update({errors.AttachmentTypeError: 415, errors.AttachmentTooLargeError: 413,
                        PayloadTooLargeError: 413, TooManyRequestsError: 429, errors.LockedOutError: 429,
                        BusyError: 429})


_MEANING = {400: "Malformed body (not JSON, broken multipart)", 401: "Not logged in, or the token is expired or forged", 403: "Not allowed for the caller's groups",
            404: "Not found, or not the caller's to see", 409: "Conflict with the current state or a concurrent change",
            413: "Upload too large", 415: "The file's content is not of an allowed type", 422: "Invalid request or input",
            429: "Too many failed logins from this address or for this account, or too many logins at once; "
                 "retry after Retry-After seconds",
            503: "The server is shutting down, or the attachment store does not answer; try again"}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations of the problem+json responses a router's routes may give."""
    # Inline rather than `model=`: FastAPI would file a model under application/json only.
    schema = ProblemOut.model_json_schema()
    return {status: {"description": _MEANING[status], "content": {"application/problem+json": {"schema": schema}}}
            for status in statuses}


API_ERRORS = responses(400, 401, 403, 404, 409, 422)


def status_of(error: errors.ServiceError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]
    return 500


def problem(status: int, code: str, title: str, detail: str, instance: str,
            extras: dict[str, Any] | None = None) -> JSONResponse:
    body = {**(extras or {}), "type": f"urn:tixi:problem:{code}", "title": title, "status": status,
            "detail": detail, "instance": instance}
    if instance.startswith(CAMUNDA_PATH):
        body["message"] = detail  # Camunda's clients print `type` and `message` of an error answer
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if isinstance(body.get("retry_after_seconds"), int):
        headers["Retry-After"] = str(body["retry_after_seconds"])
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


async def service_error(request: Request, error: errors.ServiceError) -> JSONResponse:
    return problem(status_of(error), error.code, error.title, error.detail, request.url.path, error.extras())


async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    return problem(error.status_code, "http-error", str(error.detail), str(error.detail), request.url.path)


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.ServiceError, service_error)  # type: ignore[arg-type]

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        fields = [
            # A body that is not JSON at all: its loc is a character offset, which names no field.
            {"field": "body" if e["type"] == "json_invalid" else (e.get("ctx") or {}).get("field") or
                      ".".join(str(p) for p in e["loc"] if p not in ("body", "query", "path", "form")) or
                      ".".join(str(p) for p in e["loc"]),
             "in": str(e["loc"][0]) if e["loc"] else "",
             "message": e["msg"]}
            for e in error.errors()
        ]
        return problem(422, "invalid-request", "Invalid request", f"{len(fields)} field(s) are invalid",
                       request.url.path, {"errors": fields})

    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]

    @app.exception_handler(StaleDataError)
    async def _lost_race(request: Request, error: StaleDataError) -> JSONResponse:
        # Optimistic locking noticed a concurrent change at commit time.
        return problem(409, errors.ConcurrentUpdateError.code, errors.ConcurrentUpdateError.title,
                       "someone else changed this at the same moment; reload and retry", request.url.path)

    @app.exception_handler(IntegrityError)
    async def _duplicate(request: Request, error: IntegrityError) -> JSONResponse:
        # Two requests entered the same code (an outlet, a region, a serial number) at the same
        # moment: the checks before the write each saw it free, the database kept the first.
        return problem(409, errors.ConflictError.code, errors.ConflictError.title,
                       "this was entered by someone else at the same moment; nothing was stored, reload",
                       request.url.path)

    @app.exception_handler(OperationalError)
    async def _database_conflict(request: Request, error: OperationalError) -> JSONResponse:
        # PostgreSQL broke a deadlock or a serialization conflict by rolling this transaction back:
        # nothing of it was stored, and trying again is the right answer.
        if getattr(error.orig, "sqlstate", None) in RETRYABLE_SQLSTATES:
            return problem(409, errors.ConcurrentUpdateError.code, errors.ConcurrentUpdateError.title,
                           "someone else changed this at the same moment; nothing was stored, retry",
                           request.url.path)
        return await _unexpected(request, error)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem(500, "internal-error", "Internal error", "an unexpected error occurred; it has been logged",
                       request.url.path)
