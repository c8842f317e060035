"""A user's sessions: ending every token of theirs, and changing their own password.

A token carries the user's `token_generation` at issue and is honoured only while the user's row
still holds that number (api/deps.py). Moving it on is how a logout, a password change or reset and
disabling end the tokens already handed out, on every server sharing the database.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from engine.audit import record_event
from engine.clock import Clock
from engine.errors import AuthenticationError
from engine.identity import Actor, get_user


def end_sessions(session: Session, clock: Clock, *, actor: Actor, reason: str) -> int:
    """End every token of the acting user (logout); returns the new generation.

    Raises: NotFoundError.
    """
    user = get_user(session, actor.username)
    user.token_generation += 1
    record_event(session, clock, actor=actor.username, event_type="sessions_ended",
                 data={"username": actor.username, "reason": reason})
    session.flush()
    return user.token_generation


def change_own_password(session: Session, clock: Clock, *, actor: Actor, password_hash: str,
                        checked_generation: int) -> int:
    """Store a new password the caller proved they know the old one for; ends their other tokens.

    `password_hash` is made by the caller outside the transaction; `checked_generation` is the
    generation read when the current password was checked: if it moved since (a reset by an admin,
    a logout elsewhere) the change is refused rather than overwrite a newer password.
    Returns the new generation, for the token that replaces the caller's.

    Raises: NotFoundError, AuthenticationError.
    """
    user = get_user(session, actor.username)
    if user.token_generation != checked_generation or not user.is_active:
        raise AuthenticationError("your session was ended while the password was being changed; log in again")
    user.password_hash = password_hash
    user.token_generation += 1
    user.failed_logins, user.first_failed_at, user.locked_until_at = 0, None, None
    record_event(session, clock, actor=actor.username, event_type="password_changed",
                 data={"username": actor.username})
    session.flush()
    return user.token_generation
