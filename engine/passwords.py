"""Argon2 password hashes: making one, checking one, and the rules a new password must meet.

Hashing costs about 100 ms of CPU by design. Callers run it outside any database transaction: a
transaction held across a hash pins a pooled connection (PostgreSQL) or the write lock (SQLite)
for that long, and a flood of logins then stalls every other request.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from engine.errors import ValidationError

MIN_LENGTH = 8
_hasher = PasswordHasher()
# Checking against this when the user does not exist keeps the answer's time the same either way.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether `password` is the one behind `password_hash`; None (no such user) never matches, as slowly."""
    try:
        _hasher.verify(password_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return password_hash is not None


def check_new_password(password: str, *, minimum: int = MIN_LENGTH) -> None:
    """Raises: ValidationError for a password too short to set."""
    if len(password) < minimum:
        raise ValidationError(f"password must be at least {minimum} characters", field="password")
