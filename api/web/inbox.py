"""The approvers' pages: the task inbox, a task with its form, case data and history, and starting a case."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from api.deps import CHECKED_INPUT, CatalogDep, ClockDep, SessionDep, SettingsDep
from api.routing import api_router
from api.web.case_view import attachment_rows, start_form_of, where_now
from api.web.i18n import label, localized_schema
from api.web.pages import PageActor, deployed_processes, language, render
from api.web.task_signs import sign_context
from engine import (
    assignment,
    attachments,
    definitions,
    instances,
    my_work,
    permissions,
    saved_filters,
    send_back,
    task_queue,
    tasks,
)
from engine.approval_record import approval_record
from engine.audit import HistoryEvent
from engine.case_fields import case_fields
from engine.catalog import FormCatalog
from engine.computed_fields import ComputedValue, computed_values
from engine.db import reading
from engine.errors import NotFoundError
from engine.identity import Actor
from engine.outcomes import decided_fields, outcomes_of
from engine.states import InstanceStatus, TaskAction, TaskStatus, task_actions

router = api_router(include_in_schema=False, dependencies=CHECKED_INPUT)
PAGE_SIZE = 25
SHOW = ("all", "mine", "unassigned", "signing")  # signing: 加签 asked of the reader
DUE = ("", "overdue")


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/tasks", status_code=303)


@router.get("/tasks")
def inbox(request: Request, session: SessionDep, clock: ClockDep, catalog: CatalogDep, actor: PageActor,
          q: Annotated[str, Query(max_length=200)] = "", process: str = "", show: str = "all",
          sort: str = "created", due: str = "", offset: Annotated[int, Query(ge=0)] = 0,
          done: uuid.UUID | None = None) -> HTMLResponse:
    show = show if show in SHOW else "all"
    due = due if due in DUE else ""
    sort = sort if sort in task_queue.SORTS else "created"
    with reading(session):
        page = task_queue.list_tasks(session, actor=actor, definition_key=process or None, search=q or None,
                                assignee=actor.username if show == "mine" else None,
                                unassigned=True if show == "unassigned" else None,
                                due_before=clock.now() if due == "overdue" else None,
                                sign_requested=True if show == "signing" else None, sort=sort, limit=PAGE_SIZE, offset=offset)
        processes = deployed_processes(session)
        saved = saved_filters.list_saved_filters(session, actor=actor)
        went = _where_it_went(session, catalog, actor, done) if done else None
    # Each row offers only what engine.states allows (no claiming a task of a suspended case). A queue
    # holds only tasks that reach the reader: an unclaimed one outside their groups is offered to them
    # by name (camunda:candidateUsers).
    actions = {t.task_id: task_actions(actor, status=t.status, instance_status=t.instance_status, assignee=t.assignee,
                                       candidate_groups=t.candidate_groups,
                                       offered=t.assignee is None and not actor.in_any(t.candidate_groups))
               for t in page.items}
    filters = {"q": q, "process": process, "show": show, "sort": sort, "due": due}
    # The filter as a saved filter holds it: defaults left out, so "all" and a saved tab compare equal.
    current = {k: v for k, v in filters.items() if v and (k, v) not in (("show", "all"), ("sort", "created"))}
    return render(request, "tasks.html", actor=actor, section="tasks", page=page, processes=processes, actions=actions,
                  went=went, saved=saved, current=current, filters=filters, page_size=PAGE_SIZE)


@router.get("/tasks/done")
def done_page(request: Request, session: SessionDep, actor: PageActor,
              offset: Annotated[int, Query(ge=0)] = 0) -> HTMLResponse:
    """已办: the tasks I completed, with where each case is now."""
    with reading(session):
        page = my_work.list_done_tasks(session, actor=actor, limit=PAGE_SIZE, offset=offset)
    return render(request, "done.html", actor=actor, section="done", page=page, page_size=PAGE_SIZE)


@router.get("/started")
def started_page(request: Request, session: SessionDep, actor: PageActor,
                 offset: Annotated[int, Query(ge=0)] = 0) -> HTMLResponse:
    """我发起的: the cases I started and where each stands."""
    with reading(session):
        page = my_work.list_started_cases(session, actor=actor, limit=PAGE_SIZE, offset=offset)
    return render(request, "started.html", actor=actor, section="started", page=page, page_size=PAGE_SIZE)


def _where_it_went(session: Session, catalog: FormCatalog, actor: Actor, task_id: uuid.UUID) -> dict[str, Any] | None:
    """After completing a task: which step it was, and where its case waits now (or that it ended)."""
    try:
        task = tasks.get_task(session, catalog, actor=actor, task_id=task_id).summary
        case = instances.get_instance(session, actor=actor, instance_id=task.instance_id)
    except NotFoundError:  # not theirs to see (a hand-made address): say nothing
        return None
    return {"task": task, **where_now(case)}


@router.get("/tasks/{task_id}")
def task_page(task_id: uuid.UUID, request: Request, session: SessionDep, catalog: CatalogDep, clock: ClockDep,
              actor: PageActor) -> HTMLResponse:
    with reading(session):
        detail = tasks.get_task(session, catalog, actor=actor, task_id=task_id)
        summary = detail.summary
        try:
            history = instances.instance_history(session, actor=actor, instance_id=summary.instance_id,
                                                 internal=catalog.internal)
            where = where_now(instances.get_instance(session, actor=actor, instance_id=summary.instance_id))
            files = attachments.list_attachments(session, actor=actor, instance_id=summary.instance_id)
        except NotFoundError:  # a finished task of a case this person no longer sees
            history, where, files = [], None, []
        start_form = start_form_of(session, summary.definition_key, _version_of(history))
        return_targets = send_back.return_targets_of(session, actor=actor, task_id=task_id)
        colleagues = (assignment.colleagues_for(session, task_id=task_id, exclude=actor.username)
                      if TaskAction.HAND_ON in detail.allowed_actions else [])
        signing = sign_context(session, actor, summary)  # 加签
    lang = language(request)
    workable = summary.instance_status == InstanceStatus.RUNNING and bool(
        {TaskAction.CLAIM, TaskAction.COMPLETE} & set(detail.allowed_actions))
    decisions = outcomes_of(detail.form_schema)
    # Values the case already holds are worked out, not asked for (the server fills them in).
    computed = computed_values(detail.form_schema, detail.variables, clock.now()) \
        if summary.status == TaskStatus.OPEN else []
    worked_out = {c.name for c in computed}
    form = _without(detail.form_schema, decided_fields(decisions) | worked_out) if detail.form_schema else None
    schema = localized_schema(form, lang) if form else None
    fields = set((form or {}).get("properties", {}))
    prefill = {name: value for name, value in detail.variables.items() if name in fields}
    # What each button sets and where its opinion goes: the page checks the form as the decision completes it.
    buttons = [{"key": o.key, "title": label(o.title, lang), "style": o.style, "requires": list(o.requires),
                "opinion_required": o.opinion_required, "set": o.set, "opinion_field": o.opinion_field}
               for o in decisions]
    return render(request, "task.html", actor=actor, section="tasks", task=detail.summary, schema=schema,
                  # The whole form, its rules between fields included, to check with; less what the server works out.
                  rules=_without(detail.form_schema, worked_out) if detail.form_schema else None,
                  actions=detail.allowed_actions, prefill=prefill, variables=detail.variables, history=history,
                  outcomes=buttons, record=approval_record(history), where=where,
                  field_groups=case_fields(history, detail.variables, catalog, start_form),
                  suggestions=detail.outlet_suggestions, files=attachment_rows(files, history),
                  upload_url=f"/api/tasks/{task_id}/attachments" if workable else None,
                  return_targets=return_targets, colleagues=colleagues, **signing,
                  computed=_computed_rows(computed, detail.form_schema, catalog, start_form, lang),
                  sent_back=_sent_back_to(history, task_id) if summary.status == TaskStatus.OPEN else None)


def _computed_rows(computed: list[ComputedValue], schema: dict[str, Any] | None, catalog: FormCatalog,
                   start_form: str | None, lang: str) -> list[dict[str, Any]]:
    """Each computed value with its field's title and the title of the case field it is worked out from."""
    fields = (schema or {}).get("properties", {})
    sources = catalog.schema(start_form).get("properties", {}) if start_form and catalog.exists(start_form) else {}
    return [{"name": c.name, "value": c.value, "title": label(fields[c.name].get("title") or c.name, lang),
             "source": label(sources.get(c.source, {}).get("title") or c.source, lang)} for c in computed]


def _sent_back_to(history: list[HistoryEvent], task_id: uuid.UUID) -> HistoryEvent | None:
    """The latest 退回 that reopened this task: its reason is shown above the form."""
    return next((e for e in reversed(history) if e.event_type == send_back.SENT_BACK
                 and e.data.get("reopened_task_id") == str(task_id)), None)


def _version_of(history: list[HistoryEvent]) -> int:
    """The process version a case was started on, from its first history row."""
    started = next((e for e in history if e.event_type == "started"), None)
    version = started.data.get("version") if started else None
    return version if isinstance(version, int) else 0


def _without(schema: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    """The form less the fields its decision buttons fill: the page does not ask for them twice."""
    if not fields:
        return schema
    return {**schema, "properties": {k: v for k, v in schema.get("properties", {}).items() if k not in fields},
            "required": [name for name in schema.get("required", []) if name not in fields]}


@router.get("/start")
def start_list(request: Request, session: SessionDep, actor: PageActor) -> HTMLResponse:
    with reading(session):
        startable = [d for d in deployed_processes(session) if permissions.may_start(actor, d.starter_groups)]
    return render(request, "start_list.html", actor=actor, section="start", definitions=startable)


@router.get("/start/{key}")
def start_page(key: str, request: Request, session: SessionDep, catalog: CatalogDep, actor: PageActor,
               settings: SettingsDep, version: Annotated[int | None, Query(ge=1)] = None) -> HTMLResponse:
    with reading(session):
        versions = definitions.list_versions(session, key)
    chosen = next((d for d in versions if version is None or d.version == version), None)
    if chosen is None or chosen.kind != "process":
        raise NotFoundError(f"process '{key}' version {version} is not deployed", key=key, version=version)
    schema = catalog.schema(chosen.start_form) if chosen.start_form else {"type": "object", "properties": {}}
    return render(request, "start.html", actor=actor, section="start", definition=chosen,
                  case_number_prefix=settings.case_numbers.get(key),
                  allowed=permissions.may_start(actor, chosen.starter_groups), schema=localized_schema(schema, language(request)),
                  rules=schema)
