"""What every page needs: the logged-in person, the language, and a template renderer."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, cast
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import problems
from api.auth import read_token
from api.deps import ClockDep, SessionDep, SettingsDep
from api.web import case_view, i18n
from api.web.session import CSRF_COOKIE, SESSION_COOKIE
from engine import definitions, my_work
from engine.business_calendar import LOCAL
from engine.db import reading
from engine.definitions import DefinitionInfo
from engine.errors import AuthenticationError, ServiceError
from engine.identity import Actor, find_token_holder
from engine.my_work import WorkCounts
from engine.notifications import centre
from engine.permissions import Permission, permissions_of

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
# Jinja's `tojson` sorts keys and escapes non-ASCII by default: a form's fields would render in the
# alphabet's order instead of the designer's, and Chinese in nested data would show as \uXXXX.
# (`tojson` still escapes <, >, & and ' for HTML, whatever these say.)
TEMPLATES.env.policies["json.dumps_kwargs"] = {"sort_keys": False, "ensure_ascii": False}
NEAR_DUE = timedelta(hours=8)


class LoginRequired(Exception):
    """Raised by a page when nobody (or a disabled user) is logged in; answered with a redirect to /login."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


async def redirect_to_login(request: Request, error: Exception) -> Response:
    assert isinstance(error, LoginRequired)
    return RedirectResponse(f"/login?next={quote(error.next_url, safe='/')}", status_code=303)


def page_actor(request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep) -> Actor:
    token = request.cookies.get(SESSION_COOKIE)
    next_url = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not token:
        raise LoginRequired(next_url)
    try:
        claims = read_token(token, secret=settings.secret_key, now=clock.now())
    except AuthenticationError:
        raise LoginRequired(next_url) from None
    with reading(session):
        holder = find_token_holder(session, claims.username)
    if holder is None or holder.token_generation != claims.generation:
        raise LoginRequired(next_url)
    return holder.actor


PageActor = Annotated[Actor, Depends(page_actor)]


def language(request: Request) -> str:
    return i18n.language_of(request.cookies.get(i18n.LANGUAGE_COOKIE))


def render(request: Request, template: str, *, actor: Actor | None, status_code: int = 200,
           **context: Any) -> HTMLResponse:
    lang = language(request)
    clock = request.app.state.clock
    unread, counts = _navigation(request, actor)
    return TEMPLATES.TemplateResponse(request, template, status_code=status_code, context={
        "actor": actor,
        "lang": lang,
        "now": clock.now(),
        "csrf": request.cookies.get(CSRF_COOKIE, ""),
        "t": lambda key, **values: i18n.translate(key, lang, **values),
        "label": lambda text: i18n.label(text, lang),
        "event_label": lambda event_type: i18n.event_label(event_type, lang),
        "can": _abilities(actor),
        "due_mark": lambda due_at: due_mark(due_at, clock.now()),
        "at": format_time,
        "unread": unread,
        "problem_messages": i18n.problem_messages(lang),
        "counts": counts,
        "field_title": lambda name, schema: case_view.field_title(name, schema, lang),
        "field_value": lambda value, schema: case_view.field_value(value, schema, lang),
        **context,
    })


def _navigation(request: Request, actor: Actor | None) -> tuple[int, WorkCounts | None]:
    """What every page's navigation shows: the bell's count (in-app notifications not yet read) and the
    numbers of 待办, 已办 and 我发起的, read apart from the page's own reads."""
    if actor is None:
        return 0, None
    with request.app.state.session_factory() as session, reading(session):
        return centre.unread_count(session, actor=actor), my_work.work_counts(session, actor=actor)


def _abilities(actor: Actor | None) -> dict[str, bool]:
    """The menus and buttons a page shows: only what `engine.permissions` lets the actor do."""
    granted = permissions_of(actor)
    return {
        # Anyone may read the processes; the menu leads there the people who make and run them.
        "design": bool(granted & {Permission.DEPLOY, Permission.ADMINISTER}),
        "deploy": Permission.DEPLOY in granted,
        "admin": Permission.ADMINISTER in granted,
        "report": Permission.REPORT in granted,
        "customers": Permission.ARCHIVE in granted and (actor is None or actor.outlet_code is None),
        "audit": Permission.AUDIT in granted,  # the engine log below the approval record
    }


def deployed_processes(session: Session) -> list[DefinitionInfo]:
    """The latest version of every process (not decision tables), for the pages' process filters."""
    return [d for d in definitions.list_definitions(session) if d.kind == "process"]


def due_mark(due_at: datetime | None, now: datetime) -> str:
    """'overdue', 'soon' (within eight hours) or '' for the inbox's due-date column."""
    if due_at is None:
        return ""
    if due_at <= now:
        return "overdue"
    return "soon" if due_at - now <= NEAR_DUE else ""


def format_time(value: datetime | str | None) -> str:
    """Times are shown in the business calendar's zone (Asia/Shanghai), where the service runs."""
    if value is None:
        return ""
    if isinstance(value, str):  # timers carry their due time as ISO text
        value = datetime.fromisoformat(value)
    return value.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M")


def install_error_pages(app: FastAPI) -> None:
    """Errors on a page are shown as a page; the API's paths keep their problem+json bodies."""

    async def service_error(request: Request, error: Exception) -> Response:
        if _is_api(request):
            return await problems.service_error(request, cast(ServiceError, error))
        service = cast(ServiceError, error)
        return _error_page(request, problems.status_of(service), service.detail)

    async def http_error(request: Request, error: Exception) -> Response:
        if _is_api(request):
            return await problems.http_error(request, cast(StarletteHTTPException, error))
        http = cast(StarletteHTTPException, error)
        return _error_page(request, http.status_code, str(http.detail))

    app.add_exception_handler(ServiceError, service_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(LoginRequired, redirect_to_login)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(("/api/", "/engine-rest/", "/static/", "/docs", "/openapi", "/redoc"))


def _error_page(request: Request, status: int, detail: str) -> HTMLResponse:
    return render(request, "error.html", actor=None, status_code=status, status=status, detail=detail)
