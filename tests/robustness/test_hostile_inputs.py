"""Hostile uploads and bad form data: refused with the right status, naming the field, changing nothing.

Not covered elsewhere (billion laughs, XXE and a plain oversize upload are in test_definitions_api):
quadratic blowup, deep nesting, a 50 MB upload refused before it is read, and form data that is
of the wrong type, missing, too long or not storable text. Legitimate but unusual text (RTL marks,
emoji, characters outside the BMP) is accepted and comes back byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.tables import AuditEvent, Definition, Deployment, Instance, Task

Login = Callable[[str], dict[str, str]]
MB = 1024 * 1024
QUADRATIC = ('<?xml version="1.0"?><!DOCTYPE bpmn:definitions [<!ENTITY a "' + "x" * 50_000 + '">]>'
             '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">'
             + "&a;" * 50_000 + "</bpmn:definitions>")
DEEP = ('<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">' + "<x>" * 100_000
        + "</x>" * 100_000 + "</bpmn:definitions>")
SLIGHTLY_DEEP = ('<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL">' + "<x>" * 250
                 + "</x>" * 250 + "</bpmn:definitions>")


def _snapshot(factory: sessionmaker[Session]) -> tuple[Any, ...]:
    with factory() as session:
        counts = tuple(session.scalar(select(func.count()).select_from(t))
                       for t in (Deployment, Definition, Instance, Task, AuditEvent))
        tasks = sorted(session.execute(select(Task.task_id, Task.status, Task.assignee)).all())
    return counts, tasks


@pytest.mark.parametrize(("name", "content", "needle"), [
    ("quadratic blowup", QUADRATIC, "not well-formed"),  # lxml's amplification limit trips before our DOCTYPE check
    ("deeply nested", DEEP, ""),
    ("nested past the depth limit", SLIGHTLY_DEEP, "nested deeper than 200"),
])
def test_hostile_xml_is_refused(client: TestClient, login: Login, factory: sessionmaker[Session], name: str,
                                content: str, needle: str) -> None:
    before = _snapshot(factory)
    response = client.post("/api/definitions", headers=login("designer"),
                           files={"file": ("hostile.bpmn", content.encode(), "application/xml")})
    assert response.status_code == 422, (name, response.text[:500])
    assert response.json()["type"] == "urn:tixi:problem:invalid-definition"
    assert needle in response.json()["detail"]
    assert _snapshot(factory) == before


def _chunks(total: int, consumed: list[int]) -> Iterator[bytes]:
    chunk = b"\x00" * MB
    for _ in range(total // MB):
        consumed.append(len(chunk))
        yield chunk


@pytest.mark.parametrize("declared", [True, False], ids=["content-length", "chunked"])
def test_fifty_megabyte_upload_is_refused_before_it_is_read(client: TestClient, login: Login,
                                                            factory: sessionmaker[Session], declared: bool) -> None:
    before, consumed = _snapshot(factory), []
    headers = {**login("designer"), "Content-Type": "multipart/form-data; boundary=xyz"}
    if declared:
        headers["Content-Length"] = str(50 * MB)
    response = client.post("/api/definitions", headers=headers, content=_chunks(50 * MB, consumed))
    assert response.status_code == 413, response.text[:300]
    assert response.json()["type"] == "urn:tixi:problem:payload-too-large"
    if declared:  # refused before one byte is read (TestClient buffers a chunked body itself, so no count there)
        assert consumed == []
    assert _snapshot(factory) == before


@pytest.fixture
def review_task(claimed_review: dict[str, str], login: Login) -> tuple[str, dict[str, str]]:
    return claimed_review["task_id"], login("rcc_director")


def _fields(body: dict[str, Any]) -> list[str]:
    return [e["field"] for e in body.get("errors", [])] + ([body["field"]] if "field" in body else [])


BAD_FORM_DATA = [
    ("wrong type", '{"data": {"rcc_approved": "yes"}}', "rcc_approved"),
    ("wrong type, number", '{"data": {"rcc_approved": 1}}', "rcc_approved"),
    ("missing field", '{"data": {}}', "rcc_approved"),
    ("required when rejected", '{"data": {"rcc_approved": false}}', "rejection_reason"),
    ("unknown field", '{"data": {"rcc_approved": true, "is_admin": true}}', "is_admin"),
    ("oversize string", json.dumps({"data": {"rcc_approved": True, "site_inspection_notes": "长" * 2001}}),
     "site_inspection_notes"),
    ("data not an object", '{"data": ["rcc_approved"]}', "data"),
    ("NUL in a value", '{"data": {"rcc_approved": true, "site_inspection_notes": "ok\\u0000; DROP"}}',
     "data.site_inspection_notes"),
    ("NUL in a key", '{"data": {"rcc_approved": true, "x\\u0000": 1}}', "data"),
    ("lone high surrogate", '{"data": {"rcc_approved": true, "site_inspection_notes": "\\ud800"}}',
     "data.site_inspection_notes"),
    ("lone low surrogate, nested", '{"data": {"rcc_approved": true, "extra": [{"a": "\\udfff"}]}}',
     "data.extra.0.a"),
    ("not JSON", '{"data": {"rcc_approved": tru', "body"),
]


@pytest.mark.parametrize(("case", "raw", "field"), BAD_FORM_DATA, ids=[c[0] for c in BAD_FORM_DATA])
def test_bad_form_data_is_refused_naming_the_field(client: TestClient, factory: sessionmaker[Session],
                                                   review_task: tuple[str, dict[str, str]], case: str, raw: str,
                                                   field: str) -> None:
    task_id, director = review_task
    before = _snapshot(factory)
    response = client.post(f"/api/tasks/{task_id}/complete", content=raw.encode("utf-8"),
                           headers={**director, "Content-Type": "application/json"})
    assert response.status_code == 422, (case, response.text)
    assert response.headers["content-type"] == "application/problem+json"
    assert any(f == field or f.startswith(field) for f in _fields(response.json())), (case, response.json())
    assert _snapshot(factory) == before, f"{case}: a refused completion changed the database"


@pytest.mark.parametrize(("where", "request_args", "field"), [
    ("query", {"method": "GET", "url": "/api/tasks", "params": {"business_key": "A\x00B"}}, "business_key"),
    ("path", {"method": "GET", "url": "/api/definitions/two%00step"}, "key"),
    ("start variables", {"method": "POST", "url": "/api/instances",
                         "json": {"definition_key": "two_step_review", "variables": {"days": 3, "note": "a\x00"}}},
     "variables.note"),
    ("comment", {"method": "POST", "url": "/api/tasks/{task_id}/comments", "json": {"text": "\x00"}}, "text"),
])
def test_unstorable_text_anywhere_is_a_422(client: TestClient, login: Login, factory: sessionmaker[Session],
                                           review_task: tuple[str, dict[str, str]], where: str,
                                           request_args: dict[str, Any], field: str) -> None:
    task_id, director = review_task
    before = _snapshot(factory)
    headers = login("outlet") if where == "start variables" else director
    args = {**request_args, "url": request_args["url"].replace("{task_id}", task_id)}
    response = client.request(**args, headers=headers)
    assert response.status_code == 422, (where, response.text)
    assert field in _fields(response.json()), response.json()
    assert _snapshot(factory) == before


def test_unusual_but_valid_text_round_trips(client: TestClient, login: Login,
                                            review_task: tuple[str, dict[str, str]]) -> None:
    task_id, director = review_task
    notes = "RTL \u202eevil.exe\u202c עברית عربي · emoji 🛠️👩‍🔧 · 4-byte 𠀋𪚥 · combining é"
    done = client.post(f"/api/tasks/{task_id}/complete", headers=director,
                       json={"data": {"rcc_approved": True, "site_inspection_notes": notes}})
    assert done.status_code == 200, done.text
    history = client.get(f"/api/instances/{done.json()['instance_id']}/history", headers=login("admin")).json()
    [completed] = [e for e in history if e["event_type"] == "task_completed"]
    assert completed["data"]["submitted"]["site_inspection_notes"] == notes
