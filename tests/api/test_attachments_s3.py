"""Attachments in an S3-compatible store: a real S3 server (moto's) on loopback, the real HTTP API, both databases.

What is shown: the bytes go to the bucket and come back unchanged; a step that fails after its put
leaves an object without a row, which the sweep deletes once it is past the grace period (and not
before, nor one with a row); a deletion whose transaction rolls back loses no bytes, and one that
commits leaves an object the sweep takes; a store that does not answer is a 503 problem; a store
half configured stops the start naming the setting; the database stays the default.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from fastapi.testclient import TestClient
from moto.server import ThreadedMotoServer
from pydantic import SecretStr
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from api.app import create_app
from api.cli import app as tixi_app
from api.settings import Settings
from engine import attachments
from engine.attachment_s3 import S3AttachmentStore
from engine.attachment_store import AttachmentStoreConfigError, DatabaseAttachmentStore, s3_attachment_store
from engine.attachment_sweep import sweep_orphans
from engine.attachment_tables import Attachment, AttachmentBlob
from engine.clock import FrozenClock
from engine.db import transaction
from engine.identity import find_actor
from engine.worker import run_worker
from tests.api.conftest import PDF, Desk
from tests.api.test_attachments import photo
from tests.api.test_return_exchange import REQUEST
from tests.conftest import app_client, free_port

BUCKET = "tixi-attachments"
KEYS = {"attachment_s3_access_key_id": "tixi-test", "attachment_s3_secret_access_key": "tixi-test-secret"}
GRACE = timedelta(minutes=60)


class StepFailed(Exception):
    """What a step raises after its put, to roll its transaction back."""


def _s3_client(endpoint: str) -> Any:
    return boto3.session.Session().client("s3", endpoint_url=endpoint, region_name="us-east-1",
                                          aws_access_key_id="tixi-test", aws_secret_access_key="tixi-test-secret")


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on a loopback port, with the bucket made; for the whole session."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    _s3_client(endpoint).create_bucket(Bucket=BUCKET)
    yield endpoint
    server.stop()


def _s3_settings(app_settings: Settings, endpoint: str) -> Settings:
    # A prefix of its own per test: the bucket outlives tests, and each test lists only what it wrote.
    return app_settings.model_copy(update={
        "attachment_store": "s3", "attachment_s3_endpoint_url": endpoint, "attachment_s3_bucket": BUCKET,
        "attachment_s3_access_key_id": KEYS["attachment_s3_access_key_id"],
        "attachment_s3_secret_access_key": SecretStr(KEYS["attachment_s3_secret_access_key"]),
        "attachment_s3_key_prefix": f"test-{uuid.uuid4().hex[:8]}/"})


@pytest.fixture
def s3_settings(app_settings: Settings, s3_endpoint: str) -> Settings:
    return _s3_settings(app_settings, s3_endpoint)


@pytest.fixture
def s3_client(s3_settings: Settings, clock: FrozenClock, factory: sessionmaker[Session]) -> Iterator[TestClient]:
    with app_client(s3_settings, clock, factory) as test_client:
        yield test_client


@pytest.fixture
def s3_desk(s3_client: TestClient, desk: Desk) -> Desk:
    """The demo users working through the app that keeps files in S3."""
    return Desk(s3_client, desk.login)


@pytest.fixture
def store(s3_settings: Settings) -> S3AttachmentStore:
    return s3_attachment_store(s3_settings)


def _objects(settings: Settings) -> dict[str, Any]:
    """The bucket's objects under the test's prefix, by attachment-store key, listed with boto3."""
    listed = _s3_client(settings.attachment_s3_endpoint_url).list_objects_v2(
        Bucket=BUCKET, Prefix=settings.attachment_s3_key_prefix)
    return {item["Key"][len(settings.attachment_s3_key_prefix):]: item for item in listed.get("Contents", [])}


def _rows(factory: sessionmaker[Session], table: type) -> int:
    with transaction(factory) as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def _return_case(desk: Desk) -> tuple[str, str, str]:
    """A return request of HB-002 started with its invoice: (instance id, inspection task id, invoice id)."""
    invoice = desk.stage("hb002.engineer")
    instance_id = desk.start("hb002.engineer", "return_exchange", {**REQUEST, "invoice": [invoice]})
    task = desk.task_of("hb002.engineer", instance_id, "inspect_product")
    return instance_id, str(task["task_id"]), invoice


def test_an_upload_is_an_object_in_the_bucket_and_downloads_unchanged(s3_desk: Desk, s3_client: TestClient,
                                                                       s3_settings: Settings,
                                                                       factory: sessionmaker[Session]) -> None:
    instance_id, task_id, invoice = _return_case(s3_desk)
    engineer = s3_desk.login("hb002.engineer")
    added = s3_client.post(f"/api/tasks/{task_id}/attachments", headers=engineer,
                           files={"file": ("漏水照片.jpg", photo(), "application/octet-stream")})
    assert added.status_code == 201, added.text
    photo_id = added.json()["attachment_id"]

    objects = _objects(s3_settings)
    assert set(objects) == {invoice, photo_id, f"{photo_id}.thumbnail"}
    assert objects[photo_id]["Size"] == len(photo())
    assert _rows(factory, Attachment) == 2 and _rows(factory, AttachmentBlob) == 0  # rows here, bytes there
    listed = s3_client.get(f"/api/instances/{instance_id}/attachments", headers=engineer).json()
    assert {a["attachment_id"] for a in listed} == {invoice, photo_id}

    download = s3_client.get(f"/api/attachments/{photo_id}", headers=engineer)
    assert download.status_code == 200 and download.content == photo()
    assert download.headers["content-type"] == "image/jpeg"
    pdf = s3_client.get(f"/api/attachments/{invoice}", headers=engineer)
    assert pdf.content == PDF and pdf.headers["content-type"] == "application/pdf"
    assert s3_client.get(f"/api/attachments/{photo_id}/thumbnail", headers=engineer).status_code == 200

    # An object gone from the bucket behind Tixi's back (an operator's mistake): a 404 problem, not a 500.
    _s3_client(s3_settings.attachment_s3_endpoint_url).delete_object(
        Bucket=BUCKET, Key=f"{s3_settings.attachment_s3_key_prefix}{photo_id}.thumbnail")
    gone = s3_client.get(f"/api/attachments/{photo_id}/thumbnail", headers=engineer)
    assert gone.status_code == 404 and gone.json()["type"].endswith("not-found"), gone.text


def test_a_step_failing_after_its_put_leaves_an_orphan_the_sweep_takes_once_old(
        s3_desk: Desk, s3_settings: Settings, store: S3AttachmentStore, factory: sessionmaker[Session],
        clock: FrozenClock) -> None:
    instance_id, _, invoice = _return_case(s3_desk)
    limits = attachments.AttachmentLimits.of(s3_settings)
    with pytest.raises(StepFailed), transaction(factory) as session:
        actor = find_actor(session, "north.director")
        assert actor is not None
        added = attachments.add_to_case(session, clock, store, limits, actor=actor,
                                        instance_id=uuid.UUID(instance_id), filename="协议.png",
                                        content=photo(kind="PNG"))
        raise StepFailed("the step fails after the file was put")
    orphan = str(added.attachment_id)
    objects = _objects(s3_settings)
    assert set(objects) == {invoice, orphan, f"{orphan}.thumbnail"}  # written before the commit that never came
    with transaction(factory) as session:
        assert session.get(Attachment, added.attachment_id) is None
    # Something else under the prefix that is no attachment's key: never Tixi's to delete.
    _s3_client(s3_settings.attachment_s3_endpoint_url).put_object(
        Bucket=BUCKET, Key=f"{s3_settings.attachment_s3_key_prefix}notes/readme.txt", Body=b"left by an operator")

    put_at = max(item["LastModified"] for item in objects.values())
    young = sweep_orphans(factory, FrozenClock(put_at + GRACE - timedelta(seconds=1)), store, grace=GRACE)
    assert (young.listed, young.deleted, young.young, young.with_row, young.foreign) == (4, 0, 2, 1, 1)
    assert set(_objects(s3_settings)) == {invoice, orphan, f"{orphan}.thumbnail", "notes/readme.txt"}

    seen: list[int] = []
    old = sweep_orphans(factory, FrozenClock(put_at + GRACE + timedelta(seconds=5)), store, grace=GRACE,
                        on_page=lambda totals: seen.append(totals.listed))
    assert (old.deleted, old.young, old.with_row, old.foreign) == (2, 0, 1, 1) and seen == [4]
    assert set(_objects(s3_settings)) == {invoice, "notes/readme.txt"}  # the one with a row stays, however old
    assert s3_desk.client.get(f"/api/attachments/{invoice}", headers=s3_desk.login("hb002.engineer")).content == PDF


def test_a_deletion_loses_no_bytes_when_it_rolls_back_and_the_sweep_takes_them_once_it_commits(
        s3_desk: Desk, s3_client: TestClient, s3_settings: Settings, store: S3AttachmentStore,
        factory: sessionmaker[Session], clock: FrozenClock) -> None:
    forgotten = s3_desk.stage("outlet")
    clock.advance(timedelta(hours=25))  # past the staging time: the next staging deletes it
    limits = attachments.AttachmentLimits.of(s3_settings)
    with pytest.raises(StepFailed), transaction(factory) as session:
        actor = find_actor(session, "outlet")
        assert actor is not None
        attachments.stage(session, clock, store, limits, actor=actor, filename="again.pdf", content=PDF)
        assert session.get(Attachment, uuid.UUID(forgotten)) is None  # deleted in this transaction ...
        raise StepFailed("... which rolls back")
    outlet = s3_desk.login("outlet")
    kept = s3_client.get(f"/api/attachments/{forgotten}", headers=outlet)
    assert kept.status_code == 200 and kept.content == PDF  # the row came back, and so did its bytes

    fresh = s3_desk.stage("outlet")  # this staging's deletion of the forgotten file commits
    assert s3_client.get(f"/api/attachments/{forgotten}", headers=outlet).status_code == 404
    objects = _objects(s3_settings)
    assert forgotten in objects  # the object waits for the sweep
    after = FrozenClock(max(item["LastModified"] for item in objects.values()) + GRACE + timedelta(seconds=5))
    swept = sweep_orphans(factory, after, store, grace=GRACE)
    assert (swept.with_row, swept.deleted) == (1, 2)  # the forgotten file and the rolled-back staging's
    assert set(_objects(s3_settings)) == {fresh}


def test_the_sweep_from_the_command_line_shows_its_counts(s3_desk: Desk, s3_settings: Settings,
                                                          db_engine: Engine, store: S3AttachmentStore,
                                                          factory: sessionmaker[Session]) -> None:
    kept = s3_desk.stage("outlet")
    store.put(None, str(uuid.uuid4()), PDF)  # as a step does before it fails (the S3 store needs no session)
    env = {"TIXI_DATABASE_URL": db_engine.url.render_as_string(hide_password=False),
           "TIXI_SECRET_KEY": "test-secret-key-not-for-production",
           "TIXI_ATTACHMENT_STORE": "s3", "TIXI_ATTACHMENT_S3_ENDPOINT_URL": s3_settings.attachment_s3_endpoint_url,
           "TIXI_ATTACHMENT_S3_BUCKET": BUCKET, "TIXI_ATTACHMENT_S3_KEY_PREFIX": s3_settings.attachment_s3_key_prefix,
           "TIXI_ATTACHMENT_S3_ACCESS_KEY_ID": "tixi-test", "TIXI_ATTACHMENT_S3_SECRET_ACCESS_KEY": "tixi-test-secret"}
    runner = CliRunner()
    waiting = runner.invoke(tixi_app, ["attachments", "sweep"], env=env)  # within the default hour's grace
    assert waiting.exit_code == 0, waiting.output
    assert "2 object(s) listed, 0 deleted, 1 kept with their row, 1 kept as too young" in waiting.output
    swept = runner.invoke(tixi_app, ["attachments", "sweep", "--grace-minutes", "0"], env=env)
    assert swept.exit_code == 0, swept.output
    assert f"sweeping s3 bucket {BUCKET}/{s3_settings.attachment_s3_key_prefix}" in swept.output
    assert "  ... 2 object(s) listed, 1 deleted" in swept.output
    assert "done: 2 object(s) listed, 1 deleted, 1 kept with their row, 0 kept as too young" in swept.output
    assert set(_objects(s3_settings)) == {kept}


class _OneTick(threading.Event):
    """A stop signal that lets the scheduler loop run exactly one tick, in the test's own thread."""

    def __init__(self) -> None:
        super().__init__()
        self.checks = 0

    def is_set(self) -> bool:
        self.checks += 1
        return self.checks > 1

    def wait(self, timeout: float | None = None) -> bool:
        return True


def test_the_scheduler_sweeps_the_store(s3_settings: Settings, store: S3AttachmentStore,
                                        factory: sessionmaker[Session]) -> None:
    orphan = str(uuid.uuid4())
    store.put(None, orphan, PDF)  # as a step does before it fails
    store.put(None, "not-an-attachment", PDF)
    put_at = max(item["LastModified"] for item in _objects(s3_settings).values())
    run_worker(factory, FrozenClock(put_at + GRACE + timedelta(seconds=5)), _OneTick(), interval=0,
               config=s3_settings)
    assert set(_objects(s3_settings)) == {"not-an-attachment"}


def test_a_store_that_does_not_answer_is_a_503_problem(app_settings: Settings, clock: FrozenClock,
                                                       factory: sessionmaker[Session], desk: Desk) -> None:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        settings = _s3_settings(app_settings, f"http://127.0.0.1:{port}")
        _s3_client(settings.attachment_s3_endpoint_url).create_bucket(Bucket=BUCKET)
    except Exception:
        server.stop()
        raise
    with app_client(settings, clock, factory) as client:
        s3_desk = Desk(client, desk.login)
        staged = s3_desk.stage("outlet")
        server.stop()  # the store goes away
        outlet = s3_desk.login("outlet")
        download = client.get(f"/api/attachments/{staged}", headers=outlet)
        assert download.status_code == 503, download.text
        problem = download.json()
        assert problem["type"].endswith("attachment-store-unavailable") and download.headers["retry-after"] == "30"
        assert "try again" in problem["detail"] and settings.attachment_s3_endpoint_url not in problem["detail"]
        upload = client.post("/api/attachments", headers=outlet, files={"file": ("b.pdf", PDF, "application/pdf")})
        assert upload.status_code == 503, upload.text
    assert _rows(factory, Attachment) == 1  # the refused upload left no row without its bytes


def test_a_store_that_takes_the_connection_and_never_answers_is_a_503_not_a_hang(
        app_settings: Settings, clock: FrozenClock, factory: sessionmaker[Session], desk: Desk) -> None:
    with socket.socket() as silent:  # the kernel accepts connections into the backlog; nobody ever reads them
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        settings = _s3_settings(app_settings, f"http://127.0.0.1:{silent.getsockname()[1]}").model_copy(update={
            "attachment_s3_connect_timeout_seconds": 0.5, "attachment_s3_read_timeout_seconds": 0.5})
        with app_client(settings, clock, factory) as client:
            upload = client.post("/api/attachments", headers=desk.login("outlet"),
                                 files={"file": ("a.pdf", PDF, "application/pdf")})
        silent.setblocking(False)
        attempts = 0
        with contextlib.suppress(BlockingIOError):
            while True:
                silent.accept()[0].close()
                attempts += 1
    assert upload.status_code == 503, upload.text
    assert attempts == 1 + settings.attachment_s3_retries  # the first try and the one retry configured, no more
    assert upload.json()["type"].endswith("attachment-store-unavailable")
    assert _rows(factory, Attachment) == 0


@pytest.mark.parametrize("missing", ["attachment_s3_endpoint_url", "attachment_s3_bucket",
                                     "attachment_s3_access_key_id", "attachment_s3_secret_access_key"])
def test_a_half_configured_store_stops_the_start_naming_the_setting(s3_settings: Settings, missing: str) -> None:
    empty: Any = SecretStr("") if missing.endswith("secret_access_key") else ""
    with pytest.raises(AttachmentStoreConfigError, match=f"TIXI_{missing.upper()} is not set"):
        create_app(s3_settings.model_copy(update={missing: empty}), run_scheduler=False)


def test_tixi_serve_refuses_an_s3_store_without_its_bucket(tmp_path: Any) -> None:
    env = {"TIXI_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "TIXI_SECRET_KEY": "k" * 32,
           "TIXI_ATTACHMENT_STORE": "s3", "TIXI_ATTACHMENT_S3_ENDPOINT_URL": "http://127.0.0.1:9",
           "TIXI_ATTACHMENT_S3_BUCKET": None, "TIXI_ATTACHMENT_S3_ACCESS_KEY_ID": "a",
           "TIXI_ATTACHMENT_S3_SECRET_ACCESS_KEY": "b"}
    result = CliRunner().invoke(tixi_app, ["serve", "--no-scheduler"], env=env)
    assert result.exit_code == 1
    assert "TIXI_ATTACHMENT_S3_BUCKET is not set" in result.output
    assert not (tmp_path / "x.db").exists()  # refused before anything was opened


def test_the_database_is_the_default_store(monkeypatch: pytest.MonkeyPatch, desk: Desk, client: TestClient,
                                           factory: sessionmaker[Session]) -> None:
    monkeypatch.delenv("TIXI_ATTACHMENT_STORE", raising=False)
    assert Settings(secret_key="x").attachment_store == "database"
    assert isinstance(client.app.state.attachment_store, DatabaseAttachmentStore)  # type: ignore[attr-defined]
    desk.stage("outlet")
    assert _rows(factory, AttachmentBlob) == 1
