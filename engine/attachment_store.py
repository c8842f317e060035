"""Where attachments' bytes are kept: a small interface, and the database behind it by default.

The database store writes in the session of the step that adds the file, so the file exists exactly
when the step committed. `TIXI_ATTACHMENT_STORE=s3` keeps them in an S3-compatible object store
instead (engine/attachment_s3.py says how a put, get and delete stay consistent with the
transaction they cannot join). Choosing it without its endpoint, bucket or keys stops the start
with a message naming the setting.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from pydantic import SecretStr
from sqlalchemy import delete
from sqlalchemy.orm import Session

from engine.attachment_tables import AttachmentBlob
from engine.config import EngineConfig
from engine.errors import NotFoundError

if TYPE_CHECKING:
    from engine.attachment_s3 import S3AttachmentStore


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


_S3_REQUIRED = (("attachment_s3_endpoint_url", "TIXI_ATTACHMENT_S3_ENDPOINT_URL", "e.g. http://127.0.0.1:9000"),
                ("attachment_s3_bucket", "TIXI_ATTACHMENT_S3_BUCKET", "a bucket that exists"),
                ("attachment_s3_access_key_id", "TIXI_ATTACHMENT_S3_ACCESS_KEY_ID", "the access key"),
                ("attachment_s3_secret_access_key", "TIXI_ATTACHMENT_S3_SECRET_ACCESS_KEY", "its secret"))


def attachment_store(config: EngineConfig) -> AttachmentStore:
    """The store TIXI_ATTACHMENT_STORE names. Raises: AttachmentStoreConfigError."""
    if config.attachment_store == "database":
        return DatabaseAttachmentStore()
    return s3_attachment_store(config)


def s3_attachment_store(config: EngineConfig) -> S3AttachmentStore:
    """The S3-compatible store the TIXI_ATTACHMENT_S3_* settings describe. Raises: AttachmentStoreConfigError."""
    for field, variable, example in _S3_REQUIRED:
        value = getattr(config, field)
        if not (value.get_secret_value() if isinstance(value, SecretStr) else value).strip():
            raise AttachmentStoreConfigError(
                f"TIXI_ATTACHMENT_STORE is s3 but {variable} is not set; set it ({example}), or set "
                "TIXI_ATTACHMENT_STORE=database to keep files in the database")
    from engine.attachment_s3 import S3AttachmentStore, S3Location  # boto3 loads only for this store

    return S3AttachmentStore(S3Location(
        endpoint_url=config.attachment_s3_endpoint_url, bucket=config.attachment_s3_bucket,
        region=config.attachment_s3_region, access_key_id=config.attachment_s3_access_key_id,
        secret_access_key=config.attachment_s3_secret_access_key.get_secret_value(),
        key_prefix=config.attachment_s3_key_prefix, addressing_style=config.attachment_s3_addressing_style,
        connect_timeout_seconds=config.attachment_s3_connect_timeout_seconds,
        read_timeout_seconds=config.attachment_s3_read_timeout_seconds, retries=config.attachment_s3_retries))
