"""`tixi attachments sweep`: delete the S3 store's objects that no attachment row names (engine/attachment_sweep.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from api.cli_support import database_ready, fail, load_settings
from api.settings import Settings
from engine.attachment_store import AttachmentStoreConfigError, attachment_store, s3_attachment_store
from engine.attachment_sweep import SweepCounts, sweep_orphans
from engine.clock import SystemClock
from engine.db import make_engine
from engine.errors import ServiceError
from engine.workflow_store import session_factory

attachments_app = typer.Typer(help="Attachments' bytes in the S3-compatible store.", no_args_is_help=True)


def store_or_fail(settings: Settings) -> None:
    """Stop a command at once, naming the setting, when the configured attachment store cannot run."""
    try:
        attachment_store(settings)
    except AttachmentStoreConfigError as error:
        raise fail(str(error)) from None


@attachments_app.command("sweep")
def sweep(grace_minutes: Annotated[float | None, typer.Option(
        min=0, help="only objects older than this (default TIXI_ATTACHMENT_S3_SWEEP_GRACE_MINUTES)")] = None) -> None:
    """Delete objects left without a row (a failed step's upload, a deleted file), once past the grace period."""
    settings = load_settings()
    if settings.attachment_store != "s3":
        typer.echo("TIXI_ATTACHMENT_STORE is database: files go and stay with their rows; nothing to sweep")
        return
    try:
        store = s3_attachment_store(settings)
    except AttachmentStoreConfigError as error:
        raise fail(str(error)) from None
    grace = timedelta(minutes=settings.attachment_s3_sweep_grace_minutes if grace_minutes is None else grace_minutes)
    where = f"s3 bucket {settings.attachment_s3_bucket}/{settings.attachment_s3_key_prefix}"
    typer.echo(f"sweeping {where}: objects without a row, older than {grace}")
    factory = session_factory(make_engine(settings.database_url), settings)
    try:
        with database_ready():
            totals = sweep_orphans(factory, SystemClock(), store, grace=grace, on_page=_progress)
    except ServiceError as error:
        raise fail(error.detail) from None
    typer.echo(f"done: {_counted(totals)}")


def _progress(totals: SweepCounts) -> None:
    typer.echo(f"  ... {_counted(totals)}")


def _counted(totals: SweepCounts) -> str:
    return (f"{totals.listed} object(s) listed, {totals.deleted} deleted, {totals.with_row} kept with their row, "
            f"{totals.young} kept as too young, {totals.foreign} not attachments' (left alone)")
