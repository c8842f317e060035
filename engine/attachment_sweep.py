"""The sweep of an S3 attachment store: delete the objects no attachment row names any more.

Objects without a row are left by steps that failed after their put and by files deleted (the
object store's delete waits for the row's deletion to commit: engine/attachment_s3.py). An object
is deleted only when it is older than the grace period, by the store's own clock against the
caller's: a step between its put and its commit has a young object and no row yet. Keys that are
not an attachment's (`<uuid>` or `<uuid>.thumbnail`) are not Tixi's and are left alone.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from engine.attachment_store import s3_attachment_store
from engine.attachment_tables import Attachment
from engine.clock import Clock
from engine.config import EngineConfig
from engine.db import transaction

if TYPE_CHECKING:  # boto3 loads only when the S3 store is chosen (engine/attachment_store.py)
    from engine.attachment_s3 import S3AttachmentStore, StoredObject

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepCounts:
    listed: int = 0  # objects under the store's prefix
    with_row: int = 0  # kept: an attachment row names them
    young: int = 0  # kept: no row, but within the grace period
    foreign: int = 0  # kept: not an attachment's key
    deleted: int = 0

    def __add__(self, other: SweepCounts) -> SweepCounts:
        return SweepCounts(self.listed + other.listed, self.with_row + other.with_row, self.young + other.young,
                           self.foreign + other.foreign, self.deleted + other.deleted)


def sweep_orphans(factory: sessionmaker[Session], clock: Clock, store: S3AttachmentStore, *, grace: timedelta,
                  on_page: Callable[[SweepCounts], None] | None = None) -> SweepCounts:
    """Delete the store's objects that no attachment row names and that are older than `grace`.

    Goes a page of objects (up to 1,000) at a time: each page's rows are read in a short transaction
    of their own, then its orphans deleted outside any. `on_page` hears the running totals.
    Raises: AttachmentStoreUnavailableError.
    """
    totals = SweepCounts()
    for page in store.stored_objects():
        totals += _sweep_page(factory, store, page, older_than=clock.now() - grace)
        if on_page is not None:
            on_page(totals)
    return totals


def sweep_configured_store(factory: sessionmaker[Session], clock: Clock, config: EngineConfig) -> SweepCounts | None:
    """The scheduler's sweep: the S3 store's orphans past the configured grace; None with the database store.

    Raises: AttachmentStoreConfigError, AttachmentStoreUnavailableError.
    """
    if config.attachment_store != "s3":
        return None
    totals = sweep_orphans(factory, clock, s3_attachment_store(config),
                           grace=timedelta(minutes=config.attachment_s3_sweep_grace_minutes))
    log.info("attachment store sweep: %d object(s) listed, %d deleted without a row, %d too young to delete",
             totals.listed, totals.deleted, totals.young)
    return totals


def _sweep_page(factory: sessionmaker[Session], store: S3AttachmentStore, page: list[StoredObject], *,
                older_than: datetime) -> SweepCounts:
    owners = {item.key: _attachment_id(item.key) for item in page}
    ids = {owner for owner in owners.values() if owner is not None}
    with transaction(factory) as session:
        alive = set(session.scalars(select(Attachment.attachment_id).where(Attachment.attachment_id.in_(ids)))) \
            if ids else set()
    counts = SweepCounts(listed=len(page))
    orphans: list[str] = []
    for item in page:
        owner = owners[item.key]
        if owner is None:
            counts = replace(counts, foreign=counts.foreign + 1)
        elif owner in alive:
            counts = replace(counts, with_row=counts.with_row + 1)
        elif item.last_modified >= older_than:
            counts = replace(counts, young=counts.young + 1)
        else:
            orphans.append(item.key)
    return replace(counts, deleted=store.remove(orphans) if orphans else 0)


def _attachment_id(key: str) -> uuid.UUID | None:
    name, _, suffix = key.partition(".")
    if suffix not in ("", "thumbnail"):
        return None
    try:
        owner = uuid.UUID(name)
    except ValueError:
        return None
    return owner if str(owner) == name else None  # only the form Tixi writes, not braces or upper case
