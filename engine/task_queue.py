"""The task queue: the tasks a person may work, filtered, searched, sorted and counted a page at a time."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, exists, func, or_, select, union
from sqlalchemy.orm import Session, aliased

from engine.errors import ValidationError
from engine.extra_sign_tables import ExtraSign
from engine.identity import Actor
from engine.instance_detail import Page
from engine.register_tables import Outlet, Product
from engine.states import SignStatus, TaskStatus
from engine.tables import Definition, Instance, Task, TaskCandidateGroup
from engine.tasks import TaskSummary
from engine.visibility import queue_routes, sign_asked_of, within_organisation

QUEUE_COUNT_CAP = 1000
# Each sort as a function of the columns it reads: the branches order `Task`, the page their union.
SORTS: dict[str, Callable[[Any], tuple[Any, ...]]] = {
    "created": lambda t: (t.created_at,),
    "due": lambda t: (t.due_at.asc().nulls_last(), t.created_at),  # walks ix_tasks_status_due_at_created_at
    "priority": lambda t: (t.priority.desc(), t.created_at),
}



def list_tasks(
    session: Session,
    *,
    actor: Actor,
    status: str = TaskStatus.OPEN,
    definition_key: str | None = None,
    business_key: str | None = None,
    candidate_group: str | None = None,
    assignee: str | None = None,
    unassigned: bool | None = None,
    customer_name: str | None = None,
    serial_number: str | None = None,
    region: str | None = None,
    outlet_code: str | None = None,
    search: str | None = None,
    due_before: datetime | None = None,
    sign_requested: bool | None = None,
    sort: str = "created",
    limit: int = 50,
    offset: int = 0,
) -> Page:
    """Tasks of the actor's groups and tasks assigned to them, oldest first (or by due date or priority).

    Case-field filters use the instance's promoted, indexed columns; `search` finds a fragment of the
    business key, customer name, serial number, outlet code or step name. `total` counts up to
    QUEUE_COUNT_CAP; past it the page says `total_capped`. `sign_requested`: only (or, False, none of)
    the tasks whose open 加签 is asked of the actor; each summary says whether it is.
    """
    if sort not in SORTS:
        raise ValidationError(f"sort must be one of {', '.join(SORTS)}", field="sort")
    if status not in TaskStatus.__members__.values():
        raise ValidationError(f"status must be one of {', '.join(TaskStatus)}", field="status")
    # Each filter's value is a bound parameter: the statement is built once per actor and set of
    # filters given (`_queue_statement`), a search term aside (a LIKE pattern of its own).
    given = {name: value for name, value in (
        ("candidate_group", candidate_group), ("assignee", assignee), ("due_before", due_before),
        ("definition_key", definition_key), ("business_key", business_key), ("customer_name", customer_name),
        ("serial_number", serial_number), ("region", region), ("outlet_code", outlet_code)) if value}
    term = search.strip() if search and search.strip() else None
    page_query, counted = _queue_statement(actor, status, sort, frozenset(given), unassigned, sign_requested, term)
    parameters = {**given, "cap": offset + limit, "limit": limit, "offset": offset}
    rows = session.execute(page_query, parameters).all()
    counted_total: int
    if rows:
        counted_total = rows[0].total
    elif offset:  # paged past the end: the count still says how far the queue goes
        counted_total = session.scalar(select(counted), parameters) or 0
    else:  # the first offset + limit of an empty queue
        counted_total = 0
    total, capped = (QUEUE_COUNT_CAP, True) if counted_total > QUEUE_COUNT_CAP else (counted_total, False)
    return Page(_summaries(rows), total, limit, offset, total_capped=capped)


@functools.lru_cache(maxsize=512)
def _queue_statement(actor: Actor, status: str, sort: str, given: frozenset[str], unassigned: bool | None,
                     sign_requested: bool | None, term: str | None) -> tuple[Any, Any]:
    """The queue page's statement and its capped count, built once per actor and shape of filters.

    The filters' values, the page's size and offset are bound parameters named after them;
    building the statement (five routes, each a branch of the union) costs several times what
    PostgreSQL spends running it.
    """
    task_conditions: list[Any] = [Task.status == status]
    if "candidate_group" in given:
        task_conditions.append(exists().where(TaskCandidateGroup.task_id == Task.task_id,
                                              TaskCandidateGroup.group_id == bindparam("candidate_group")))
    if "assignee" in given:
        task_conditions.append(Task.assignee == bindparam("assignee"))
    if "due_before" in given:  # overdue: due before now (tasks without a due date are never overdue)
        task_conditions.append(Task.due_at < bindparam("due_before"))
    if sign_requested is not None:
        asked = sign_asked_of(actor)
        task_conditions.append(asked if sign_requested else ~asked)
    if unassigned is True:
        task_conditions.append(Task.assignee.is_(None))
    elif unassigned is False:
        task_conditions.append(Task.assignee.is_not(None))
    case_conditions: list[Any] = [column == bindparam(name) for name, column in CASE_FILTERS if name in given]
    if actor.outlet_code is not None or actor.region_code is not None:
        case_conditions.append(within_organisation(actor))
    if term is not None:
        case_conditions.append(or_(*(column.icontains(term, autoescape=True) for column in (
            Instance.business_key, Instance.customer_name, Instance.serial_number, Instance.outlet_code, Task.name))))

    def routes(cap: Any, ordered: bool) -> Any:
        """The queue's tasks, each route (group, assignee, owner) a branch of its own of at most `cap`."""
        branches = []
        for route in queue_routes(actor):
            # Ordered, a branch also carries the sort's columns for the union's own ORDER BY; the
            # count's branches read ids alone, which an index answers without the table.
            columns = (Task.task_id, Task.created_at, Task.due_at, Task.priority) if ordered else (Task.task_id,)
            branch = select(*columns).where(*task_conditions, route)
            if case_conditions:
                branch = branch.join(Instance, Instance.instance_id == Task.instance_id).where(*case_conditions)
            if ordered:
                branch = branch.order_by(*SORTS[sort](Task), Task.task_id)
            ids = branch.limit(cap).subquery()
            branches.append(select(ids))
        return union(*branches).subquery()

    # Counting stops past QUEUE_COUNT_CAP: an exact count of a queue of 100,000 reads all of it.
    counted = select(func.count()).select_from(routes(QUEUE_COUNT_CAP + 1, ordered=False)).scalar_subquery()
    queue = routes(bindparam("cap"), ordered=True)
    # One round trip: the page's ids in queue order (at most `limit` rows, so PostgreSQL probes the
    # tables by primary key), the capped count beside them (uncorrelated, so computed once), and
    # their rows with a row per candidate group.
    page = (select(queue.c.task_id, *queue.c[1:4], counted.label("total"))
            .order_by(*SORTS[sort](queue.c), queue.c.task_id).limit(bindparam("limit")).offset(bindparam("offset"))
            .subquery())
    sign = aliased(ExtraSign)  # apart from the one a queue route's EXISTS correlates
    statement = (
        select(*_SUMMARY_COLUMNS, sign.sign_id.is_not(None), TaskCandidateGroup.group_id, page.c.total)
        .select_from(page)
        .join(Task, Task.task_id == page.c.task_id)
        .join(Instance, Instance.instance_id == Task.instance_id)
        .join(Definition, Definition.definition_id == Instance.definition_id)
        # What tells cases apart in a row (issue 16): the case's product model (else the registered
        # product's) and the registered outlet's name,
        # joined by primary key on the page's rows only, so the queue's branches keep their indexes.
        .outerjoin(Product, Product.serial_number == Instance.serial_number)
        .outerjoin(Outlet, Outlet.code == Instance.outlet_code)
        # A 加签 asked of the reader (at most one open sign per task: no extra rows), by ix_extra_signs_task_id_status.
        .outerjoin(sign, (sign.task_id == Task.task_id) & (sign.signer == actor.username)
                   & (sign.status == SignStatus.OPEN))
        .outerjoin(TaskCandidateGroup, TaskCandidateGroup.task_id == Task.task_id)
        .order_by(*SORTS[sort](page.c), page.c.task_id)
    )
    return statement, counted


# The case-field filters, by parameter name: the instance's promoted, indexed columns.
CASE_FILTERS = (("definition_key", Instance.definition_key), ("business_key", Instance.business_key),
                ("customer_name", Instance.customer_name), ("serial_number", Instance.serial_number),
                ("region", Instance.region), ("outlet_code", Instance.outlet_code))


# A queue page's columns: case fields, but not the workflow state or the process spec (kilobytes each).
_SUMMARY_COLUMNS = (
    Task.task_id, Task.instance_id, Instance.definition_key, Definition.name, Instance.business_key, Task.element_id,
    Task.name, Task.form_key, Task.status, Task.assignee, Task.created_at, Task.due_at, Task.completed_at,
    Task.completed_by, Task.owner, Task.priority, Task.follow_up_at, Task.process_key, Instance.region,
    Instance.outlet_code, Instance.customer_name, Instance.serial_number, Instance.status,
    func.coalesce(Instance.product_model, Product.model), Outlet.name,
)


def _summaries(rows: Sequence[Sequence[Any]]) -> list[TaskSummary]:
    """A summary per task of rows of `_SUMMARY_COLUMNS`, whether a sign is asked of the reader, and a
    candidate group, in queue order, a row per candidate group.

    Plain columns, not ORM objects: a page of 50 would otherwise build 150 tracked objects to read
    each once.
    """
    summaries: list[TaskSummary] = []
    groups: list[str] = []
    for index, row in enumerate(rows):
        if row[-2] is not None:  # the candidate group; row[-1] is the page's count
            groups.append(row[-2])
        if index + 1 == len(rows) or rows[index + 1][0] != row[0]:  # the task's last row
            (task_id, instance_id, definition_key, definition_name, business_key, element_id, name, form_key, status,
             assignee, created_at, due_at, completed_at, completed_by, owner, priority, follow_up_at, process_key,
             region, outlet_code, customer_name, serial_number, instance_status, product_model,
             outlet_name, sign_requested) = row[:-2]
            summaries.append(TaskSummary(
                task_id, instance_id, definition_key, definition_name, business_key, element_id, name, form_key,
                status, assignee, tuple(sorted(groups)), created_at, due_at, completed_at, completed_by, owner,
                priority, follow_up_at, process_key, region, outlet_code, customer_name, serial_number,
                instance_status, product_model=product_model, outlet_name=outlet_name,
                sign_requested=bool(sign_requested)))
            groups = []
    return summaries
