"""Every route under /api × every demo user, plus no, expired and forged tokens: the status each gets.

The routes come from the app itself (`app.routes`): a new route fails
`test_every_api_route_is_in_the_matrix` until its row is added to MATRIX, so none ships unchecked.
Each row names the state its target must be in; a row whose allowed call changes that state gets
a fresh target per caller. Approvers outside the task's groups get 404 for its task and instance
ids (guessing an id tells them nothing); a route that is for another group gives 403. A refused
call changes nothing in the database.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import jwt
import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.auth import issue_token
from api.settings import Settings
from engine import attachments, business_calendar, customers, definitions, instances, tasks
from engine.attachment_store import DatabaseAttachmentStore
from engine.attachment_tables import Attachment
from engine.attachments import AttachmentLimits
from engine.catalog import FormCatalog
from engine.clock import FrozenClock
from engine.db import transaction
from engine.identity import Actor
from engine.tables import AuditEvent, CalendarDay, Group, Instance, Task, User
from tests.api.conftest import ROLES
from tests.conftest import DESIGNER, TEST_CONFIG, TEST_PROCESSES

USERS = (*ROLES, "designer", "admin")
ANONYMOUS = ("no token", "expired token", "forged token", "unsigned token")
OUTLET = Actor("outlet", frozenset({"outlet"}))
DIRECTOR = Actor("rcc_director", frozenset({"rcc_director"}))
AGENT = Actor("rcc_agent", frozenset({"rcc_agent"}))
ADMIN = Actor("admin", frozenset({"admin"}))
HOLIDAY = "2026-10-08"
WORKERS = {"rcc_director": 200, "admin": 200}  # the task's group and admins; everyone else: 404
NATIONAL = ("csd_head", "tech_section", "training", "quality")  # the CSD's departments read every case
ARCHIVE = ("rcc_agent", "rcc_visitor", "rcc_director", "rcc_settlement", *NATIONAL, "admin")  # customer archive
VIEWERS = ("outlet", "rcc_director", *NATIONAL, "admin")  # who sees the review case: its starter, its queue, the CSD
EAST_CITIES = {"cities": ["上海", "杭州", "南京", "宁波"], "central_cities": ["上海", "杭州"]}


@dataclass(frozen=True)
class Row:
    """What one route is called with, and the status each user gets (`default` for the rest)."""

    target: str = "none"  # the state of the instance/task the path points at (see _prepare)
    body: dict[str, Any] | None = None
    params: dict[str, Any] | None = None
    allowed: dict[str, int] = field(default_factory=dict)
    default: int = 200
    mutates: bool = False  # the allowed call changes the target: a fresh one per caller
    public: bool = False


def only(status: int, *users: str) -> dict[str, int]:
    return dict.fromkeys(users, status)


MATRIX: dict[tuple[str, str], Row] = {
    ("GET", "/api/health"): Row(public=True),
    ("POST", "/api/auth/token"): Row(public=True),
    ("GET", "/api/auth/me"): Row(),
    ("POST", "/api/auth/logout"): Row(default=204),  # each caller ends only their own tokens
    # Too short a new password: refused before any hashing (a wrong current one would count a failure).
    ("POST", "/api/auth/password"): Row(body={"current_password": "demo", "new_password": "short"}, default=422),
    ("GET", "/api/definitions"): Row(),
    ("POST", "/api/definitions"): Row(allowed=only(201, "designer"), default=403),
    ("GET", "/api/definitions/{key}"): Row(),
    ("GET", "/api/definitions/{key}/versions/{version}/xml"): Row(),
    ("GET", "/api/instances"): Row(),
    ("POST", "/api/instances"): Row(body={"definition_key": "two_step_review", "variables": {"days": 3}},
                                    allowed=only(201, "outlet", "designer"), default=403),
    ("GET", "/api/instances/{instance_id}"): Row("open", allowed=only(200, "outlet", "rcc_director", *NATIONAL,
                                                                      "admin"), default=404),
    ("GET", "/api/instances/{instance_id}/history"): Row("open", allowed=only(200, "outlet", "rcc_director", *NATIONAL,
                                                                              "admin"), default=404),
    ("POST", "/api/instances/{instance_id}/suspend"): Row("open", {"reason": "audit"}, allowed=only(200, "admin"),
                                                          default=403, mutates=True),
    ("POST", "/api/instances/{instance_id}/resume"): Row("suspended", {"reason": "audit done"},
                                                         allowed=only(200, "admin"), default=403, mutates=True),
    ("POST", "/api/instances/{instance_id}/terminate"): Row("open", {"reason": "withdrawn"},
                                                            allowed=only(200, "admin"), default=403, mutates=True),
    # 撤回 is the starter's (the demo outlet); whoever else sees the case is refused, the rest do not see it.
    ("POST", "/api/instances/{instance_id}/withdraw"): Row("open", {"reason": "顾客撤回 / the customer withdrew"},
                                                           allowed={"outlet": 200, "rcc_director": 403,
                                                                    **only(403, *NATIONAL, "admin")},
                                                           default=404, mutates=True),
    ("POST", "/api/instances/{instance_id}/retry"): Row("failed", {"reason": "days added", "variables": {"days": 3}},
                                                        allowed=only(200, "admin"), default=403, mutates=True),
    # A case the caller may not message answers as one that is not there (no oracle on business keys).
    ("POST", "/api/messages"): Row("parts", allowed=only(200, "rcc_agent", *NATIONAL, "admin"), default=404,
                                   mutates=True),
    # A broadcast reaches only the cases the caller may message; one that reaches none is no error.
    ("POST", "/api/signals"): Row(body={"name": "nothing_listens_for_this"}),
    ("GET", "/api/tasks"): Row(),
    ("GET", "/api/my/done"): Row(),  # each caller's own
    ("GET", "/api/my/started"): Row(),
    ("GET", "/api/my/counts"): Row(),
    # Saved filters are each caller's own: anyone may save one; another person's id is not there.
    ("GET", "/api/my/filters"): Row(),
    ("POST", "/api/my/filters"): Row(body={"name": "逾期 / overdue", "query": {"due": "overdue"}}),
    ("DELETE", "/api/my/filters/{filter_id}"): Row(default=404),
    ("GET", "/api/tasks/{task_id}"): Row("open", allowed=WORKERS, default=404),
    # An admin sees every task but claims only as a member of its groups.
    ("POST", "/api/tasks/{task_id}/claim"): Row("open", allowed={"rcc_director": 200, "admin": 403}, default=404,
                                                mutates=True),
    ("POST", "/api/tasks/{task_id}/unclaim"): Row("claimed", allowed=WORKERS, default=404, mutates=True),
    ("POST", "/api/tasks/{task_id}/complete"): Row("claimed", {"data": {"rcc_approved": True}},
                                                   allowed={"rcc_director": 200, "admin": 403}, default=404,
                                                   mutates=True),
    # Deciding claims an unclaimed task first: an admin outside its groups may not.
    ("POST", "/api/tasks/{task_id}/decide"): Row("open", {"outcome": "approve"},
                                                 allowed={"rcc_director": 200, "admin": 403}, default=404,
                                                 mutates=True),
    ("POST", "/api/tasks/{task_id}/assign"): Row("claimed", {"assignee": "rcc_director"}, allowed=WORKERS,
                                                 default=404, mutates=True),
    ("POST", "/api/tasks/{task_id}/delegate"): Row("claimed", {"assignee": "rcc_director"}, allowed=WORKERS,
                                                   default=404, mutates=True),
    # The review is the case's first step: its holder is told it may send back to none (422); an
    # admin outside its group may not act on it.
    ("POST", "/api/tasks/{task_id}/send-back"): Row("claimed", {"to": "review", "reason": "重做 / redo"},
                                                    allowed={"rcc_director": 422, "admin": 403}, default=404),
    # 加签: the holder asks; an admin who is not the holder may not. No sign of that id is anyone's to decide.
    ("POST", "/api/tasks/{task_id}/extra-signs"): Row("claimed", {"signer": "csd_head", "position": "before",
                                                                  "reason": "会签 / co-sign"},
                                                      allowed={"rcc_director": 201, "admin": 403}, default=404,
                                                      mutates=True),
    ("POST", "/api/tasks/{task_id}/extra-signs/{sign_id}/decide"): Row("open", {"outcome": "approve"}, default=404),
    ("GET", "/api/my/extra-signs"): Row(),  # each caller's own
    ("PATCH", "/api/tasks/{task_id}"): Row("claimed", {"priority": 80}, allowed=WORKERS, default=404, mutates=True),
    ("GET", "/api/tasks/{task_id}/comments"): Row("open", allowed=WORKERS, default=404),
    ("POST", "/api/tasks/{task_id}/comments"): Row("open", {"text": "请尽快 / please hurry"},
                                                   allowed=only(201, "rcc_director", "admin"), default=404,
                                                   mutates=True),
    ("GET", "/api/reports/sla"): Row(params={"start": "2026-01-01", "end": "2026-12-31"},
                                     allowed=only(200, "quality", "csd_head", "admin"), default=403),
    ("GET", "/api/calendar"): Row(),
    ("PUT", "/api/calendar/{day}"): Row(body={"kind": "holiday", "name": "国庆 / National Day"},
                                        allowed=only(200, "admin"), default=403, mutates=True),
    ("DELETE", "/api/calendar/{day}"): Row("holiday", allowed=only(204, "admin"), default=403, mutates=True),
    ("GET", "/api/users"): Row(allowed=only(200, "admin"), default=403),
    ("POST", "/api/users"): Row(body={"username": "matrix.user", "password": "long-enough-pw", "groups": ["quality"]},
                                allowed=only(201, "admin"), default=403, mutates=True),
    ("PATCH", "/api/users/{username}"): Row(body={"is_active": True}, allowed=only(200, "admin"), default=403),
    ("POST", "/api/users/{username}/unlock"): Row(allowed=only(200, "admin"), default=403),
    ("GET", "/api/groups"): Row(),
    ("POST", "/api/groups"): Row(body={"group_id": "matrix_group", "name": "矩阵 / Matrix"},
                                 allowed=only(201, "admin"), default=403, mutates=True),
    ("GET", "/api/forms/{form_key}"): Row(),
    # The register is the network's directory: everyone reads it; admins (and a region's own RCC
    # director, not the unbound demo one) change it.
    ("GET", "/api/regions"): Row(),
    ("POST", "/api/regions"): Row(body={"code": "matrix", "name": "矩阵 / Matrix", "cities": ["上海"]},
                                  allowed=only(201, "admin"), default=403),
    ("PUT", "/api/regions/{code}"): Row(body={"name": "华东 / East China", **EAST_CITIES}, allowed=only(200, "admin"),
                                        default=403),
    ("GET", "/api/outlets"): Row(),
    ("GET", "/api/outlets/{code}"): Row(),
    ("POST", "/api/outlets"): Row(body={"code": "MX-001", "name": "矩阵网点 / Matrix outlet", "region_code": "east"},
                                  allowed=only(201, "admin"), default=403),
    ("PATCH", "/api/outlets/{code}"): Row(body={"outlet_class": "A"}, allowed=only(200, "admin"), default=403),
    # Another outlet's archive answers as one that is not there; everyone else reads it.
    ("GET", "/api/outlets/{code}/archive"): Row(),
    ("POST", "/api/outlets/{code}/staff"): Row(body={"name": "李强", "role": "工程师 / engineer"},
                                               allowed=only(201, "admin"), default=403),
    ("POST", "/api/outlets/{code}/status"): Row(body={"status": "suspended", "reason": "audit"},
                                                allowed=only(200, "admin"), default=403),
    # The customer archive is the RCC's and the CSD's: outlet staff and designers have no part of it.
    ("GET", "/api/customers"): Row(allowed=only(200, *ARCHIVE), default=403),
    ("POST", "/api/customers"): Row(body={"name": "矩阵 / Matrix", "phone": "138-0000-0000", "region_code": "east"},
                                    allowed=only(201, *ARCHIVE), default=403),
    ("GET", "/api/customers/{customer_id}"): Row("customer", allowed=only(200, *ARCHIVE), default=404),
    ("PATCH", "/api/customers/{customer_id}"): Row("customer", {"city": "上海"}, allowed=only(200, *ARCHIVE),
                                                   default=404),
    ("POST", "/api/customers/{customer_id}/products"): Row("customer", {"serial_number": "SN-MATRIX", "model": "X"},
                                                           allowed=only(201, *ARCHIVE), default=404),
    ("GET", "/api/customers/{customer_id}/cases"): Row("customer", allowed=only(200, *ARCHIVE), default=404),
    ("GET", "/api/products/{serial_number}/cases"): Row(allowed=only(200, *ARCHIVE), default=403),
    ("GET", "/api/service-accounts"): Row(allowed=only(200, "admin"), default=403),
    ("POST", "/api/service-accounts"): Row(body={"name": "matrix-worker"}, allowed=only(201, "admin"), default=403,
                                           mutates=True),
    # No account of that name: the admin is told so; everyone else is refused before the look-up.
    ("POST", "/api/service-accounts/{name}/revoke"): Row(allowed=only(404, "admin"), default=403),
    ("PUT", "/api/service-accounts/{name}/groups"): Row(body={"groups": []}, allowed=only(404, "admin"), default=403),
    ("GET", "/api/external-tasks"): Row(allowed=only(200, "admin"), default=403),
    # Notifications: each caller reads and marks only their own (someone else's id answers 404).
    ("GET", "/api/notifications"): Row(),
    ("GET", "/api/notifications/unread"): Row(),
    ("POST", "/api/notifications/read"): Row(),
    ("POST", "/api/notifications/{notification_id}/read"): Row(default=404),
    ("GET", "/api/me/notification-settings"): Row(),
    ("PUT", "/api/me/notification-settings"): Row(body={"language": "zh"}),
    ("PUT", "/api/users/{username}/notification-settings"): Row(body={"language": "en"}, allowed=only(200, "admin"),
                                                                default=403),
    ("GET", "/api/webhooks"): Row(allowed=only(200, "admin"), default=403),
    ("POST", "/api/webhooks"): Row(body={"group_id": "quality", "url": "http://127.0.0.1:9/hook"},
                                   allowed=only(201, "admin"), default=403, mutates=True),
    ("DELETE", "/api/webhooks/{endpoint_id}"): Row(allowed=only(404, "admin"), default=403),
    ("GET", "/api/groups/{group_id}/notification-defaults"): Row(allowed=only(200, "admin"), default=403),
    ("PUT", "/api/groups/{group_id}/notification-defaults"): Row(body={"channels": {"task_queued": ["in_app"]}},
                                                                 allowed=only(200, "admin"), default=403),
    ("GET", "/api/admin/notifications/dead"): Row(allowed=only(200, "admin"), default=403),
    # Attachments: added at a task by those who may work it (an admin sees it but is not of its groups),
    # to a case and read by those who see the case; staged for a start form by anyone.
    ("POST", "/api/tasks/{task_id}/attachments"): Row("open", allowed={"rcc_director": 201, "admin": 403},
                                                      default=404),
    ("POST", "/api/instances/{instance_id}/attachments"): Row("open", allowed=only(201, *VIEWERS), default=404),
    ("POST", "/api/attachments"): Row(default=201),
    ("GET", "/api/instances/{instance_id}/attachments"): Row("open", allowed=only(200, *VIEWERS), default=404),
    ("GET", "/api/attachments/{attachment_id}"): Row("attached", allowed=only(200, *VIEWERS), default=404),
    ("GET", "/api/attachments/{attachment_id}/thumbnail"): Row("attached", allowed=only(200, *VIEWERS), default=404),
    ("POST", "/api/admin/notifications/{notification_id}/resend"): Row(allowed=only(404, "admin"), default=403),
}
NO_SUCH_ID = "00000000-0000-4000-8000-000000000000"
PNG = b"".join((b"\x89PNG\r\n\x1a\n", bytes.fromhex(  # a 1x1 picture: the thumbnail route has one to serve
    "0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360f8cfc0f01f0005000201"
    "a7b1d8e10000000049454e44ae426082")))  # a notification or webhook id that names nothing


def api_routes(client: TestClient) -> set[tuple[str, str]]:
    """Every (method, path) the app serves under /api, included routers flattened as FastAPI does for OpenAPI."""
    contexts = iter_route_contexts(client.app.routes)  # type: ignore[attr-defined]
    return {(method, str(route.path)) for route in contexts
            if route.path and route.path.startswith("/api") for method in (route.methods or set()) - {"HEAD"}}


def test_every_api_route_is_in_the_matrix(client: TestClient) -> None:
    assert api_routes(client) == set(MATRIX)


@dataclass
class Target:
    instance_id: str = ""
    task_id: str = ""
    business_key: str = ""
    customer_id: str = ""
    attachment_id: str = ""


def _start_review(session: Session, clock: FrozenClock, catalog: FormCatalog, variables: dict[str, Any]) -> Target:
    detail = instances.start_instance(session, clock, catalog, actor=OUTLET, definition_key="two_step_review",
                                      variables=variables)
    return Target(str(detail.summary.instance_id), str(detail.waiting_tasks[0].task_id))


def _prepare(factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog, state: str) -> Target:
    """A target in the state a row names, written through the engine as the users would."""
    if state == "none":
        return Target()
    if state == "holiday":
        with transaction(factory) as session:
            business_calendar.set_day(session, clock, actor="admin", day=date.fromisoformat(HOLIDAY), kind="holiday",
                                      name="国庆 / National Day")
        return Target()
    if state == "customer":
        with transaction(factory) as session:
            customer = customers.add_customer(session, clock, actor=ADMIN, name="矩阵 / Matrix", phone="138-0000-0001",
                                              region_code="east")
        return Target(customer_id=str(customer.customer_id))
    if state == "parts":
        key = f"PARTS-{uuid.uuid4().hex[:8]}"
        with transaction(factory) as session:
            detail = instances.start_instance(session, clock, catalog, actor=AGENT, definition_key="parts_wait",
                                              business_key=key)
        return Target(str(detail.summary.instance_id), business_key=key)
    with transaction(factory) as session:
        # Without `days` the gateway after the review fails: the "failed" target is an incident.
        target = _start_review(session, clock, catalog, {} if state == "failed" else {"days": 3})
    if state == "attached":
        with transaction(factory) as session:
            added = attachments.add_to_case(session, clock, DatabaseAttachmentStore(), AttachmentLimits.of(TEST_CONFIG),
                                            actor=OUTLET, instance_id=uuid.UUID(target.instance_id),
                                            filename="photo.png", content=PNG)
        target.attachment_id = str(added.attachment_id)
    if state in ("claimed", "failed"):
        with transaction(factory) as session:
            tasks.claim_task(session, clock, actor=DIRECTOR, task_id=uuid.UUID(target.task_id))
    if state == "failed":
        with transaction(factory) as session:
            tasks.complete_task(session, clock, catalog, actor=DIRECTOR, task_id=uuid.UUID(target.task_id),
                                data={"rcc_approved": True})
    if state == "suspended":
        with transaction(factory) as session:
            instances.suspend_instance(session, clock, actor=ADMIN, instance_id=uuid.UUID(target.instance_id),
                                       reason="audit")
    with factory() as session:
        status = session.scalar(select(Instance.status).where(Instance.instance_id == uuid.UUID(target.instance_id)))
    assert status == {"failed": "failed", "suspended": "suspended"}.get(state, "running")
    return target


def deploy_targets(factory: sessionmaker[Session], clock: FrozenClock, catalog: FormCatalog) -> None:
    """The processes the rows' targets are cases of."""
    with transaction(factory) as session:
        for name in ("two_step_review.bpmn", "parts_wait.bpmn"):
            definitions.deploy(session, clock, catalog, actor=DESIGNER, filename=name,
                               content=(TEST_PROCESSES / name).read_bytes())


def _fingerprint(factory: sessionmaker[Session]) -> tuple[Any, ...]:
    """Enough of the database to see that a refused call changed nothing."""
    with factory() as session:
        counts = tuple(session.scalar(select(func.count()).select_from(t)) for t in
                       (AuditEvent, Instance, Task, User, Group, CalendarDay, Attachment))
        task_rows = sorted(session.execute(select(Task.task_id, Task.status, Task.assignee, Task.priority)).all())
        instance_rows = sorted(session.execute(select(Instance.instance_id, Instance.status)).all())
    return counts, task_rows, instance_rows


def _headers(caller: str, settings: Settings, clock: FrozenClock) -> dict[str, str]:
    if caller == "no token":
        return {}
    if caller == "expired token":
        token = issue_token("admin", generation=0, secret=settings.secret_key, now=clock.now() - timedelta(hours=9), minutes=480)
    elif caller == "forged token":
        token = issue_token("admin", generation=0, secret="a-guessed-secret-of-the-full-recommended-length", now=clock.now(), minutes=480)
    elif caller == "unsigned token":
        token = jwt.encode({"sub": "admin", "iss": "tixi", "iat": 0, "exp": 4102444800}, "", algorithm="none")
    else:  # a demo user; signing directly skips eleven argon2 logins per row
        token = issue_token(caller, generation=0, secret=settings.secret_key, now=clock.now(), minutes=480)
    return {"Authorization": f"Bearer {token}"}


def _call(client: TestClient, method: str, path: str, row: Row, target: Target, headers: dict[str, str]) -> Any:
    url = (path.replace("{instance_id}", target.instance_id).replace("{task_id}", target.task_id)
           .replace("{key}", "two_step_review").replace("{version}", "1").replace("{username}", "quality")
           .replace("{form_key}", "rcc_site_review").replace("{day}", HOLIDAY)
           .replace("{code}", "east" if path.startswith("/api/regions") else "HD-001")
           .replace("{customer_id}", target.customer_id).replace("{serial_number}", "SN-2025-000123")
           .replace("{notification_id}", NO_SUCH_ID).replace("{filter_id}", NO_SUCH_ID).replace("{endpoint_id}", NO_SUCH_ID)
           .replace("{group_id}", "quality").replace("{attachment_id}", target.attachment_id)
           .replace("{sign_id}", NO_SUCH_ID))
    if path == "/api/definitions" and method == "POST":
        review = TEST_PROCESSES / "two_step_review.bpmn"
        return client.post(url, headers=headers, files={"file": (review.name, review.read_bytes(), "text/xml")})
    if path.endswith("/attachments") and method == "POST":
        return client.post(url, headers=headers, files={"file": ("photo.png", PNG, "application/octet-stream")})
    if path == "/api/auth/token":
        return client.post(url, headers=headers, data={"username": "outlet", "password": "demo"})
    body = row.body
    if path == "/api/messages":
        body = {"name": "parts_arrived", "business_key": target.business_key}
    return client.request(method, url, headers=headers, params=row.params, json=body)


@pytest.mark.parametrize(("method", "path"), sorted(MATRIX), ids=[f"{m} {p}" for m, p in sorted(MATRIX)])
def test_route_status_for_every_caller(client: TestClient, factory: sessionmaker[Session], clock: FrozenClock,
                                       catalog: FormCatalog, app_settings: Settings, method: str, path: str) -> None:
    row = MATRIX[(method, path)]
    deploy_targets(factory, clock, catalog)
    shared = _prepare(factory, clock, catalog, row.target)
    got: dict[str, int] = {}
    for caller in (*USERS, *ANONYMOUS):
        target = _prepare(factory, clock, catalog, row.target) if row.mutates and caller in row.allowed else shared
        before = _fingerprint(factory)
        response = _call(client, method, path, row, target, _headers(caller, settings=app_settings, clock=clock))
        got[caller] = response.status_code
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json", response.text
            assert _fingerprint(factory) == before, f"{caller}: a refused {method} {path} changed the database"
    expected = {caller: row.allowed.get(caller, row.default) for caller in USERS}
    expected.update(dict.fromkeys(ANONYMOUS, 200 if row.public else 401))
    assert got == expected
