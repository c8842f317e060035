"""Attachments' bytes in an S3-compatible object store (MinIO, Ceph, OSS, AWS S3), through boto3.

An object store takes no part in the database's transaction, so each of the three calls decides
what a step that commits, or one that rolls back, leaves behind:

- put writes the object at once, before the step's row commits. A step that then fails leaves an
  object no row names (an orphan); it is never read, since reads go through the row, and the sweep
  deletes it. The key is the attachment's own UUID (and `<uuid>.thumbnail`), made fresh for each
  file, so a put can never overwrite another file's bytes, nor a retried step an earlier one's.
  A put the store refuses or does not answer fails the step: no row without its bytes.
- get reads the object. A missing object is NotFoundError (404), as a missing file is in the
  database store; a store that cannot be reached within the connect/read timeouts (after the few
  retries configured) is AttachmentStoreUnavailableError (503), never a 500 or a hung request.
- delete deletes nothing. Were the object deleted in the transaction and the transaction then
  rolled back, the row would come back and its bytes would be gone. The row goes with the step;
  the object stays until `sweep_orphans` (engine/attachment_sweep.py: every hour in the scheduler,
  and `tixi attachments sweep`) finds it without a row. The sweep deletes only objects older than a grace period, so that the
  object of a step still in flight (put, row not yet committed) is not taken from under it.

The trade: the bytes are never lost to a rollback, at the cost of orphans (a failed step's upload,
a deleted file) that occupy the bucket until the next sweep. The put is an outbound call made
while the step's transaction is open; the timeouts bound how long it can hold it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy.orm import Session

from engine.errors import AttachmentStoreUnavailableError, NotFoundError

log = logging.getLogger(__name__)
_MISSING = {"NoSuchKey", "404", "NotFound"}
_LIST_PAGE = 1000  # the most keys S3 lists at once, and deletes at once


@dataclass(frozen=True)
class S3Location:
    """Where and how to reach the bucket; built from the TIXI_ATTACHMENT_S3_* settings."""

    endpoint_url: str
    bucket: str
    region: str
    access_key_id: str
    secret_access_key: str
    key_prefix: str = ""
    addressing_style: str = "path"
    connect_timeout_seconds: float = 3.0
    read_timeout_seconds: float = 5.0
    retries: int = 1


@dataclass(frozen=True)
class StoredObject:
    key: str  # the attachment store's key (the prefix taken off)
    last_modified: datetime  # aware, as the object store's clock put it


class S3AttachmentStore:
    """The bytes as objects `<prefix><key>` in one bucket; see the module docstring for consistency."""

    def __init__(self, location: S3Location) -> None:
        self.location = location
        config = Config(connect_timeout=location.connect_timeout_seconds, read_timeout=location.read_timeout_seconds,
                        retries={"total_max_attempts": location.retries + 1, "mode": "standard"},
                        s3={"addressing_style": location.addressing_style})
        self._client: Any = boto3.session.Session().client(
            "s3", endpoint_url=location.endpoint_url, region_name=location.region,
            aws_access_key_id=location.access_key_id, aws_secret_access_key=location.secret_access_key, config=config)

    def put(self, session: Session, key: str, content: bytes) -> None:
        """Write the object now, before the caller's transaction commits. Raises: AttachmentStoreUnavailableError."""
        with self._reaching("store the file"):
            self._client.put_object(Bucket=self.location.bucket, Key=self._object_key(key), Body=content)

    def get(self, session: Session, key: str) -> bytes:
        """Raises: NotFoundError, AttachmentStoreUnavailableError."""
        with self._reaching("read the file"):
            try:
                answer = self._client.get_object(Bucket=self.location.bucket, Key=self._object_key(key))
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in _MISSING:
                    raise NotFoundError(f"no stored file {key}") from None
                raise
            content: bytes = answer["Body"].read()
        return content

    def delete(self, session: Session, key: str) -> None:
        """Nothing now: the caller's transaction may still roll back; `sweep_orphans` removes it after."""

    def stored_objects(self) -> Iterator[list[StoredObject]]:
        """Every object under the prefix, a page at a time. Raises: AttachmentStoreUnavailableError."""
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.location.bucket, Prefix=self.location.key_prefix, PaginationConfig={"PageSize": _LIST_PAGE})
        with self._reaching("list the files"):
            for page in pages:
                yield [StoredObject(item["Key"][len(self.location.key_prefix):], item["LastModified"])
                       for item in page.get("Contents", [])]

    def remove(self, keys: list[str]) -> int:
        """Delete these objects now (the sweep's call, after their rows are known gone); answers how many.

        Raises: AttachmentStoreUnavailableError.
        """
        removed = 0
        with self._reaching("delete files"):
            for start in range(0, len(keys), _LIST_PAGE):
                batch = [{"Key": self._object_key(key)} for key in keys[start:start + _LIST_PAGE]]
                answer = self._client.delete_objects(Bucket=self.location.bucket,
                                                     Delete={"Objects": batch, "Quiet": True})
                failed = answer.get("Errors", [])
                if failed:
                    raise AttachmentStoreUnavailableError(
                        f"the attachment store refused to delete {len(failed)} file(s), e.g. {failed[0].get('Key')}: "
                        f"{failed[0].get('Message')}")
                removed += len(batch)
        return removed

    def _object_key(self, key: str) -> str:
        return f"{self.location.key_prefix}{key}"

    @contextmanager
    def _reaching(self, doing: str) -> Iterator[None]:
        """Turn the store's not answering, or refusing (credentials, no such bucket), into a 503."""
        try:
            yield
        except (BotoCoreError, ClientError) as error:
            # The endpoint and the store's own words are for the operator's log, not for the user's page.
            log.warning("attachment store: could not %s in bucket %r at %s: %s", doing, self.location.bucket,
                        self.location.endpoint_url, error)
            raise AttachmentStoreUnavailableError(
                f"could not {doing}: the attachment store did not answer in time or refused the request; "
                "nothing was changed, try again in a moment (the server's log says why)",
                retry_after_seconds=30) from None
