"""A machine's credentials: a service account's name and API key by HTTP basic auth, on every path.

Workers on the Camunda-compatible path send them with every request (the Camunda client's
`auth_basic`), and so do systems such as the hotline on /api. Checking an argon2 hash costs ~100 ms
of CPU, so a checked key is kept for TIXI_SERVICE_KEY_CACHE_SECONDS, by its SHA-256 only; the
account is still read on every request, so a revoked account is refused at once and a change of its
groups counts from the next request. Checks run outside any transaction, in a worker thread.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import time

from fastapi import Request
from sqlalchemy.orm import Session

from engine.errors import AuthenticationError
from engine.identity import Actor
from engine.service_accounts import find_key_hash, key_matches, service_actor

BASIC_HINT = "send a service account's name and API key by HTTP basic auth (the Camunda client's auth_basic)"
_REFUSED = "wrong service account name or API key, or the account is revoked"


class ServiceKeyCache:
    """Keys checked recently: SHA-256 of name and key -> when the check stops counting (monotonic seconds)."""

    def __init__(self, seconds: float, max_kept: int = 1000) -> None:
        self._seconds, self._max = seconds, max_kept
        self._kept: dict[str, float] = {}
        self._lock = threading.Lock()

    def knows(self, digest: str) -> bool:
        with self._lock:
            until = self._kept.get(digest)
            return until is not None and until > time.monotonic()

    def keep(self, digest: str) -> None:
        if self._seconds <= 0:
            return
        with self._lock:
            if len(self._kept) >= self._max:
                self._kept.clear()
            self._kept[digest] = time.monotonic() + self._seconds


def actor_for_basic(request: Request, session: Session, credentials: str) -> Actor:
    """The service account behind basic credentials (base64 of 'name:key'). Raises: AuthenticationError."""
    try:
        name, separator, key = base64.b64decode(credentials.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthenticationError(f"the basic credentials are not base64 of 'name:key'; {BASIC_HINT}") from None
    if not separator or not name or not key:
        raise AuthenticationError(BASIC_HINT)
    keys: ServiceKeyCache = request.app.state.service_keys
    digest = hashlib.sha256(f"{name}\0{key}".encode()).hexdigest()
    if not keys.knows(digest):
        with session.begin():
            key_hash = find_key_hash(session, name)
        if not key_matches(key_hash, key):  # outside the transaction: ~100 ms of CPU
            raise AuthenticationError(_REFUSED)
        keys.keep(digest)
    with session.begin():
        actor = service_actor(session, request.app.state.clock, name)
    if actor is None:
        raise AuthenticationError(_REFUSED)
    return actor
