"""The admins' pages: instances with their diagram and history, the SLA report, users and groups, external tasks."""

from __future__ import annotations

import uuid
from datetime import UTC, date, timedelta
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse

from api.deps import CHECKED_INPUT, CatalogDep, ClockDep, SessionDep
from api.routing import api_router
from api.web.case_view import attachment_rows, start_form_of, where_now
from api.web.pages import PageActor, deployed_processes, render
from engine import attachments, external_tasks, identity, instances, reports, service_accounts
from engine.approval_record import approval_record
from engine.audit import HistoryEvent
from engine.case_fields import case_fields
from engine.clock import end_of_day, start_of_day
from engine.db import reading
from engine.errors import ValidationError
from engine.instance_detail import InstanceDetail
from engine.permissions import Permission, require
from engine.states import InstanceStatus

router = api_router(include_in_schema=False, dependencies=CHECKED_INPUT)
PAGE_SIZE = 25
# History events that say an element of the diagram has run to its end.
_FINISHING_EVENTS = {"element_completed", "gateway_decision", "decision_evaluated", "call_activity_completed",
                     "timer_fired", "task_completed", "message_received"}


@router.get("/instances")
def instance_list(
    request: Request, session: SessionDep, actor: PageActor,
    process: str = "", status: str = "", business_key: Annotated[str, Query(max_length=200)] = "",
    participant: Annotated[str, Query(max_length=64)] = "", started_from: str = "", started_to: str = "",
    offset: Annotated[int, Query(ge=0)] = 0,
) -> HTMLResponse:
    status = status if status in InstanceStatus.__members__.values() else ""
    first_day, last_day = day_field(started_from, "started_from"), day_field(started_to, "started_to")
    with reading(session):
        page = instances.list_instances(
            session, actor=actor, definition_key=process or None, status=status or None,
            business_key=business_key or None, participant=participant or None,
            started_from=start_of_day(first_day) if first_day else None,
            started_before=end_of_day(last_day) if last_day else None,
            limit=PAGE_SIZE, offset=offset)
        processes = deployed_processes(session)
    filters = {"process": process, "status": status, "business_key": business_key, "participant": participant,
               "started_from": started_from, "started_to": started_to}
    return render(request, "instances.html", actor=actor, section="instances", page=page, processes=processes,
                  statuses=list(InstanceStatus), filters=filters, page_size=PAGE_SIZE)


@router.get("/instances/{instance_id}")
def instance_page(instance_id: uuid.UUID, request: Request, session: SessionDep, catalog: CatalogDep,
                  actor: PageActor) -> HTMLResponse:
    with reading(session):
        detail = instances.get_instance(session, actor=actor, instance_id=instance_id, internal=catalog.internal)
        history = instances.instance_history(session, actor=actor, instance_id=instance_id, internal=catalog.internal)
        summary = detail.summary
        start_form = start_form_of(session, summary.definition_key, summary.definition_version)
        files = attachments.list_attachments(session, actor=actor, instance_id=instance_id)
    upload_url = f"/api/instances/{instance_id}/attachments" if summary.status == InstanceStatus.RUNNING else None
    return render(request, "instance.html", actor=actor, section="instances", instance=summary,
                  files=attachment_rows(files, history), upload_url=upload_url,
                  detail=detail, history=history, marks=diagram_marks(detail, history),
                  record=approval_record(history), where=where_now(detail),
                  field_groups=case_fields(history, detail.variables, catalog, start_form))


def diagram_marks(detail: InstanceDetail, history: list[HistoryEvent]) -> dict[str, list[str]]:
    """Which elements of the instance's own process have finished, wait now, or failed, for the diagram."""
    key = detail.summary.definition_key
    finished = {str(e.data["element"]) for e in history
                if e.event_type in _FINISHING_EVENTS and e.data.get("element") and e.data.get("process", key) == key}
    active = {t.element_id for t in detail.waiting_tasks} | {str(t["element_id"]) for t in detail.pending_timers}
    failed: set[str] = set()
    if detail.summary.status == InstanceStatus.FAILED:
        incidents = [e for e in history if e.event_type == "incident" and e.data.get("element")]
        if incidents:
            failed.add(str(incidents[-1].data["element"]))
    if detail.summary.status in (InstanceStatus.RUNNING, InstanceStatus.SUSPENDED, InstanceStatus.FAILED):
        finished -= active  # a loop back: the element has run before and waits again now
    return {"finished": sorted(finished - failed), "active": sorted(active - failed), "failed": sorted(failed)}


@router.get("/reports/sla")
def sla_page(request: Request, session: SessionDep, clock: ClockDep, actor: PageActor,
             start: str = "", end: str = "", process: str = "") -> HTMLResponse:
    today = clock.now().astimezone(UTC).date()
    last_day = day_field(end, "end") or today
    first_day = day_field(start, "start") or last_day - timedelta(days=30)
    error = None
    rows: list[reports.SlaRow] = []
    with reading(session):
        processes = deployed_processes(session)
        try:  # a period that ends before it starts is shown on the page, beside the filter
            rows = reports.sla_report(session, clock, actor=actor, start=start_of_day(first_day),
                                      end=end_of_day(last_day), process_key=process or None)
        except ValidationError as problem:
            error = problem.detail
    return render(request, "sla.html", actor=actor, section="sla", rows=rows, totals=_totals(rows), error=error,
                  processes=processes,
                  filters={"start": first_day.isoformat(), "end": last_day.isoformat(), "process": process})


def _totals(rows: list[reports.SlaRow]) -> list[dict[str, Any]]:
    """Met, breached and open per process, for the chart."""
    per_process: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = per_process.setdefault(row.process_key, {"process_key": row.process_key, "met": 0, "breached": 0,
                                                          "open": 0})
        entry["met"] += row.met
        entry["breached"] += row.breached
        entry["open"] += row.open
    for entry in per_process.values():
        entry["total"] = entry["met"] + entry["breached"] + entry["open"]
    return sorted(per_process.values(), key=lambda e: e["process_key"])


@router.get("/admin/users")
def users_page(request: Request, session: SessionDep, actor: PageActor) -> HTMLResponse:
    require(actor, Permission.ADMINISTER)
    with reading(session):
        users = identity.list_users(session)
        groups = identity.list_groups(session)
    return render(request, "users.html", actor=actor, section="users", users=users, groups=groups)


@router.get("/admin/external-tasks")
def external_tasks_page(request: Request, session: SessionDep, clock: ClockDep, actor: PageActor) -> HTMLResponse:
    require(actor, Permission.ADMINISTER)
    with reading(session):
        tasks = external_tasks.list_external_tasks(session, clock, actor=actor)
        accounts = service_accounts.list_service_accounts(session, actor=actor)
        groups = identity.list_groups(session)
    return render(request, "external_tasks.html", actor=actor, section="external_tasks", tasks=tasks,
                  accounts=accounts, groups=groups, people_only=service_accounts.PEOPLE_ONLY_GROUPS,
                  now=clock.now())


def day_field(text: str, field: str) -> date | None:
    """A day from a page's date field; a blank field means no limit."""
    if not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValidationError(f"{field} must be a day like 2026-11-25", field=field) from None
