"""The FastAPI application factory."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session, sessionmaker
from starlette.types import ASGIApp

from api import problems
from api.actors import ActorCache
from api.auth import CheckedTokens
from api.limits import BodySizeLimit
from api.login_guard import EarlyLoginRefusal, HashSlots, LoginGuard
from api.routes import (
    admin,
    attachments,
    auth,
    customers,
    definitions,
    docs,
    external_tasks,
    health,
    instances,
    messages,
    my_work,
    network,
    notifications,
    reports,
    service_accounts,
    signals,
    tasks,
)
from api.security_headers import SecurityHeaders
from api.service_account_auth import ServiceKeyCache
from api.settings import Settings
from api.web import design, inbox, login, monitor, network_pages, notices
from api.web.pages import install_error_pages
from engine.advance_limits import give_limits
from engine.attachment_store import attachment_store
from engine.catalog import FormCatalog
from engine.clock import Clock, SystemClock
from engine.db import make_engine
from engine.logins import LockoutPolicy
from engine.worker import start_background_worker
from engine.workflow_store import session_factory as workflow_sessions

log = logging.getLogger(__name__)
WEB_STATIC = Path(__file__).parent / "web" / "static"


class TixiApp(FastAPI):
    """FastAPI with the security headers outside every other layer, error middleware included."""

    def build_middleware_stack(self) -> ASGIApp:
        # Starlette writes a 500 in its outermost middleware, which `add_middleware` cannot wrap.
        return SecurityHeaders(super().build_middleware_stack())


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    session_factory: sessionmaker[Session] | None = None,
    run_scheduler: bool | None = None,
) -> FastAPI:
    settings = settings or Settings()
    clock = clock or SystemClock()
    # The sessionmaker carries how workflows are loaded and saved, and this app's workflow cache.
    factory = session_factory or workflow_sessions(make_engine(settings.database_url, pool_size=settings.database_pool_size,
                                                                max_overflow=settings.database_pool_size), settings)
    scheduler = settings.scheduler_in_process if run_scheduler is None else run_scheduler
    # Set on shutdown (api/cli.py serve): advances in flight stop at their next budget check.
    stop_advances = threading.Event()
    give_limits(factory, settings.advance_limits(stop_advances))
    hash_slots = HashSlots(slots=settings.login_hash_slots, queue=settings.login_hash_queue)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = None
        if scheduler:
            _, stop = start_background_worker(factory, clock, interval=settings.scheduler_interval, config=settings)
        yield
        if stop is not None:
            stop.set()
        hash_slots.close()

    app = TixiApp(
        # FastAPI's own OpenTelemetry looks for configured providers on every request; Tixi sets none.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
        title="Tixi (体系)",
        description="BPMN workflow engine for the after-sales customer-service system. "
        "Log in with POST /api/auth/token, then send the token as a Bearer header.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # api/routes/docs.py serves /docs under its own policy
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.settings, app.state.clock, app.state.session_factory = settings, clock, factory
    app.state.stop_advances = stop_advances
    app.state.catalog = FormCatalog(settings.forms_dir, notification_templates_dir=settings.notification_templates_dir)
    app.state.attachment_store = attachment_store(settings)
    app.state.actor_cache = ActorCache(settings.actor_cache_seconds)
    app.state.checked_tokens = CheckedTokens(settings.secret_key)
    app.state.service_keys = ServiceKeyCache(settings.service_key_cache_seconds)
    policy = LockoutPolicy(failures=settings.login_failures, window=timedelta(minutes=settings.login_window_minutes),
                           lockout=timedelta(minutes=settings.login_lockout_minutes))
    app.state.login_guard = LoginGuard(factory, clock, policy=policy, address_failures=settings.login_address_failures,
                                       slots=hash_slots)
    problems.install(app)
    app.add_middleware(BodySizeLimit, max_upload_bytes=settings.max_upload_bytes)
    app.add_middleware(EarlyLoginRefusal)
    for module in (health, auth, definitions, instances, tasks, my_work, messages, signals, reports, admin, network,
                   customers, service_accounts, external_tasks, notifications, attachments, docs):
        app.include_router(module.router)
    app.include_router(service_accounts.external_router)
    # The web app (issue 5): pages at /, their scripts and the npm packages' builds at /static.
    for page_module in (login, inbox, design, monitor, network_pages, notices):
        app.include_router(page_module.router)
    install_error_pages(app)
    app.mount("/static", StaticFiles(directory=WEB_STATIC, check_dir=False), name="static")
    return app
