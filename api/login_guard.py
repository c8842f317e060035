"""What stands between an anonymous caller and the password hash: throttling, lock-out, bounded hashing.

A login flood used to take the whole API down: every attempt hashed (argon2, ~100 ms of CPU)
inside a transaction, so attempts queued on the database pool (PostgreSQL) or the write lock
(SQLite), and on the thread pool every other request shares. Here an attempt

1. is refused at once (429, no database, no hash) if its client address failed too often lately;
2. reads the user in a short transaction of its own, and is refused (429, no hash) if the account is
   locked out; names no user has are counted here in memory, so they lock out alike and a lock-out
   tells nobody whether an account exists;
3. hashes on a small executor of its own, `slots` at a time with `queue` more waiting; past that it
   is refused at once (429), before step 2's read, instead of queueing without bound;
4. records a failure (or clears earlier ones) in a second short transaction.

The guard lives on the event loop: its counters are touched only there, so they need no lock.
Per-address counts are per server process (a second server counts its own); the per-account
lock-out is in the database and shared.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from api.problems import BusyError, TooManyRequestsError, problem, status_of
from engine.clock import Clock
from engine.db import transaction
from engine.errors import AuthenticationError
from engine.logins import (
    LockoutPolicy,
    LoginRecord,
    find_login,
    lockout_error,
    record_login_failure,
    record_login_success,
    require_not_locked,
)
from engine.passwords import hash_password, password_matches

T = TypeVar("T")
_MAX_KEY = 100  # a name or address longer than this is counted by its first characters
_HASH_NICENESS = 10


@dataclass
class _Failures:
    count: int
    first_at: datetime
    blocked_until: datetime | None = None


class FailureCounts:
    """Failures per key (a client address, an unknown user name) within a window, at most `max_keys` kept.

    Reads the clock it is given, so tests move time instead of sleeping.
    """

    def __init__(self, *, limit: int, window: timedelta, block: timedelta, max_keys: int = 10_000) -> None:
        self._limit, self._window, self._block, self._max_keys = limit, window, block, max_keys
        self._kept: dict[str, _Failures] = {}

    def blocked_until(self, key: str, now: datetime) -> datetime | None:
        found = self._kept.get(key[:_MAX_KEY])
        if found is None or found.blocked_until is None or now >= found.blocked_until:
            return None
        return found.blocked_until

    def add_failure(self, key: str, now: datetime) -> None:
        key = key[:_MAX_KEY]
        found = self._kept.get(key)
        if found is None or self._ended(found, now):
            self._make_room(now)
            found = self._kept[key] = _Failures(0, now)
        found.count += 1
        if found.count >= self._limit and found.blocked_until is None:
            found.blocked_until = now + self._block

    def _ended(self, found: _Failures, now: datetime) -> bool:
        """Whether counting starts afresh: the window passed unblocked, or the block it led to is over."""
        if found.blocked_until is not None:
            return now >= found.blocked_until
        return now - found.first_at >= self._window

    def _make_room(self, now: datetime) -> None:
        if len(self._kept) < self._max_keys:
            return
        for key in [k for k, f in self._kept.items() if now - f.first_at >= self._window + self._block]:
            del self._kept[key]
        while len(self._kept) >= self._max_keys:  # still full: the oldest go first (dicts keep insertion order)
            del self._kept[next(iter(self._kept))]


class HashSlots:
    """A few threads of its own for password hashes, so hashing never waits on (or holds) the shared pool.

    Its threads run at a lower CPU priority (nice 10, inherited by the threads argon2 starts for its
    lanes): a flood of logins then takes the CPU that the requests of people at work leave over,
    not an equal share of it.
    """

    def __init__(self, *, slots: int, queue: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=slots, thread_name_prefix="password-hash",
                                            initializer=_lower_priority)
        self._limit = slots + queue
        self._taken = 0

    def busy(self) -> BusyError | None:
        if self._taken < self._limit:
            return None
        return BusyError("the server is checking many passwords at once; retry in a second", retry_after_seconds=1)

    @asynccontextmanager
    async def place(self) -> AsyncIterator[None]:
        """Hold a place for one login's read and hash. Raises: BusyError at once when every place is taken."""
        refused = self.busy()
        if refused is not None:
            raise refused
        self._taken += 1
        try:
            yield
        finally:
            self._taken -= 1

    async def run(self, work: Callable[..., T], *args: object) -> T:
        """Run `work` on a hashing thread; call it holding a `place`."""
        future = asyncio.get_running_loop().run_in_executor(self._executor, work, *args)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            # The caller went away but the hash runs on: its place stays taken until it ends, or
            # attempts abandoned at once would queue hashes past the bound.
            self._taken += 1
            future.add_done_callback(self._release)
            raise

    def _release(self, _: object) -> None:
        self._taken -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def _lower_priority() -> None:
    with suppress(OSError):  # Linux: a thread's own nice value (PRIO_PROCESS with its thread id)
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _HASH_NICENESS)


def _retry_after(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds()))


class LoginGuard:
    def __init__(self, factory: sessionmaker[Session], clock: Clock, *, policy: LockoutPolicy,
                 address_failures: int, slots: HashSlots) -> None:
        self._factory, self._clock, self._policy, self.slots = factory, clock, policy, slots
        self._addresses = FailureCounts(limit=address_failures, window=policy.window, block=policy.window)
        self._unknown_names = FailureCounts(limit=policy.failures, window=policy.window, block=policy.lockout)

    def refusal(self, address: str) -> TooManyRequestsError | BusyError | None:
        """What an attempt from `address` is answered before its body is read, if that is known already."""
        now = self._clock.now()
        blocked = self._addresses.blocked_until(address, now)
        if blocked is not None:
            minutes = math.ceil(_retry_after(blocked, now) / 60)
            return TooManyRequestsError(f"too many failed logins from your address ({address}); try again in "
                                        f"{minutes} minute(s)", retry_after_seconds=_retry_after(blocked, now))
        return self.slots.busy()

    async def check_password(self, username: str, password: str, *, address: str) -> LoginRecord:
        """The user whose password this is, active and not locked out.

        Raises: TooManyRequestsError, LockedOutError, BusyError (all 429), AuthenticationError (the same for an
        unknown user, a wrong password and a disabled user).
        """
        now = self._clock.now()
        refused = self.refusal(address)
        if refused is not None:
            raise refused
        # The place is taken before the read: a flood past the places costs no database round trip.
        async with self.slots.place():
            record = await run_in_threadpool(self._read, username)
            if record is not None:
                require_not_locked(record, now)
            else:
                name_blocked = self._unknown_names.blocked_until(username, now)
                if name_blocked is not None:
                    raise lockout_error(username, name_blocked, now)
            matches = await self.slots.run(password_matches, record.password_hash if record else None, password)
        if record is not None and matches and record.is_active:
            if record.has_failures:
                await run_in_threadpool(self._succeeded, username)
            return record
        now = self._clock.now()
        self._addresses.add_failure(address, now)
        if record is not None:
            await run_in_threadpool(self._failed, username, address)
        else:
            self._unknown_names.add_failure(username, now)
        raise AuthenticationError("wrong username or password")

    async def hash(self, password: str) -> str:
        """A new password's hash, made in a hashing slot. Raises: BusyError."""
        async with self.slots.place():
            return await self.slots.run(hash_password, password)

    def _read(self, username: str) -> LoginRecord | None:
        with transaction(self._factory) as session:
            return find_login(session, username)

    def _failed(self, username: str, address: str) -> None:
        with transaction(self._factory) as session:
            record_login_failure(session, self._clock, username=username, address=address, policy=self._policy)

    def _succeeded(self, username: str) -> None:
        with transaction(self._factory) as session:
            record_login_success(session, self._clock, username=username)


class EarlyLoginRefusal:
    """Answer a login the guard would refuse anyway before FastAPI reads its form or resolves a dependency.

    A flood whose attempts are refused at once sends the next at once: each refusal is a request the
    event loop serves beside the people at work, so it has to cost next to nothing. Only the API's
    token route: the login page's refusal is a page (api/web/login.py).
    """

    def __init__(self, app: ASGIApp, *, path: str = "/api/auth/token") -> None:
        self.app, self.path = app, path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == self.path:
            guard: LoginGuard = scope["app"].state.login_guard
            refused = guard.refusal(scope["client"][0] if scope.get("client") else "unknown")
            if refused is not None:
                response = problem(status_of(refused), refused.code, refused.title, refused.detail, self.path,
                                   refused.extras())
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
