"""Who calls the Camunda-compatible API: a service account by HTTP basic auth, or a person's bearer token.

A worker sends its service account's name and API key with every request (the Camunda client's
`auth_basic`). Checking an argon2 hash costs ~100 ms of CPU, so a checked key is kept for
TIXI_SERVICE_KEY_CACHE_SECONDS, by its SHA-256 only; the account is still read on every request,
so a revoked account is refused at once. Checks run outside any transaction.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import time

from fastapi import Request

from api.deps import ClockDep, SessionDep, SettingsDep, actor_for_token
from engine.errors import AuthenticationError
from engine.identity import Actor
from engine.service_accounts import find_key_hash, key_matches, service_actor

_BASIC_HINT = "send the service account's name and API key by HTTP basic auth (the client's auth_basic)"


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


def get_worker(request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep) -> Actor:
    """Raises: AuthenticationError."""
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer":
        return actor_for_token(request, session, credentials.strip())
    if scheme.lower() != "basic" or not credentials.strip():
        raise AuthenticationError(_BASIC_HINT)
    try:
        name, separator, key = base64.b64decode(credentials.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthenticationError(f"the basic credentials are not base64 of 'name:key'; {_BASIC_HINT}") from None
    if not separator or not name or not key:
        raise AuthenticationError(_BASIC_HINT)
    keys: ServiceKeyCache = request.app.state.service_keys
    digest = hashlib.sha256(f"{name}\0{key}".encode()).hexdigest()
    if not keys.knows(digest):
        with session.begin():
            key_hash = find_key_hash(session, name)
        if not key_matches(key_hash, key):  # outside the transaction: ~100 ms of CPU
            raise AuthenticationError("wrong service account name or API key, or the account is revoked")
        keys.keep(digest)
    with session.begin():
        actor = service_actor(session, clock, name)
    if actor is None:
        raise AuthenticationError("wrong service account name or API key, or the account is revoked")
    return actor
