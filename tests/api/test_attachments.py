"""Attachments through HTTP: added at a task, to a case and for a start form; checked on their bytes
(type, size, count); downloaded only by those who may see the case; bound to a case with its start."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from api.settings import Settings
from engine.clock import FrozenClock
from tests.api.conftest import PDF, Desk, events_of
from tests.api.test_return_exchange import REQUEST, with_invoice


def photo(width: int = 800, height: int = 600, kind: str = "JPEG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 40, 40)).save(out, format=kind)
    return out.getvalue()


def _return_case(desk: Desk) -> tuple[str, str]:
    """A return request of outlet HB-002, waiting on its inspection: (instance id, task id)."""
    instance_id = desk.start("hb002.engineer", "return_exchange", with_invoice(desk, "hb002.engineer", REQUEST))
    task = desk.task_of("hb002.engineer", instance_id, "inspect_product")
    return instance_id, str(task["task_id"])


def _upload(client: TestClient, url: str, headers: dict[str, str], name: str, content: bytes) -> Any:
    return client.post(url, headers=headers, files={"file": (name, content, "application/octet-stream")})


def test_photo_at_a_task_is_on_the_case_with_thumbnail_and_history(desk: Desk, client: TestClient) -> None:
    instance_id, task_id = _return_case(desk)
    engineer = desk.login("hb002.engineer")
    added = _upload(client, f"/api/tasks/{task_id}/attachments", engineer, "漏水照片.jpg", photo())
    assert added.status_code == 201, added.text
    body = added.json()
    assert (body["content_type"], body["instance_id"], body["task_id"]) == ("image/jpeg", instance_id, task_id)
    assert body["thumbnail_url"] == f"/api/attachments/{body['attachment_id']}/thumbnail"

    listed = client.get(f"/api/instances/{instance_id}/attachments", headers=engineer).json()
    assert {a["filename"] for a in listed} == {"发票.pdf", "漏水照片.jpg"}  # the invoice came with the start

    download = client.get(body["download_url"], headers=engineer)
    assert download.status_code == 200 and download.content == photo()
    assert download.headers["content-type"] == "image/jpeg"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-disposition"] == (
        f"attachment; filename=\"____.jpg\"; filename*=UTF-8''{quote('漏水照片.jpg')}")
    thumbnail = client.get(body["thumbnail_url"], headers=engineer)
    assert thumbnail.status_code == 200
    with Image.open(io.BytesIO(thumbnail.content)) as small:
        assert max(small.size) == 320

    [event] = [e for e in events_of(desk.history(instance_id), "attachment_added") if e["task_id"] == task_id]
    assert event["actor"] == "hb002.engineer"
    assert event["data"]["filename"] == "漏水照片.jpg" and event["data"]["size"] == len(photo())
    assert event["data"]["sha256"] == body["sha256"] and event["data"]["element"] == "inspect_product"


def test_another_outlets_engineer_finds_no_such_file(desk: Desk, client: TestClient) -> None:
    instance_id, task_id = _return_case(desk)
    added = _upload(client, f"/api/tasks/{task_id}/attachments", desk.login("hb002.engineer"), "a.png",
                    photo(kind="PNG")).json()
    stranger = desk.login("hd001.engineer")  # an engineer of outlet HD-001, another region's
    for url in (added["download_url"], added["thumbnail_url"], f"/api/instances/{instance_id}/attachments"):
        assert client.get(url, headers=stranger).status_code == 404, url
    for url in (f"/api/tasks/{task_id}/attachments", f"/api/instances/{instance_id}/attachments"):
        refused = _upload(client, url, stranger, "b.png", photo(kind="PNG"))
        assert refused.status_code == 404, url
    # Those who may see the case read it: the region's director, the CSD, an admin.
    for user in ("north.director", "csd_head", "admin"):
        assert client.get(added["download_url"], headers=desk.login(user)).status_code == 200, user
    assert client.get(added["download_url"], headers=desk.login("east.director")).status_code == 404
    assert len(client.get(f"/api/instances/{instance_id}/attachments",
                          headers=desk.login("hb002.engineer")).json()) == 2


@pytest.mark.parametrize(("name", "content", "detected"), [
    pytest.param("invoice.pdf", b"MZ\x90\x00 not a pdf at all", None, id="unknown-bytes-named-pdf"),
    pytest.param("notes.txt", b"plain text", None, id="text"),
    pytest.param("invoice.pdf", photo(kind="PNG"), "image/png", id="png-named-pdf"),
    pytest.param("photo.jpg", b"", None, id="empty"),
    pytest.param("drawing.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", None, id="svg"),
])
def test_content_not_an_allowed_type_is_refused_naming_the_field(desk: Desk, client: TestClient, name: str,
                                                                 content: bytes, detected: str | None) -> None:
    instance_id, task_id = _return_case(desk)
    refused = _upload(client, f"/api/tasks/{task_id}/attachments", desk.login("hb002.engineer"), name, content)
    assert refused.status_code == 415, refused.text
    problem = refused.json()
    assert problem["type"].endswith("unsupported-attachment-type") and problem["field"] == "file"
    assert problem.get("detected") == detected
    assert len(client.get(f"/api/instances/{instance_id}/attachments", headers=desk.login("admin")).json()) == 1
    assert not [e for e in events_of(desk.history(instance_id), "attachment_added") if e["task_id"] == task_id]


@pytest.mark.parametrize("content", [photo()[:600], b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, b"GIF89a\xff\xff\xff\xff",
                                     b"RIFF\x10\x00\x00\x00WEBPVP8 junk"], ids=["cut-jpeg", "png-header", "gif", "webp"])
def test_a_damaged_picture_is_kept_without_a_thumbnail(desk: Desk, client: TestClient, content: bytes) -> None:
    _, task_id = _return_case(desk)
    added = _upload(client, f"/api/tasks/{task_id}/attachments", desk.login("hb002.engineer"), "damaged", content)
    assert added.status_code == 201, added.text
    assert added.json()["thumbnail_url"] is None
    thumbnail = client.get(f"{added.json()['download_url']}/thumbnail", headers=desk.login("hb002.engineer"))
    assert thumbnail.status_code == 404


def test_a_name_no_table_can_carry_is_refused(desk: Desk, client: TestClient) -> None:
    _, task_id = _return_case(desk)
    refused = _upload(client, f"/api/tasks/{task_id}/attachments", desk.login("hb002.engineer"), "发" * 300 + ".pdf", PDF)
    assert refused.status_code == 422 and refused.json()["field"] == "file"


@pytest.fixture
def small_limits(app_settings: Settings, clock: FrozenClock, factory: sessionmaker[Session]) -> Iterator[TestClient]:
    settings = app_settings.model_copy(update={"attachment_max_bytes": 2000, "attachment_max_per_case": 3,
                                               "attachment_types": ["application/pdf", "image/png"]})
    app = create_app(settings, clock=clock, session_factory=factory, run_scheduler=False)
    with TestClient(app) as test_client:
        yield test_client


def test_size_count_and_type_limits_come_from_the_configuration(desk: Desk, small_limits: TestClient) -> None:
    instance_id, task_id = _return_case(desk)
    engineer = desk.login("hb002.engineer")
    url = f"/api/tasks/{task_id}/attachments"
    too_big = _upload(small_limits, url, engineer, "big.pdf", PDF + b"0" * 2000)
    assert too_big.status_code == 413, too_big.text
    assert too_big.json()["field"] == "file" and too_big.json()["limit"] == 2000
    jpeg = _upload(small_limits, url, engineer, "photo.jpg", photo(10, 10))
    assert jpeg.status_code == 415 and jpeg.json()["allowed"] == ["application/pdf", "image/png"]
    assert _upload(small_limits, url, engineer, "1.pdf", PDF).status_code == 201
    assert _upload(small_limits, url, engineer, "2.pdf", PDF).status_code == 201
    full = _upload(small_limits, url, engineer, "3.pdf", PDF)  # with the invoice, the case holds three
    assert full.status_code == 422 and full.json()["field"] == "file" and full.json()["limit"] == 3
    assert len(small_limits.get(f"/api/instances/{instance_id}/attachments", headers=engineer).json()) == 3


def test_the_request_requires_its_invoice_and_binds_it_with_the_start(desk: Desk, client: TestClient) -> None:
    outlet = desk.login("outlet")
    missing = client.post("/api/instances", headers=outlet,
                          json={"definition_key": "return_exchange", "variables": REQUEST})
    assert missing.status_code == 422 and [e["field"] for e in missing.json()["errors"]] == ["invoice"]
    empty = client.post("/api/instances", headers=outlet,
                        json={"definition_key": "return_exchange", "variables": {**REQUEST, "invoice": []}})
    assert empty.status_code == 422 and [e["field"] for e in empty.json()["errors"]] == ["invoice"]
    unknown = client.post("/api/instances", headers=outlet, json={
        "definition_key": "return_exchange",
        "variables": {**REQUEST, "invoice": ["00000000-0000-4000-8000-000000000000"]}})
    assert unknown.status_code == 422 and [e["field"] for e in unknown.json()["errors"]] == ["invoice.0"]
    # Someone else's staged file is not the starter's to name.
    theirs = desk.stage("hb002.engineer")
    stolen = client.post("/api/instances", headers=outlet,
                         json={"definition_key": "return_exchange", "variables": {**REQUEST, "invoice": [theirs]}})
    assert stolen.status_code == 422 and [e["field"] for e in stolen.json()["errors"]] == ["invoice.0"]

    invoice = desk.stage("outlet")
    # A start that fails after the attachment check binds nothing: the file waits, still staged.
    failing = client.post("/api/instances", headers=outlet, json={
        "definition_key": "return_exchange", "variables": {**REQUEST, "invoice": [invoice], "outlet_code": "NOPE"}})
    assert failing.status_code == 422, failing.text
    assert client.get(f"/api/attachments/{invoice}", headers=outlet).status_code == 200  # its uploader's alone
    assert client.get(f"/api/attachments/{invoice}", headers=desk.login("hb002.engineer")).status_code == 404

    instance_id = desk.start("outlet", "return_exchange", {**REQUEST, "invoice": [invoice]})
    [bound] = client.get(f"/api/instances/{instance_id}/attachments", headers=desk.login("admin")).json()
    assert (bound["attachment_id"], bound["task_id"]) == (invoice, None)
    [event] = events_of(desk.history(instance_id), "attachment_added")
    assert event["data"]["at_start"] is True and event["data"]["filename"] == "发票.pdf"
    # A file on one case cannot be named by another case's start.
    again = client.post("/api/instances", headers=outlet,
                        json={"definition_key": "return_exchange", "variables": {**REQUEST, "invoice": [invoice]}})
    assert again.status_code == 422 and [e["field"] for e in again.json()["errors"]] == ["invoice.0"]


def test_a_photo_where_the_invoice_must_be_a_pdf_or_image(desk: Desk, client: TestClient) -> None:
    gif = io.BytesIO()
    Image.new("P", (4, 4)).save(gif, format="GIF")
    staged = desk.stage("outlet", "invoice.gif", gif.getvalue())  # GIF is an allowed attachment ...
    refused = client.post("/api/instances", headers=desk.login("outlet"),
                          json={"definition_key": "return_exchange", "variables": {**REQUEST, "invoice": [staged]}})
    assert refused.status_code == 422  # ... but not what the invoice field accepts
    [error] = refused.json()["errors"]
    assert error["field"] == "invoice.0" and "image/gif" in error["message"]


def test_staged_files_left_past_the_staging_time_are_deleted(desk: Desk, client: TestClient,
                                                             clock: FrozenClock) -> None:
    forgotten = desk.stage("outlet")
    kept = desk.stage("outlet")
    assert client.get(f"/api/attachments/{forgotten}", headers=desk.login("outlet")).status_code == 200
    clock.advance(timedelta(hours=25))
    fresh = desk.stage("outlet")  # the next staging sweeps the expired ones (desk logs in again)
    outlet = desk.login("outlet")
    assert client.get(f"/api/attachments/{forgotten}", headers=outlet).status_code == 404
    assert client.get(f"/api/attachments/{kept}", headers=outlet).status_code == 404
    assert client.get(f"/api/attachments/{fresh}", headers=outlet).status_code == 200


def test_a_file_added_to_the_case_itself_and_not_to_an_ended_case(desk: Desk, client: TestClient) -> None:
    instance_id, _ = _return_case(desk)
    director = desk.login("north.director")
    added = _upload(client, f"/api/instances/{instance_id}/attachments", director, "协议.pdf", PDF)
    assert added.status_code == 201 and added.json()["task_id"] is None
    terminated = client.post(f"/api/instances/{instance_id}/terminate", headers=desk.login("admin"),
                             json={"reason": "test"})
    assert terminated.status_code == 200
    late = _upload(client, f"/api/instances/{instance_id}/attachments", director, "late.pdf", PDF)
    assert late.status_code == 409, late.text

