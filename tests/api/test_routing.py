"""A `def` route of api/routing.py's routers runs off the event loop, and its answer is checked on it."""

from __future__ import annotations

import threading

from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, field_validator

from api.routing import api_router

seen: dict[str, int] = {}


async def loop_thread() -> None:
    seen["loop"] = threading.get_ident()


class Answer(BaseModel):
    value: int

    @field_validator("value")
    @classmethod
    def _value(cls, value: int) -> int:
        seen["checked"] = threading.get_ident()
        return value


router = api_router(dependencies=[Depends(loop_thread)])


@router.get("/blocking")
def blocking() -> Answer:
    seen["endpoint"] = threading.get_ident()
    return {"value": 7}  # type: ignore[return-value]  # FastAPI builds the Answer: its validator runs


@router.get("/coroutine")
async def coroutine() -> Answer:
    seen["endpoint"] = threading.get_ident()
    return {"value": 8}  # type: ignore[return-value]


def client() -> TestClient:
    app = FastAPI()
    app.include_router(router)
    return TestClient(app)


def test_a_def_route_runs_in_a_worker_thread_and_its_answer_is_checked_on_the_loop() -> None:
    seen.clear()
    assert client().get("/blocking").json() == {"value": 7}
    assert seen["endpoint"] != seen["loop"]
    # FastAPI hands a `def` route's answer to the thread pool a second time to check it; here it does not.
    assert seen["checked"] == seen["loop"]


def test_a_coroutine_route_stays_on_the_loop() -> None:
    seen.clear()
    assert client().get("/coroutine").json() == {"value": 8}
    assert seen["endpoint"] == seen["loop"] == seen["checked"]


def test_the_wrapped_route_keeps_its_parameters_and_schema() -> None:
    schema = client().app.openapi()  # type: ignore[attr-defined]
    assert schema["paths"]["/blocking"]["get"]["operationId"] == "blocking_blocking_get"
    assert schema["paths"]["/blocking"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Answer"}
