"""Tixi's own worker for service tasks with Camunda's http-connector: one REST call each, outside any transaction.

An http-connector task waits as an external task under `CONNECTOR_TOPIC` (engine/bpmn/http_connector_spec.py
read its call at deploy). This tick fetches and locks such tasks as any worker would, commits, makes
each call with the case's variables (templates rendered in Jinja2's sandbox), then reports in a
transaction of its own: the answer mapped into variables completes the task, a failure is retried
after backoff and, with no retries left, is an incident an admin retries. A host not allowed, a
template the case cannot fill or an answer without the mapped field is not retried: nothing would change.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy.orm import Session, sessionmaker

from engine.bpmn.http_connector_spec import CONNECTOR_TOPIC
from engine.bundles import bundle_of
from engine.clock import Clock
from engine.config import EngineConfig
from engine.db import transaction
from engine.errors import ServiceError
from engine.external_tasks import ExternalTaskInfo, TopicRequest, complete_external_task, fetch_and_lock, report_failure
from engine.identity import SERVICE_ACCOUNT_GROUP, Actor
from engine.notifications.rendering import TemplateProblem, render_text
from engine.tables import Instance

log = logging.getLogger(__name__)

CONNECTOR = Actor("tixi-http-connector", frozenset({SERVICE_ACCOUNT_GROUP}))
WORKER_ID = "tixi-http-connector"
MAX_ANSWER_BYTES = 1024 * 1024


@dataclass(frozen=True)
class _Call:
    task_id: uuid.UUID
    connector: dict[str, Any]
    variables: dict[str, Any]
    retries: int | None


@dataclass(frozen=True)
class _Outcome:
    variables: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    retry: bool = True  # a failure that may pass by itself (a 5xx, a timeout, a refused connection)


def run_http_connectors(factory: sessionmaker[Session], clock: Clock, *, config: EngineConfig,
                        http: httpx.Client) -> int:
    """Make the due http-connector calls (at most the batch size); how many were made."""
    lock = timedelta(seconds=config.http_connector_timeout_seconds * 2 + 30)  # outlasts the call and its report
    with transaction(factory) as session:
        locked = fetch_and_lock(session, clock, actor=CONNECTOR, worker_id=WORKER_ID,
                                max_tasks=config.http_connector_batch_size,
                                topics=[TopicRequest(CONNECTOR_TOPIC, lock_duration=lock)])
        calls = [_call_of(session, info) for info in locked]
    for call in calls:
        outcome = _perform(call, config, http)
        try:
            with transaction(factory) as session:
                _report(session, clock, call, outcome, config)
        except ServiceError as error:  # the case moved on meanwhile (a boundary timer, an admin): drop the answer
            log.warning("http-connector task %s not reported: %s", call.task_id, error)
    return len(calls)


def _call_of(session: Session, info: ExternalTaskInfo) -> _Call:
    record = session.get(Instance, info.instance_id)
    assert record is not None  # the task's foreign key
    meta = bundle_of(session, record).elements(info.process_key).get("external_tasks", {}).get(info.element_id, {})
    return _Call(info.external_task_id, dict(meta.get("connector") or {}), info.variables, info.retries)


def _report(session: Session, clock: Clock, call: _Call, outcome: _Outcome, config: EngineConfig) -> None:
    if outcome.error is None:
        complete_external_task(session, clock, actor=CONNECTOR, task_id=call.task_id, worker_id=WORKER_ID,
                               variables=outcome.variables)
        return
    left = 0  # no retries: an incident at once
    if outcome.retry:  # the first failure leaves the configured retries; each later one takes one
        left = config.http_connector_retries if call.retries is None else max(call.retries - 1, 0)
    backoff = timedelta(seconds=config.http_connector_backoff_seconds
                        * 2 ** min(max(config.http_connector_retries - left, 0), 16))
    report_failure(session, clock, actor=CONNECTOR, task_id=call.task_id, worker_id=WORKER_ID,
                   error_message=outcome.error, error_details=None, retries=left, retry_timeout=backoff)


def _perform(call: _Call, config: EngineConfig, http: httpx.Client) -> _Outcome:
    connector = call.connector
    if not connector:
        return _Outcome(error="the http-connector's call is missing from the deployed definition", retry=False)
    try:
        url = render_text(connector["url"], call.variables)
        headers = {name: render_text(value, call.variables) for name, value in connector["headers"].items()}
        payload = render_text(connector["payload"], call.variables) if connector["payload"] is not None else None
    except TemplateProblem as problem:
        return _Outcome(error=f"the http-connector's templates do not fill with the case's variables: {problem}",
                        retry=False)
    parts = urlsplit(url)
    allowed = config.http_connector_allowed_hosts
    if parts.scheme not in ("http", "https") or (parts.hostname or "") not in allowed:
        return _Outcome(error=f"the http-connector may not call '{url}': host '{parts.hostname}' is not in "
                              f"TIXI_HTTP_CONNECTOR_ALLOWED_HOSTS ({', '.join(allowed)}); an operator may add it",
                        retry=False)
    method = connector["method"]
    try:
        with http.stream(method, url, headers=headers, content=payload,
                         timeout=config.http_connector_timeout_seconds) as response:
            body = bytearray()
            for chunk in response.iter_bytes():
                body.extend(chunk)
                if len(body) > MAX_ANSWER_BYTES:
                    return _Outcome(error=f"{method} {url} answered more than {MAX_ANSWER_BYTES} bytes", retry=False)
    except httpx.TimeoutException:
        return _Outcome(error=f"{method} {url} did not answer within {config.http_connector_timeout_seconds:g} s")
    except httpx.HTTPError as error:
        return _Outcome(error=f"{method} {url} failed: {type(error).__name__}: {error}")
    text = body.decode(response.encoding or "utf-8", errors="replace")
    if not 200 <= response.status_code < 300:
        return _Outcome(error=f"{method} {url} answered {response.status_code}: {text[:200]}")
    return _mapped(connector["outputs"], response, text)


def _mapped(outputs: dict[str, str], response: httpx.Response, text: str) -> _Outcome:
    try:
        parsed: Any = json.loads(text) if text.strip() else None
    except ValueError:
        parsed = text  # not JSON: the text itself, as Camunda's ${response} is
    variables: dict[str, Any] = {}
    for name, source in outputs.items():
        if source == "statusCode":
            variables[name] = response.status_code
        elif source == "headers":
            variables[name] = dict(response.headers)
        else:
            value = parsed
            for step in source.split(".")[1:]:
                if not isinstance(value, dict) or step not in value:
                    return _Outcome(error=f"the answer holds no '{source.removeprefix('response.')}' for the "
                                          f"output '{name}'", retry=False)
                value = value[step]
            variables[name] = value
    return _Outcome(variables=variables)
