"""Who may do what: the one place that maps a person's groups to what they may do.

API routes and web pages both ask `require`/`has` here, so a page cannot answer differently from
the API it reads. Rules that depend on stored data (a task's candidate groups, a case's outlet,
who took part) are applied by the engine operation itself (`engine.visibility`), on top of these.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from engine.errors import PermissionDeniedError
from engine.identity import ADMIN_GROUP, DESIGNER_GROUP, SERVICE_ACCOUNT_GROUP, Actor


class Permission(StrEnum):
    READ = "read"  # processes, forms, groups, the calendar; one's own queue and the cases one may see
    START = "start"  # start a case (then limited to a process's starter groups: `may_start`)
    WORK = "work"  # claim, complete, hand on and comment the tasks of one's queue
    DEPLOY = "deploy"  # deploy BPMN/DMN, check it, open the modeler
    ADMINISTER = "administer"  # suspend, resume, terminate, retry; users, groups, the calendar
    AUDIT = "audit"  # every case and its whole history; the audit chain check
    REPORT = "report"  # the SLA report
    ARCHIVE = "archive"  # the customer archive (then limited to one's region: engine/customers.py)
    EXTERNAL_WORK = "external_work"  # fetch, lock and complete external tasks (workers' service accounts)


EVERYONE: tuple[str, ...] | None = None  # any signed-in user
REPORT_GROUPS = ("quality", "csd_head", ADMIN_GROUP)
# The RCC keeps its region's customer archive; the CSD's departments read all of it.
ARCHIVE_GROUPS = ("rcc_agent", "rcc_visitor", "rcc_director", "rcc_settlement", "csd_head", "tech_section",
                  "training", "quality", ADMIN_GROUP)
_GRANTED_TO: dict[Permission, tuple[str, ...] | None] = {
    Permission.READ: EVERYONE,
    Permission.START: EVERYONE,
    Permission.WORK: EVERYONE,
    Permission.DEPLOY: (DESIGNER_GROUP,),
    Permission.ADMINISTER: (ADMIN_GROUP,),
    Permission.AUDIT: (ADMIN_GROUP,),
    Permission.REPORT: REPORT_GROUPS,
    Permission.ARCHIVE: ARCHIVE_GROUPS,
    Permission.EXTERNAL_WORK: (SERVICE_ACCOUNT_GROUP, ADMIN_GROUP),
}


def has(actor: Actor, permission: Permission) -> bool:
    groups = _GRANTED_TO[permission]
    return groups is None or actor.in_any(groups)


def require(actor: Actor, permission: Permission) -> None:
    """Raises: PermissionDeniedError naming the groups that have the permission."""
    if not has(actor, permission):
        groups = _GRANTED_TO[permission] or ()
        which = f"the '{groups[0]}' group" if len(groups) == 1 else "one of the groups " + ", ".join(
            f"'{g}'" for g in groups)
        raise PermissionDeniedError(f"this needs membership of {which}", required_group=groups[0],
                                    permission=permission.value)


def permissions_of(actor: Actor | None) -> frozenset[Permission]:
    """Everything the actor may do (a page shows only the menus and buttons of these)."""
    if actor is None:
        return frozenset()
    return frozenset(p for p in Permission if has(actor, p))


def may_start(actor: Actor, starter_groups: Iterable[str]) -> bool:
    """Anyone may start a process without starter groups; otherwise their members, and designers (to test)."""
    starters = list(starter_groups)
    return has(actor, Permission.START) and (not starters or actor.in_any([*starters, DESIGNER_GROUP]))


def sees_everything(actor: Actor) -> bool:
    """Whether no case is hidden from the actor (auditors); everyone else sees what `engine.visibility` allows."""
    return has(actor, Permission.AUDIT)
