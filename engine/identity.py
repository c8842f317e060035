"""Users, groups and the acting person (`Actor`), with argon2-hashed passwords."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.audit import record_event
from engine.clock import Clock
from engine.errors import ConflictError, NotFoundError, ValidationError
from engine.passwords import check_new_password, hash_password
from engine.tables import Group, Membership, Outlet, Region, User

ADMIN_GROUP = "admin"
DESIGNER_GROUP = "designer"
# No stored group: the one group of a service account's actor (engine/service_accounts.py).
SERVICE_ACCOUNT_GROUP = "service_account"
DEMO_PASSWORD = "demo"
USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{1,63}$")


@dataclass(frozen=True)
class Actor:
    username: str
    groups: frozenset[str]
    outlet_code: str | None = None  # outlet staff see only their outlet's cases
    region_code: str | None = None  # RCC staff see their region's cases

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
    region_code: str | None = None
    locked_until_at: datetime | None = None  # password logins refused until then (engine/logins.py)


@dataclass(frozen=True)
class GroupInfo:
    group_id: str
    name: str
    members: int


@dataclass(frozen=True)
class TokenHolder:
    """An active user as a token check needs them: who they are now, and which tokens are still theirs."""

    actor: Actor
    token_generation: int


def find_token_holder(session: Session, username: str) -> TokenHolder | None:
    """The active user behind a token, with their groups and token generation as they are now.

    One query (user and memberships joined): it runs before every request.
    """
    rows = session.execute(
        select(User.outlet_code, User.region_code, User.token_generation, Membership.group_id)
        .outerjoin(Membership, Membership.user_id == User.user_id)
        .where(User.username == username, User.is_active.is_(True))
    ).all()
    if not rows:
        return None
    groups = frozenset(row.group_id for row in rows if row.group_id is not None)
    first = rows[0]
    return TokenHolder(Actor(username, groups, first.outlet_code, first.region_code), first.token_generation)


def find_actor(session: Session, username: str) -> Actor | None:
    """The active user of that name, with their groups as they are now."""
    holder = find_token_holder(session, username)
    return holder.actor if holder else None


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
    region_code: str | None = None,
) -> UserInfo:
    """Raises: ValidationError (bad name, short password, unknown group), ConflictError (taken)."""
    if not USERNAME.match(username):
        raise ValidationError(
            "username must be 2-64 characters: lower-case letters, digits, '_', '.', '-', starting with a letter",
            field="username",
        )
    check_new_password(password, minimum=1 if is_demo else 8)
    if session.scalar(select(User.user_id).where(User.username == username)) is not None:
        raise ConflictError(f"user '{username}' already exists", field="username")
    group_ids = known_groups(session, groups)
    outlet_code, region_code = _place(session, outlet_code or None, region_code or None, moved=False)
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        is_demo=is_demo,
        outlet_code=outlet_code,
        region_code=region_code,
        created_at=clock.now(),
    )
    session.add(user)
    session.flush()
    session.add_all(Membership(user_id=user.user_id, group_id=g) for g in group_ids)
    record_event(session, clock, actor=actor.username, event_type="user_created",
                 data={"username": username, "groups": sorted(group_ids), "outlet_code": outlet_code,
                       "region_code": region_code})
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
    region_code: str | None = None,
) -> UserInfo:
    """Change a user's name, active flag, password, groups, outlet or region ("" unbinds) (admins only).

    Staff stay within their region: binding someone of region A to an outlet of region B is refused
    unless the same change moves them to region B.

    A password reset or disabling ends the user's tokens (their generation moves on), so
    enabling them again later revives none.

    Raises: NotFoundError, ValidationError.
    """
    user = get_user(session, username)
    changes: dict[str, object] = {}
    if display_name is not None:
        user.display_name = changes["display_name"] = display_name
    if is_active is not None:
        user.is_active = changes["is_active"] = is_active
    if password is not None:
        check_new_password(password)
        user.password_hash = hash_password(password)
        changes["password"] = "reset"
    if password is not None or is_active is False:
        user.token_generation += 1
        changes["sessions_ended"] = True
    if outlet_code is not None or region_code is not None:
        wanted_region = user.region_code if region_code is None else (region_code or None)
        wanted_outlet = user.outlet_code if outlet_code is None else (outlet_code or None)
        if outlet_code is not None and region_code is None and wanted_outlet is None:
            wanted_region = None if user.outlet_code else wanted_region  # leaving the outlet leaves its region
        user.outlet_code, user.region_code = _place(session, wanted_outlet, wanted_region,
                                                    moved=region_code is None and user.region_code is not None)
        changes["outlet_code"], changes["region_code"] = user.outlet_code, user.region_code
    if groups is not None:
        group_ids = known_groups(session, groups)
        session.execute(delete(Membership).where(Membership.user_id == user.user_id))
        session.add_all(Membership(user_id=user.user_id, group_id=g) for g in group_ids)
        changes["groups"] = sorted(group_ids)
    record_event(session, clock, actor=actor.username, event_type="user_updated",
                 data={"username": username, **changes})
    session.flush()
    return _info(session, user)


def user_info(session: Session, username: str) -> UserInfo:
    """Raises: NotFoundError."""
    return _info(session, get_user(session, username))


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
    if not USERNAME.match(group_id):
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


def existing_usernames(session: Session, names: set[str]) -> set[str]:
    """Which of `names` are users (deploy checks the candidate users a process names)."""
    if not names:
        return set()
    return set(session.scalars(select(User.username).where(User.username.in_(sorted(names)))))


def sync_demo_users(session: Session, clock: Clock, *, enabled: bool) -> list[str]:
    """One demo user per group, named after it, password 'demo'; disabled again when turned off."""
    demo_users = {u.username: u for u in session.scalars(select(User).where(User.is_demo.is_(True)))}
    if not enabled:
        disabled = sorted(name for name, user in demo_users.items() if user.is_active)
        for name in disabled:
            demo_users[name].is_active = False
            demo_users[name].token_generation += 1  # as disabling through update_user: their tokens end
        if disabled:
            record_event(session, clock, actor="system", event_type="demo_users_disabled",
                         data={"usernames": disabled})
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


def _place(session: Session, outlet_code: str | None, region_code: str | None, *,
           moved: bool) -> tuple[str | None, str | None]:
    """The outlet and region a user is bound to, checked against the register; outlet staff take their
    outlet's region. `moved`: the region is the user's present one, kept unless the outlet agrees.

    Raises: ValidationError (unknown region or outlet, an outlet of another region).
    """
    if region_code is not None and session.get(Region, region_code) is None:
        raise ValidationError(f"no region '{region_code}' in the register", field="region_code")
    if outlet_code is None:
        return None, region_code
    outlet = session.get(Outlet, outlet_code)
    if outlet is None:
        raise ValidationError(f"no outlet '{outlet_code}' in the register", field="outlet_code")
    if region_code is not None and outlet.region_code != region_code:
        where = "works in" if moved else "is bound to"
        raise ValidationError(f"outlet '{outlet_code}' belongs to region '{outlet.region_code}', and the user {where} "
                              f"region '{region_code}'; move them to that region in the same change",
                              field="outlet_code")
    return outlet_code, outlet.region_code


def known_groups(session: Session, groups: Iterable[str]) -> set[str]:
    """The groups asked for. Raises: ValidationError naming the ones that do not exist."""
    wanted = set(groups)
    unknown = wanted - existing_group_ids(session)
    if unknown:
        raise ValidationError(f"unknown group(s): {', '.join(sorted(unknown))}", field="groups")
    return wanted


def get_user(session: Session, username: str) -> User:
    """Raises: NotFoundError."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFoundError(f"no user '{username}'")
    return user


def _groups_of(session: Session, user: User) -> tuple[str, ...]:
    query = select(Membership.group_id).where(Membership.user_id == user.user_id).order_by(Membership.group_id)
    return tuple(session.scalars(query))


def _info(session: Session, user: User) -> UserInfo:
    return UserInfo(user.user_id, user.username, user.display_name, user.is_active, user.is_demo,
                    _groups_of(session, user), user.outlet_code, user.region_code, user.locked_until_at)
