"""Deploying BPMN/DMN: parse safely, check everything a process refers to, store new versions.

Checks at deploy time (rather than at 3 a.m. when a timer fires): well-formed and safe XML,
SpiffWorkflow's own parse, every user task's candidate groups and form exist, every condition,
script and timer expression passes the sandbox's static check.
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lxml import etree
from sqlalchemy import Select, func, select, update
from sqlalchemy.orm import Session

from engine.audit import record_event
from engine.bpmn.cycles import literal_cycle_problem, next_due
from engine.bpmn.known_markup import check_known_markup
from engine.bpmn.parsing import DefinitionProblem, ParsedProcess, is_dmn, parse_decisions, parse_processes
from engine.bpmn.sandbox import check_expression, check_script
from engine.bpmn.xml import XmlProblem, parse_untrusted_xml
from engine.bundles import WITHOUT_SPEC
from engine.business_calendar import due_problem
from engine.catalog import FormCatalog
from engine.clock import Clock
from engine.errors import DeploymentError, NotFoundError
from engine.identity import Actor, existing_group_ids, existing_usernames
from engine.notifications.deployed_templates import NoticeCheck, named_users, split_templates, with_sources
from engine.register_actions import REGISTER_ACTIONS
from engine.states import StartTimerStatus
from engine.tables import Definition, Deployment, StartTimer
from engine.task_forms import is_generated
from engine.uploads import check_filename, files_of


@dataclass(frozen=True)
class DefinitionInfo:
    definition_id: uuid.UUID
    key: str
    version: int
    kind: str
    name: str
    deployed_by: str
    deployed_at: datetime
    deployment_id: uuid.UUID
    starter_groups: tuple[str, ...]
    start_form: str | None
    translations: tuple[dict[str, str | None], ...] = ()  # Camunda's JUEL and FEEL as written, and what runs

    @classmethod
    def of(cls, row: Definition) -> DefinitionInfo:
        return cls(row.definition_id, row.key, row.version, row.kind, row.name, row.deployed_by,
                   row.deployed_at, row.deployment_id, tuple(row.elements.get("starter_groups", [])),
                   row.elements.get("start_form"), tuple(row.elements.get("translations", [])))


@dataclass(frozen=True)
class _Document:
    filename: str
    content: bytes
    root: etree._Element


def deploy(
    session: Session, clock: Clock, catalog: FormCatalog, *, actor: Actor, filename: str, content: bytes
) -> list[DefinitionInfo]:
    """Deploy a .bpmn, .dmn or .zip bundle; identical content gives back the same versions.

    Raises: DeploymentError naming the file, element and problem; nothing is stored then.
    """
    return deploy_files(session, clock, catalog, actor=actor, files=files_of(filename, content))


def deploy_files(
    session: Session, clock: Clock, catalog: FormCatalog, *, actor: Actor, files: list[tuple[str, bytes]]
) -> list[DefinitionInfo]:
    """Deploy several files as one unit: processes may call each other and the decisions among them.

    Raises: DeploymentError; nothing is stored then.
    """
    for name, _ in files:
        check_filename(name)
    files, templates = split_templates(files)
    documents = [_parse_document(name, data) for name, data in files]
    decisions = [d for d in documents if is_dmn(d.root)]
    known_decisions = _latest_decision_roots(session, exclude={d.filename for d in decisions})
    groups = existing_group_ids(session)
    results: list[DefinitionInfo] = []
    for document in decisions:
        try:
            tables = parse_decisions(document.root, document.filename)
        except DefinitionProblem as problem:
            raise _deployment_error(document.filename, problem) from None
        for decision in tables:
            results.append(_store(session, clock, actor, document, decision.key, "decision", decision.name,
                                  {"decision_table": decision.table},
                                  {"translations": list(decision.translations)} if decision.translations else {}))
    parsed: list[tuple[_Document, ParsedProcess]] = []
    for document in documents:
        if is_dmn(document.root):
            continue
        try:
            processes = parse_processes(document.root, document.filename, known_decisions + [d.root for d in decisions])
        except DefinitionProblem as problem:
            raise _deployment_error(document.filename, problem) from None
        parsed.extend((document, process) for process in processes)
    known_processes = _deployed_process_keys(session) | {process.key for _, process in parsed}
    notices = [n for _, process in parsed for n in process.elements.get("notifications", {}).values()]
    notice_check = NoticeCheck(catalog.notification_templates_dir, templates, groups, named_users(session, notices))
    users = existing_usernames(session, {name for _, process in parsed
                                         for task in process.elements["user_tasks"].values()
                                         for name in task["candidate_users"]})
    for document, process in parsed:
        problems = _check_process(process, catalog, groups, known_processes, notice_check, users)
        if problems:
            raise DeploymentError(
                f"{document.filename}: {len(problems)} problem(s) in process '{process.key}': {problems[0]['problem']}",
                file=document.filename,
                errors=problems,
            )
    for document, process in parsed:
        elements = process.elements
        if templates.texts and elements.get("notifications"):
            elements = {**elements, "notifications": with_sources(elements["notifications"], templates)}
        results.append(_store(session, clock, actor, document, process.key, "process", process.name,
                              process.spec, elements, process.serializer_version))
    session.flush()
    return results


def list_definitions(session: Session) -> list[DefinitionInfo]:
    """The latest version of every key."""
    latest = (
        select(Definition.key, func.max(Definition.version).label("version")).group_by(Definition.key).subquery()
    )
    query = (
        select(Definition)
        .join(latest, (Definition.key == latest.c.key) & (Definition.version == latest.c.version))
        .order_by(Definition.key)
    )
    return [DefinitionInfo.of(row) for row in session.scalars(query)]


def list_versions(session: Session, key: str) -> list[DefinitionInfo]:
    """Raises: NotFoundError."""
    rows = session.scalars(select(Definition).where(Definition.key == key).order_by(Definition.version.desc())).all()
    if not rows:
        raise NotFoundError(f"no definition '{key}'", key=key)
    return [DefinitionInfo.of(row) for row in rows]


def get_definition_row(session: Session, key: str, version: int | None = None, kind: str | None = None) -> Definition:
    """The given version of a key, or its latest. Raises: NotFoundError."""
    row = session.scalars(_definition_row_query(key, version, kind)).first()
    if row is None:
        what = f"version {version} of '{key}'" if version is not None else f"'{key}'"
        raise NotFoundError(f"no {kind or 'definition'} {what}", key=key)
    return row


@functools.lru_cache(maxsize=256)
def _definition_row_query(key: str, version: int | None, kind: str | None) -> Select[Definition]:
    """Built once per key (a handful of processes), as every start and deploy looks one up."""
    # The spec is read when a cache misses (engine/bundles.py says why), not with the row.
    query = select(Definition).where(Definition.key == key).options(*WITHOUT_SPEC)
    if kind is not None:
        query = query.where(Definition.kind == kind)
    if version is not None:
        query = query.where(Definition.version == version)
    return query.order_by(Definition.version.desc()).limit(1)


def get_source(session: Session, key: str, version: int) -> tuple[str, str]:
    """The deployed file (name, XML text) holding a version. Raises: NotFoundError."""
    row = get_definition_row(session, key, version)
    deployment = session.get(Deployment, row.deployment_id)
    assert deployment is not None
    return deployment.filename, deployment.source


def _parse_document(filename: str, content: bytes) -> _Document:
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        raise DeploymentError(f"{filename}: the file must be UTF-8 encoded", file=filename) from None
    try:
        root = parse_untrusted_xml(content)
        check_known_markup(content, root)
    except XmlProblem as problem:
        raise DeploymentError(f"{filename}: {problem}", file=filename, line=problem.line, element=problem.element,
                              errors=[{"file": filename, "element": problem.element, "line": problem.line,
                                       "problem": problem.message}]) from None
    return _Document(filename, content, root)


def _deployment_error(filename: str, problem: DefinitionProblem) -> DeploymentError:
    return DeploymentError(
        f"{filename}: {problem}",
        file=filename,
        element=problem.element_id,
        line=problem.line,
        errors=[{"file": filename, "element": problem.element_id, "line": problem.line, "problem": problem.message}],
    )


def _deployed_process_keys(session: Session) -> set[str]:
    return set(session.scalars(select(Definition.key).where(Definition.kind == "process").distinct()))


def _check_process(
    process: ParsedProcess, catalog: FormCatalog, groups: set[str], known_processes: set[str], notices: NoticeCheck,
    users: set[str],
) -> list[dict[str, Any]]:
    problems: list[dict[str, Any]] = []

    def add(element: str | None, problem: str, line: int | None = None) -> None:
        problems.append({"element": element, "line": line, "problem": problem})

    elements = process.elements
    for group in elements["starter_groups"]:
        if group not in groups:
            add(process.key, f"candidate starter group '{group}' does not exist")
    if elements["start_form"] and not catalog.exists(elements["start_form"]):
        add(process.key, f"start form '{elements['start_form']}' does not exist in forms/")
    for element_id, task in elements["user_tasks"].items():
        calendar = "working" if task["properties"].get("sla_calendar") == "working" else "calendar"
        if task["due"] is not None and (why := due_problem(task["due"], calendar)):
            add(element_id, f"camunda:dueDate refused: {why}", task["line"])
        if not (task["candidate_groups"] or task["assignee"] or task["candidate_users"]
                or task["candidate_user_expressions"]):
            add(element_id, "user task has neither camunda:candidateGroups nor camunda:assignee "
                            "(nor camunda:candidateUsers)", task["line"])
        for group in task["candidate_groups"]:
            if group not in groups:
                add(element_id, f"candidate group '{group}' does not exist", task["line"])
        for name in task["candidate_users"]:
            if name not in users:
                add(element_id, f"camunda:candidateUsers names '{name}', who is no user of Tixi (候选用户 '{name}' "
                                f"不存在): add the user, or name an existing one", task["line"])
        for target in task.get("return_to", []):
            if target not in elements["user_tasks"] or target == element_id:
                add(element_id, f"return_to names '{target}', which is no other user task of this process "
                                "(退回 goes back to an earlier user task)", task["line"])
            elif task["multi_instance"] or elements["user_tasks"][target].get("multi_instance"):
                # Sending back resets the flow to one task; a multi-instance's instances are many.
                add(element_id, f"return_to '{target}' sends back from or to a multi-instance user task, which "
                                "Tixi does not do (退回): send back to a single user task", task["line"])
        if not task["form_key"]:
            add(element_id, "user task has no camunda:formKey (nor a generated form, camunda:formData)", task["line"])
        elif not is_generated(task["form_key"]) and not catalog.exists(task["form_key"]):
            add(element_id, f"form '{task['form_key']}' does not exist in forms/", task["line"])
    for element_id, notice in elements.get("notifications", {}).items():
        for problem in notices.problems(notice):
            add(element_id, problem, notice["line"])
    for element_id, action in elements.get("register_actions", {}).items():
        if action not in REGISTER_ACTIONS:
            add(element_id, f"outlet_register '{action}' is not one of {', '.join(REGISTER_ACTIONS)}")
    sla = elements.get("case_sla")
    if sla and (why := due_problem(sla["due"], "working" if sla.get("calendar") == "working" else "calendar")):
        add(process.key, f"sla_case_due refused: {why}")
    timer_starts = set()
    for event in elements.get("start_events", []):
        if event["kind"] == "timer":
            timer_starts.add(event["element_id"])
            try:
                next_due(event["expression"], datetime(2000, 1, 1, tzinfo=UTC))
            except ValueError as error:
                add(event["element_id"], f"timer start '{event['expression']}' is refused: {error}; write an ISO "
                                         "8601 date, duration or cycle R/<start>/<period> of a minute or more")
    for called in elements.get("called_processes", []):
        if called not in known_processes:
            add(called, f"call activity calls process '{called}', which is neither deployed nor in this upload")
    for expression in process.expressions:
        check = check_script if expression.kind == "script" else check_expression
        message = check(expression.text)
        if not message and expression.kind == "timer" and expression.element_id not in timer_starts:
            message = literal_cycle_problem(expression.text)
        if message:
            add(expression.element_id, f"{expression.kind} refused: {message}")
    return problems


def _store(
    session: Session,
    clock: Clock,
    actor: Actor,
    document: _Document,
    key: str,
    kind: str,
    name: str,
    spec: dict[str, Any],
    elements: dict[str, Any],
    serializer_version: str = "",
) -> DefinitionInfo:
    # The templates a process carries are part of its version: a changed one alone makes a new version.
    sources = sorted(n["source"] for n in elements.get("notifications", {}).values() if "source" in n)
    content_hash = hashlib.sha256(document.content + "".join(sources).encode()).hexdigest()
    latest = session.scalars(
        select(Definition).where(Definition.key == key).order_by(Definition.version.desc()).limit(1)
    ).first()
    if latest is not None and latest.content_hash == content_hash and latest.kind == kind:
        return DefinitionInfo.of(latest)  # re-deploying the same file is a no-op
    deployment = _deployment_for(session, clock, actor, document, content_hash)
    row = Definition(
        key=key,
        version=(latest.version + 1) if latest else 1,
        kind=kind,
        name=name,
        deployment_id=deployment.deployment_id,
        content_hash=content_hash,
        spec=spec,
        serializer_version=serializer_version,
        elements=elements,
        deployed_by=actor.username,
        deployed_at=clock.now(),
    )
    session.add(row)
    session.flush()
    if kind == "process":
        _schedule_start_timers(session, clock, row)
    record_event(session, clock, actor=actor.username, event_type="deployed", definition_key=key,
                 data={"version": row.version, "kind": kind, "file": document.filename,
                       "definition_id": str(row.definition_id),
                       # Camunda's JUEL and FEEL as written, and what runs in their place.
                       **({"translations": elements["translations"]} if elements.get("translations") else {})})
    return DefinitionInfo.of(row)


def _deployment_for(
    session: Session, clock: Clock, actor: Actor, document: _Document, content_hash: str
) -> Deployment:
    # A file holding several processes is stored once, shared by their versions.
    query = select(Deployment).where(
        Deployment.content_hash == content_hash,
        Deployment.filename == document.filename,
        Deployment.deployed_at == clock.now(),
    )
    existing = session.scalars(query.limit(1)).first()
    if existing is not None:
        return existing
    deployment = Deployment(
        filename=document.filename,
        content_hash=content_hash,
        source=document.content.decode("utf-8"),
        deployed_by=actor.username,
        deployed_at=clock.now(),
    )
    session.add(deployment)
    session.flush()
    return deployment


def _latest_decision_roots(session: Session, exclude: set[str]) -> list[etree._Element]:
    """DMN documents already deployed, so business-rule tasks of a new process can resolve."""
    roots = []
    seen: set[uuid.UUID] = set()
    for info in list_definitions(session):
        if info.kind != "decision" or info.deployment_id in seen:
            continue
        seen.add(info.deployment_id)
        deployment = session.get(Deployment, info.deployment_id)
        if deployment is not None and deployment.filename not in exclude:
            roots.append(parse_untrusted_xml(deployment.source.encode("utf-8")))
    return roots


def _schedule_start_timers(session: Session, clock: Clock, definition: Definition) -> None:
    """Replace the pending start timers of a key with those of its newly deployed version (`engine.timers` fires them)."""
    session.execute(
        update(StartTimer)
        .where(StartTimer.definition_key == definition.key, StartTimer.status == StartTimerStatus.PENDING)
        .values(status=StartTimerStatus.REPLACED)
    )
    for event in definition.elements.get("start_events", []):
        if event["kind"] != "timer":
            continue
        due = next_due(event["expression"], clock.now())
        if due is not None:
            session.add(StartTimer(definition_key=definition.key, element_id=event["element_id"],
                                   expression=event["expression"], due_at=due, status=StartTimerStatus.PENDING))
    session.flush()
