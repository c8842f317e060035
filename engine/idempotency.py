"""`Idempotency-Key` on starts and completions: a retried request gets the first answer, not a second case.

A client (the hotline's system, a phone on a bad network) sends the same key again when it did not
hear the answer. The first answer is stored with the change it reports, in the same transaction, so
a failed request stores nothing and may be retried; keys are per person and expire. The same key
with another request (another body or address) is refused: the client reused a key by mistake.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from engine.clock import Clock
from engine.db import flush
from engine.errors import ValidationError
from engine.idempotency_tables import IdempotentAnswer

KEEP_FOR = timedelta(hours=24)
HEADER = "Idempotency-Key"
MAX_KEY = 200


def fingerprint(method: str, path: str, body: Any) -> str:
    payload = json.dumps([method, path, body], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def find_answer(session: Session, clock: Clock, *, username: str, key: str, print_: str) -> tuple[int, Any] | None:
    """The stored (status, body) of this person's earlier request with `key`, or None (new or expired).

    Raises: ValidationError naming the header when the key is malformed or came with another request.
    """
    if not key.strip() or len(key) > MAX_KEY:
        raise ValidationError(f"{HEADER} must be 1 to {MAX_KEY} characters", field=HEADER)
    row = session.get(IdempotentAnswer, (username, key))
    if row is None:
        return None
    if row.expires_at <= clock.now():
        session.delete(row)
        flush(session)
        return None
    if row.fingerprint != print_:
        raise ValidationError(f"{HEADER} '{key}' was used for another request; use a new key for a new request",
                              field=HEADER)
    return row.status_code, row.body


def remember(session: Session, clock: Clock, *, username: str, key: str, print_: str, status_code: int,
             body: Any) -> None:
    """Keep the answer with the change it reports (the caller commits both)."""
    now = clock.now()
    session.execute(delete(IdempotentAnswer).where(IdempotentAnswer.expires_at <= now))  # expired ones, anyone's
    session.add(IdempotentAnswer(username=username, key=key, fingerprint=print_, status_code=status_code,
                                 body=body, created_at=now, expires_at=now + KEEP_FOR))
    flush(session)
