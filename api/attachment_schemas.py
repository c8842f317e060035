"""Wire shape of an attachment: what the file is and where to fetch it."""

from __future__ import annotations

import uuid
from datetime import datetime

from api.schemas import Out
from engine.attachments import AttachmentInfo


class AttachmentOut(Out):
    attachment_id: uuid.UUID
    instance_id: uuid.UUID | None  # none while staged for a start form
    task_id: uuid.UUID | None
    filename: str
    content_type: str  # sniffed from the bytes
    size_bytes: int
    sha256: str
    uploaded_by: str
    uploaded_at: datetime
    download_url: str
    thumbnail_url: str | None

    @classmethod
    def of(cls, info: AttachmentInfo) -> AttachmentOut:
        fields = {k: v for k, v in info.__dict__.items() if k != "has_thumbnail"}
        url = f"/api/attachments/{info.attachment_id}"
        return cls(**fields, download_url=url, thumbnail_url=f"{url}/thumbnail" if info.has_thumbnail else None)
