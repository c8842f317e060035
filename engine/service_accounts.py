"""Service accounts: the logins of machines (external-task workers, the hotline's system), each a
name, an API key and the groups it acts in.

The key is shown once, when the account is made, and stored as an argon2 hash like a password. A
machine sends name and key by HTTP basic auth, on the Camunda-compatible path and on /api alike; the
account acts in the history under its name, with the permissions and queues of its groups, and sees
the cases it took part in (it is bound to no outlet or region). Revoking one ends it at once (the
account is read on every request). Administering and deploying stay with people: an account may not
join the admin or designer group, since a key kept in another system's settings is a weaker secret
than a person's password.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.audit import record_event
from engine.clock import Clock
from engine.errors import ConflictError, NotFoundError, ValidationError
from engine.identity import ADMIN_GROUP, DESIGNER_GROUP, SERVICE_ACCOUNT_GROUP, Actor, known_groups
from engine.passwords import hash_password, password_matches
from engine.permissions import Permission, require
from engine.tables import ServiceAccount, ServiceAccountGroup, User

_NAME = re.compile(r"^[a-z][a-z0-9_.-]{1,63}$")
PEOPLE_ONLY_GROUPS = frozenset({ADMIN_GROUP, DESIGNER_GROUP})
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
    groups: tuple[str, ...] = ()

    @classmethod
    def of(cls, row: ServiceAccount, groups: Iterable[str] = ()) -> ServiceAccountInfo:
        return cls(row.service_account_id, row.name, row.created_by, row.created_at, row.revoked_at,
                   row.last_used_at, tuple(sorted(groups)))


def new_api_key() -> str:
    """A key to show once; made outside any transaction and hashed there too (argon2 takes ~100 ms)."""
    return "tixi_" + secrets.token_urlsafe(32)


def create_service_account(session: Session, clock: Clock, *, actor: Actor, name: str, key_hash: str,
                           groups: Iterable[str] = ()) -> ServiceAccountInfo:
    """Store a new account with the hash of its key (`hash_api_key`, made before the transaction).

    Raises: PermissionDeniedError, ValidationError (the name; an unknown or a people-only group),
    ConflictError (the name is taken by a user or account).
    """
    require(actor, Permission.ADMINISTER)
    scope = _checked_groups(session, groups)
    if not _NAME.match(name):
        raise ValidationError("a service account name is 2-64 characters: lower-case letters, digits, '_', '.', '-', "
                              "starting with a letter", field="name")
    if session.scalar(select(ServiceAccount.name).where(ServiceAccount.name == name)) is not None or \
            session.scalar(select(User.username).where(User.username == name)) is not None:
        raise ConflictError(f"the name '{name}' is taken", field="name")
    row = ServiceAccount(name=name, key_hash=key_hash, created_by=actor.username, created_at=clock.now())
    session.add(row)
    session.flush()
    session.add_all(ServiceAccountGroup(service_account_id=row.service_account_id, group_id=g) for g in scope)
    record_event(session, clock, actor=actor.username, event_type="service_account_created",
                 data={"name": name, "groups": scope})
    session.flush()
    return ServiceAccountInfo.of(row, scope)


def set_service_account_groups(session: Session, clock: Clock, *, actor: Actor, name: str,
                               groups: Iterable[str]) -> ServiceAccountInfo:
    """Replace the groups an account acts in; it acts in them from its next request.

    Raises: PermissionDeniedError, NotFoundError, ValidationError (an unknown or a people-only group).
    """
    require(actor, Permission.ADMINISTER)
    row = _account(session, name)
    scope = _checked_groups(session, groups)
    before = _groups_of(session, row)
    if scope != before:
        session.execute(delete(ServiceAccountGroup).where(ServiceAccountGroup.service_account_id ==
                                                          row.service_account_id))
        session.add_all(ServiceAccountGroup(service_account_id=row.service_account_id, group_id=g) for g in scope)
        record_event(session, clock, actor=actor.username, event_type="service_account_groups_changed",
                     data={"name": name, "before": before, "after": scope})
        session.flush()
    return ServiceAccountInfo.of(row, scope)


def _checked_groups(session: Session, groups: Iterable[str]) -> list[str]:
    """Raises: ValidationError naming the unknown or people-only groups."""
    wanted = sorted(set(groups))
    people_only = [g for g in wanted if g in PEOPLE_ONLY_GROUPS]
    if people_only:
        raise ValidationError(f"a service account may not act in {', '.join(repr(g) for g in people_only)}: "
                              "administering and deploying stay with people who log in", field="groups")
    return sorted(known_groups(session, wanted))


def _account(session: Session, name: str) -> ServiceAccount:
    row = session.scalar(select(ServiceAccount).where(ServiceAccount.name == name))
    if row is None:
        raise NotFoundError(f"no service account '{name}'")
    return row


def _groups_of(session: Session, row: ServiceAccount) -> list[str]:
    return list(session.scalars(select(ServiceAccountGroup.group_id).where(
        ServiceAccountGroup.service_account_id == row.service_account_id).order_by(ServiceAccountGroup.group_id)))


def hash_api_key(key: str) -> str:
    return hash_password(key)


def revoke_service_account(session: Session, clock: Clock, *, actor: Actor, name: str) -> ServiceAccountInfo:
    """Raises: PermissionDeniedError, NotFoundError."""
    require(actor, Permission.ADMINISTER)
    row = _account(session, name)
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        record_event(session, clock, actor=actor.username, event_type="service_account_revoked", data={"name": name})
    session.flush()
    return ServiceAccountInfo.of(row, _groups_of(session, row))


def list_service_accounts(session: Session, *, actor: Actor) -> list[ServiceAccountInfo]:
    require(actor, Permission.ADMINISTER)
    groups: dict[uuid.UUID, list[str]] = {}
    for account_id, group_id in session.execute(select(ServiceAccountGroup.service_account_id,
                                                       ServiceAccountGroup.group_id)):
        groups.setdefault(account_id, []).append(group_id)
    return [ServiceAccountInfo.of(r, groups.get(r.service_account_id, ()))
            for r in session.scalars(select(ServiceAccount).order_by(ServiceAccount.name))]


def find_key_hash(session: Session, name: str) -> str | None:
    """The stored hash of an active account's key (checked by the caller outside the transaction)."""
    return session.scalar(select(ServiceAccount.key_hash).where(ServiceAccount.name == name,
                                                                ServiceAccount.revoked_at.is_(None)))


def key_matches(key_hash: str | None, key: str) -> bool:
    return password_matches(key_hash, key)


def service_actor(session: Session, clock: Clock, name: str) -> Actor | None:
    """The actor of an active account, in its groups, its last use noted; None once revoked.

    One query (the account and its groups joined): it runs before every request of the account.
    """
    rows = session.execute(
        select(ServiceAccount, ServiceAccountGroup.group_id)
        .outerjoin(ServiceAccountGroup, ServiceAccountGroup.service_account_id == ServiceAccount.service_account_id)
        .where(ServiceAccount.name == name, ServiceAccount.revoked_at.is_(None))).all()
    if not rows:
        return None
    row = rows[0][0]
    now = clock.now()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        row.last_used_at = now
        session.flush()
    return Actor(row.name, frozenset({SERVICE_ACCOUNT_GROUP, *(g for _, g in rows if g is not None)}))
