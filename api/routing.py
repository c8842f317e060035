"""The routers of the API and the pages: a plain `def` route hands its request to a worker thread once.

FastAPI runs a `def` endpoint in its thread pool, and then, because the endpoint is not a
coroutine, runs the validation of its return value in the thread pool again: two hand-offs to a
worker thread and back per request, each a wake-up of a thread and of the event loop (issue 18's
profile of the request path). Wrapped as a coroutine that awaits the endpoint in the thread pool,
the endpoint still runs off the event loop (it does blocking database I/O), and the cheap
validation of a model it already built runs on the loop. The wrapper keeps the endpoint's
signature (`functools.wraps`), so parameters, dependencies and the OpenAPI schema are unchanged.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool


def in_worker_thread(function: Callable[..., Any]) -> Callable[..., Any]:
    """`function` as a coroutine function that runs it in the thread pool."""

    @functools.wraps(function)
    async def run(*args: Any, **kwargs: Any) -> Any:
        return await run_in_threadpool(function, *args, **kwargs)

    return run


class OneHandOffRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = in_worker_thread(endpoint)
        super().__init__(path, endpoint, **kwargs)


def api_router(**kwargs: Any) -> APIRouter:
    """An `APIRouter` whose `def` routes hand off to a worker thread once per request."""
    return APIRouter(route_class=OneHandOffRoute, **kwargs)
