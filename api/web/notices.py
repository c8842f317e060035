"""The notification centre's page and the admins' page of dead letters; both write through the JSON API."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse

from api.deps import CHECKED_INPUT, SessionDep
from api.routing import api_router
from api.web.pages import PageActor, render
from engine.db import reading
from engine.notifications import administration, centre

router = api_router(include_in_schema=False, dependencies=CHECKED_INPUT)


@router.get("/notifications")
def notifications_page(request: Request, session: SessionDep, actor: PageActor) -> HTMLResponse:
    with reading(session):
        items = centre.list_notifications(session, actor=actor, limit=100)
    return render(request, "notifications.html", actor=actor, section="notifications", items=items)


@router.get("/admin/notifications")
def dead_letters_page(request: Request, session: SessionDep, actor: PageActor) -> HTMLResponse:
    with reading(session):
        dead = administration.list_dead_letters(session, actor=actor)
    return render(request, "dead_letters.html", actor=actor, section="dead_letters", dead=dead)
