"""Property-based fuzzing of every operation of the app's own OpenAPI schema (schemathesis).

Requests go through the ASGI app in-process, authenticated as an admin and as approvers, on a
database holding deployed processes and open cases. Each generated request must get no 5xx, a
status the schema declares, the declared content type and a body that conforms to the schema.
The example count per operation is bounded and hypothesis is derandomized, so a run is repeatable.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.auth import issue_token
from api.settings import Settings
from engine import definitions, instances
from engine.catalog import DEFAULT_FORMS_DIR, FormCatalog
from engine.clock import FrozenClock
from engine.db import transaction
from engine.identity import Actor
from tests.conftest import DESIGNER, TEST_PROCESSES

MAX_EXAMPLES = 25
CHECKS = [content_type_conformance, status_code_conformance, response_schema_conformance]


@pytest.fixture
def app_settings(db_engine: Engine) -> Settings:
    """The suite's settings without long polling: fetchAndLock answers at once rather than wait for work."""
    return Settings(database_url=str(db_engine.url), secret_key="test-secret-key-not-for-production",
                    forms_dir=DEFAULT_FORMS_DIR, demo_users=True, scheduler_in_process=False,
                    external_task_max_poll_ms=0)


def not_a_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    assert response.status_code < 500, f"{case.method} {case.formatted_path}: {response.status_code} {response.text}"
    return None


def _seed(factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog) -> None:
    with transaction(factory) as session:
        for name in ("two_step_review.bpmn", "parts_wait.bpmn"):
            definitions.deploy(session, clock, catalog, actor=DESIGNER, filename=name,
                               content=(TEST_PROCESSES / name).read_bytes())
        for days in (3, 20):
            instances.start_instance(session, clock, catalog, actor=Actor("outlet", frozenset({"outlet"})),
                                     definition_key="two_step_review", variables={"days": days})


def _fuzzer(operation: Any, headers: dict[str, str], cases: dict[str, int]) -> Any:
    """A hypothesis test for one operation: valid requests and requests that break the schema (must be 4xx)."""

    @given(case=operation.as_strategy(GenerationMode.POSITIVE) | operation.as_strategy(GenerationMode.NEGATIVE))
    @settings(max_examples=MAX_EXAMPLES, deadline=timedelta(seconds=30), derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        cases[operation.label] = cases.get(operation.label, 0) + 1
        response = case.call(headers=headers)
        case.validate_response(response, checks=[not_a_server_error, *CHECKS], headers=headers)

    return run


@pytest.mark.parametrize("username", ["admin", "rcc_director"])
def test_fuzz_every_operation(client: TestClient, factory: sessionmaker[Session], clock: FrozenClock,
                              catalog: FormCatalog, app_settings: Settings, username: str) -> None:
    _seed(factory, clock, catalog)
    app: FastAPI = client.app  # type: ignore[assignment]
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    token = issue_token(username, generation=0, secret=app_settings.secret_key, now=clock.now(), minutes=60 * 24 * 365)
    headers = {"Authorization": f"Bearer {token}"}
    cases: dict[str, int] = {}
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        try:
            _fuzzer(operation, headers, cases)()
        except (Exception, BaseExceptionGroup) as error:  # collect every operation's failure, then report them together
            failures.append(f"{operation.label}: {str(error)[:1500]}")
    print(f"\n{username}: {sum(cases.values())} cases over {len(cases)} operations")
    assert not failures, "\n\n".join(failures)
    assert len(cases) == len(list(schema.get_all_operations())) and sum(cases.values()) >= len(cases) * 10
