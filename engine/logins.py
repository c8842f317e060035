"""Password logins: what a login attempt reads, and the account lock-out after repeated failures.

A login is three steps so that no transaction is open while the password is hashed (see
engine/passwords.py): `find_login` in a short transaction, the hash check outside any, then
`record_login_failure` or `record_login_success` in a second short transaction. The lock-out is
stored on the user row, so several servers on one database share it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import record_event
from engine.clock import Clock
from engine.errors import LockedOutError
from engine.identity import USERNAME, Actor, get_user
from engine.tables import User


@dataclass(frozen=True)
class LockoutPolicy:
    failures: int = 10  # failed logins within `window` that lock the account ...
    window: timedelta = timedelta(minutes=15)
    lockout: timedelta = timedelta(minutes=15)  # ... for this long


@dataclass(frozen=True)
class LoginRecord:
    """A user as a login attempt sees them, read before the (slow) password check."""

    username: str
    password_hash: str
    is_active: bool
    token_generation: int
    locked_until_at: datetime | None
    has_failures: bool  # earlier failures a success clears


def find_login(session: Session, username: str) -> LoginRecord | None:
    """The user a login names, or None for a name no user has (or can have: a NUL, which PostgreSQL refuses)."""
    if not USERNAME.match(username):
        return None
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        return None
    return LoginRecord(user.username, user.password_hash, user.is_active, user.token_generation,
                       user.locked_until_at, user.failed_logins > 0 or user.first_failed_at is not None)


def lockout_error(username: str, locked_until_at: datetime, now: datetime) -> LockedOutError:
    seconds = max(1, math.ceil((locked_until_at - now).total_seconds()))
    return LockedOutError(
        f"too many failed logins for '{username}': try again in {math.ceil(seconds / 60)} minute(s), or ask an "
        f"administrator to unlock the account (POST /api/users/{username}/unlock or 'tixi users unlock {username}')",
        retry_after_seconds=seconds)


def require_not_locked(record: LoginRecord, now: datetime) -> None:
    """Raises: LockedOutError while the account's lock-out lasts (checked before any hashing)."""
    if record.locked_until_at is not None and now < record.locked_until_at:
        raise lockout_error(record.username, record.locked_until_at, now)


def record_login_failure(session: Session, clock: Clock, *, username: str, address: str,
                         policy: LockoutPolicy) -> datetime | None:
    """Count a failed login of an existing user; returns when the lock-out it started ends, if it started one."""
    now = clock.now()
    user = session.scalar(select(User).where(User.username == username).with_for_update())
    if user is None:
        return None
    if user.first_failed_at is None or now - user.first_failed_at >= policy.window:
        user.failed_logins, user.first_failed_at = 0, now
    failures = user.failed_logins = user.failed_logins + 1
    locked_until_at = now + policy.lockout if failures >= policy.failures else None
    if locked_until_at is not None:
        user.locked_until_at = locked_until_at
        user.failed_logins, user.first_failed_at = 0, None  # the next window starts after the lock-out
    record_event(session, clock, actor="anonymous", event_type="login_failed",
                 data={"username": username, "address": address, "failures": failures,
                       "locked_until_at": locked_until_at.isoformat() if locked_until_at else None})
    session.flush()
    return locked_until_at


def record_login_success(session: Session, clock: Clock, *, username: str) -> None:
    """Forget the user's earlier failures (only writes, and records, when there were any)."""
    user = session.scalar(select(User).where(User.username == username).with_for_update())
    if user is None or (user.failed_logins == 0 and user.first_failed_at is None):
        return
    user.failed_logins, user.first_failed_at = 0, None
    record_event(session, clock, actor=username, event_type="login_failures_cleared", data={"username": username})
    session.flush()


def unlock_user(session: Session, clock: Clock, *, actor: Actor, username: str) -> bool:
    """Clear a user's lock-out and failure count (admins); returns whether they were locked out.

    Raises: NotFoundError.
    """
    user = get_user(session, username)
    was_locked = user.locked_until_at is not None and clock.now() < user.locked_until_at
    user.failed_logins, user.first_failed_at, user.locked_until_at = 0, None, None
    record_event(session, clock, actor=actor.username, event_type="user_unlocked",
                 data={"username": username, "was_locked": was_locked})
    session.flush()
    return was_locked
