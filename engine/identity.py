"""Users, groups and the acting person (`Actor`), with argon2-hashed passwords."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.audit import record_event
from engine.clock import Clock
from engine.errors import AuthenticationError, ConflictError, NotFoundError, ValidationError
from engine.tables import Group, Membership, User

ADMIN_GROUP = "admin"
DESIGNER_GROUP = "designer"
DEMO_PASSWORD = "demo"
_USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{1,63}$")
_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps login time the same either way.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


@dataclass(frozen=True)
class Actor:
    username: str
    groups: frozenset[str]
    outlet_code: str | None = None  # outlet staff see only their outlet's cases

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups

    def in_any(self, groups: Iterable[str]) -> bool:
        return not self.groups.isdisjoint(groups)


SCHEDULER = Actor("scheduler", frozenset())


@dataclass(frozen=True)
class UserInfo:
    user_id: uuid.UUID
    username: str
    display_name: str
    is_active: bool
    is_demo: bool
    groups: tuple[str, ...]
    outlet_code: str | None = None


@dataclass(frozen=True)
class GroupInfo:
    group_id: str
    name: str
    members: int


def authenticate(session: Session, username: str, password: str) -> Actor:
    """Raises: AuthenticationError (same message for unknown user and wrong password)."""
    # A name no user can have (e.g. holding a NUL, which PostgreSQL refuses in a query) is simply unknown.
    user = session.scalar(select(User).where(User.username == username)) if _USERNAME.match(username) else None
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        raise AuthenticationError("wrong username or password") from None
    if user is None or not user.is_active:
        raise AuthenticationError("wrong username or password")
    return _actor_of(session, user)


def find_actor(session: Session, username: str) -> Actor | None:
    """The active user behind a token, with their groups as they are now.

    One query (user and memberships joined): it runs before every request.
    """
    rows = session.execute(
        select(User.outlet_code, Membership.group_id)
        .outerjoin(Membership, Membership.user_id == User.user_id)
        .where(User.username == username, User.is_active.is_(True))
    ).all()
    if not rows:
        return None
    return Actor(username, frozenset(group for _, group in rows if group is not None), rows[0][0])


def add_user(
    session: Session,
    clock: Clock,
    *,
    actor: Actor,
    username: str,
    password: str,
    display_name: str | None = None,
    groups: Iterable[str] = (),
    is_demo: bool = False,
    outlet_code: str | None = None,
) -> UserInfo:
    """Raises: ValidationError (bad name, short password, unknown group), ConflictError (taken)."""
    if not _USERNAME.match(username):
        raise ValidationError(
            "username must be 2-64 characters: lower-case letters, digits, '_', '.', '-', starting with a letter",
            field="username",
        )
    if len(password) < (1 if is_demo else 8):
        raise ValidationError("password must be at least 8 characters", field="password")
    if session.scalar(select(User.user_id).where(User.username == username)) is not None:
        raise ConflictError(f"user '{username}' already exists", field="username")
    group_ids = _existing_groups(session, groups)
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=_hasher.hash(password),
        is_demo=is_demo,
        outlet_code=outlet_code or None,
        created_at=clock.now(),
    )
    session.add(user)
    session.flush()
    session.add_all(Membership(user_id=user.user_id, group_id=g) for g in group_ids)
    record_event(session, clock, actor=actor.username, event_type="user_created",
                 data={"username": username, "groups": sorted(group_ids)})
    session.flush()
    return _info(session, user)


def update_user(
    session: Session,
    clock: Clock,
    *,
    actor: Actor,
    username: str,
    display_name: str | None = None,
    is_active: bool | None = None,
    password: str | None = None,
    groups: Iterable[str] | None = None,
    outlet_code: str | None = None,
) -> UserInfo:
    """Change a user's name, active flag, password, group membership or outlet ("" unbinds) (admins only).

    Raises: NotFoundError, ValidationError.
    """
    user = _get_user(session, username)
    changes: dict[str, object] = {}
    if display_name is not None:
        user.display_name = changes["display_name"] = display_name
    if is_active is not None:
        user.is_active = changes["is_active"] = is_active
    if password is not None:
        if len(password) < 8:
            raise ValidationError("password must be at least 8 characters", field="password")
        user.password_hash = _hasher.hash(password)
        changes["password"] = "reset"
    if outlet_code is not None:
        user.outlet_code = outlet_code or None
        changes["outlet_code"] = user.outlet_code
    if groups is not None:
        group_ids = _existing_groups(session, groups)
        session.execute(delete(Membership).where(Membership.user_id == user.user_id))
        session.add_all(Membership(user_id=user.user_id, group_id=g) for g in group_ids)
        changes["groups"] = sorted(group_ids)
    record_event(session, clock, actor=actor.username, event_type="user_updated",
                 data={"username": username, **changes})
    session.flush()
    return _info(session, user)


def list_users(session: Session) -> list[UserInfo]:
    return [_info(session, u) for u in session.scalars(select(User).order_by(User.username))]


def list_groups(session: Session) -> list[GroupInfo]:
    groups = session.scalars(select(Group).order_by(Group.group_id)).all()
    counts: dict[str, int] = {}
    for group_id in session.scalars(select(Membership.group_id)):
        counts[group_id] = counts.get(group_id, 0) + 1
    return [GroupInfo(g.group_id, g.name, counts.get(g.group_id, 0)) for g in groups]


def add_group(session: Session, clock: Clock, *, actor: Actor, group_id: str, name: str) -> GroupInfo:
    """Raises: ValidationError, ConflictError."""
    if not _USERNAME.match(group_id):
        raise ValidationError("group id must be lower-case letters, digits, '_', '.', '-'", field="group_id")
    if session.get(Group, group_id) is not None:
        raise ConflictError(f"group '{group_id}' already exists", field="group_id")
    session.add(Group(group_id=group_id, name=name, created_at=clock.now()))
    record_event(session, clock, actor=actor.username, event_type="group_created",
                 data={"group_id": group_id, "name": name})
    session.flush()
    return GroupInfo(group_id, name, 0)


def existing_group_ids(session: Session) -> set[str]:
    return set(session.scalars(select(Group.group_id)))


def sync_demo_users(session: Session, clock: Clock, *, enabled: bool) -> list[str]:
    """One demo user per group, named after it, password 'demo'; disabled again when turned off."""
    demo_users = {u.username: u for u in session.scalars(select(User).where(User.is_demo.is_(True)))}
    if not enabled:
        for user in demo_users.values():
            user.is_active = False
        session.flush()
        return []
    system = Actor("system", frozenset({ADMIN_GROUP}))
    for group_id in sorted(existing_group_ids(session)):
        if group_id in demo_users:
            demo_users[group_id].is_active = True
        elif session.scalar(select(User.user_id).where(User.username == group_id)) is None:
            add_user(session, clock, actor=system, username=group_id, password=DEMO_PASSWORD,
                     display_name=f"Demo {group_id}", groups=[group_id], is_demo=True)
    session.flush()
    return sorted(existing_group_ids(session))


def _existing_groups(session: Session, groups: Iterable[str]) -> set[str]:
    wanted = set(groups)
    unknown = wanted - existing_group_ids(session)
    if unknown:
        raise ValidationError(f"unknown group(s): {', '.join(sorted(unknown))}", field="groups")
    return wanted


def _get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError(f"no user '{username}'")
    return user


def _groups_of(session: Session, user: User) -> tuple[str, ...]:
    query = select(Membership.group_id).where(Membership.user_id == user.user_id).order_by(Membership.group_id)
    return tuple(session.scalars(query))


def _actor_of(session: Session, user: User) -> Actor:
    return Actor(user.username, frozenset(_groups_of(session, user)), user.outlet_code)


def _info(session: Session, user: User) -> UserInfo:
    return UserInfo(user.user_id, user.username, user.display_name, user.is_active, user.is_demo,
                    _groups_of(session, user), user.outlet_code)
