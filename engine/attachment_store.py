"""Where attachments' bytes are kept: a small interface, and the database behind it by default.

The database store writes in the session of the step that adds the file, so the file exists exactly
when the step committed. An S3-compatible store would implement the same three calls (a put
before the commit leaves an object without a row when the transaction fails; a sweep of keys
without rows cleans that up); no S3 client is installed, so choosing it is refused at start-up
rather than pretended.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import delete
from sqlalchemy.orm import Session

from engine.attachment_tables import AttachmentBlob
from engine.errors import NotFoundError


class AttachmentStore(Protocol):
    def put(self, session: Session, key: str, content: bytes) -> None: ...

    def get(self, session: Session, key: str) -> bytes:
        """Raises: NotFoundError."""
        ...

    def delete(self, session: Session, key: str) -> None: ...


class DatabaseAttachmentStore:
    """The bytes in `attachment_blobs`, written and removed in the caller's transaction."""

    def put(self, session: Session, key: str, content: bytes) -> None:
        session.add(AttachmentBlob(key=key, content=content))

    def get(self, session: Session, key: str) -> bytes:
        blob = session.get(AttachmentBlob, key)
        if blob is None:
            raise NotFoundError(f"no stored file {key}")
        return blob.content

    def delete(self, session: Session, key: str) -> None:
        session.execute(delete(AttachmentBlob).where(AttachmentBlob.key == key))


class AttachmentStoreConfigError(Exception):
    """The configured store cannot run here; the message names the setting and what to set."""


def attachment_store(kind: str) -> AttachmentStore:
    """The store TIXI_ATTACHMENT_STORE names. Raises: AttachmentStoreConfigError."""
    if kind == "database":
        return DatabaseAttachmentStore()
    if kind == "s3":
        raise AttachmentStoreConfigError(
            "TIXI_ATTACHMENT_STORE=s3 is an interface point only: no S3 client (boto3, minio) is installed "
            "and no S3 store is implemented; set TIXI_ATTACHMENT_STORE=database, or implement "
            "engine.attachment_store.AttachmentStore (put/get/delete) for your object store")
    raise AttachmentStoreConfigError(f"TIXI_ATTACHMENT_STORE is {kind!r}; set it to database")
