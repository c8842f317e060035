"""The `Idempotency-Key` header of starts and completions, around engine/idempotency.py.

A route asks `replay` first (inside its transaction) and returns the stored answer if there is one;
otherwise it does the work and `keep`s its answer in the same transaction.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from engine import idempotency
from engine.clock import Clock
from engine.identity import Actor

IdempotencyKey = Annotated[str | None, Header(
    alias=idempotency.HEADER, max_length=idempotency.MAX_KEY,
    description="a retried request with the same key and body gets the first answer (kept 24 hours, per user)")]


def replay(session: Session, clock: Clock, actor: Actor, request: Request, key: str | None,
           body: BaseModel) -> JSONResponse | None:
    """The first answer to this request, when it is a retry; None when there is no key or it is new.

    Raises: ValidationError (422) when the key came with another request.
    """
    if key is None:
        return None
    found = idempotency.find_answer(session, clock, username=actor.username, key=key,
                                    print_=_print(request, body))
    if found is None:
        return None
    return JSONResponse(found[1], status_code=found[0], headers={"Idempotent-Replayed": "true"})


def keep(session: Session, clock: Clock, actor: Actor, request: Request, key: str | None, body: BaseModel,
         status_code: int, answer: BaseModel) -> None:
    if key is not None:
        idempotency.remember(session, clock, username=actor.username, key=key, print_=_print(request, body),
                             status_code=status_code, body=answer.model_dump(mode="json"))


def _print(request: Request, body: BaseModel) -> str:
    return idempotency.fingerprint(request.method, request.url.path, body.model_dump(mode="json"))
