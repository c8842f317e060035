"""Service accounts: the logins of machines (external-task workers), each a name and an API key.

The key is shown once, when the account is made, and stored as an argon2 hash like a password. A
worker sends name and key by HTTP basic auth on the Camunda-compatible path only; the account
acts in the history under its name. Revoking one ends it at once (the app's key cache asks
`find_service_account` on every request).
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.audit import record_event
from engine.clock import Clock
from engine.errors import ConflictError, NotFoundError, ValidationError
from engine.identity import SERVICE_ACCOUNT_GROUP, Actor
from engine.passwords import hash_password, password_matches
from engine.permissions import Permission, require
from engine.tables import ServiceAccount, User

_NAME = re.compile(r"^[a-z][a-z0-9_.-]{1,63}$")
# Writing "last used" at every request would be a write per fetch; once a minute says enough.
LAST_USED_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class ServiceAccountInfo:
    service_account_id: uuid.UUID
    name: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    @classmethod
    def of(cls, row: ServiceAccount) -> ServiceAccountInfo:
        return cls(row.service_account_id, row.name, row.created_by, row.created_at, row.revoked_at,
                   row.last_used_at)


def new_api_key() -> str:
    """A key to show once; made outside any transaction and hashed there too (argon2 takes ~100 ms)."""
    return "tixi_" + secrets.token_urlsafe(32)


def create_service_account(session: Session, clock: Clock, *, actor: Actor, name: str,
                           key_hash: str) -> ServiceAccountInfo:
    """Store a new account with the hash of its key (`hash_api_key`, made before the transaction).

    Raises: PermissionDeniedError, ValidationError, ConflictError (the name is taken by a user or account).
    """
    require(actor, Permission.ADMINISTER)
    if not _NAME.match(name):
        raise ValidationError("a service account name is 2-64 characters: lower-case letters, digits, '_', '.', '-', "
                              "starting with a letter", field="name")
    if session.scalar(select(ServiceAccount.name).where(ServiceAccount.name == name)) is not None or \
            session.scalar(select(User.username).where(User.username == name)) is not None:
        raise ConflictError(f"the name '{name}' is taken", field="name")
    row = ServiceAccount(name=name, key_hash=key_hash, created_by=actor.username, created_at=clock.now())
    session.add(row)
    session.flush()
    record_event(session, clock, actor=actor.username, event_type="service_account_created", data={"name": name})
    return ServiceAccountInfo.of(row)


def hash_api_key(key: str) -> str:
    return hash_password(key)


def revoke_service_account(session: Session, clock: Clock, *, actor: Actor, name: str) -> ServiceAccountInfo:
    """Raises: PermissionDeniedError, NotFoundError."""
    require(actor, Permission.ADMINISTER)
    row = session.scalar(select(ServiceAccount).where(ServiceAccount.name == name))
    if row is None:
        raise NotFoundError(f"no service account '{name}'")
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        record_event(session, clock, actor=actor.username, event_type="service_account_revoked", data={"name": name})
    session.flush()
    return ServiceAccountInfo.of(row)


def list_service_accounts(session: Session, *, actor: Actor) -> list[ServiceAccountInfo]:
    require(actor, Permission.ADMINISTER)
    return [ServiceAccountInfo.of(r) for r in session.scalars(select(ServiceAccount).order_by(ServiceAccount.name))]


def find_key_hash(session: Session, name: str) -> str | None:
    """The stored hash of an active account's key (checked by the caller outside the transaction)."""
    return session.scalar(select(ServiceAccount.key_hash).where(ServiceAccount.name == name,
                                                                ServiceAccount.revoked_at.is_(None)))


def key_matches(key_hash: str | None, key: str) -> bool:
    return password_matches(key_hash, key)


def service_actor(session: Session, clock: Clock, name: str) -> Actor | None:
    """The actor of an active account, its last use noted; None once revoked."""
    row = session.scalar(select(ServiceAccount).where(ServiceAccount.name == name, ServiceAccount.revoked_at.is_(None)))
    if row is None:
        return None
    now = clock.now()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        row.last_used_at = now
        session.flush()
    return Actor(row.name, frozenset({SERVICE_ACCOUNT_GROUP}))
