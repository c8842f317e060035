"""The process designers' pages: deployed processes and decision tables, their diagrams, the modeler."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse

from api.deps import CHECKED_INPUT, CatalogDep, SessionDep
from api.routing import api_router
from api.web.pages import PageActor, render
from engine import definitions, identity
from engine.db import reading
from engine.errors import NotFoundError
from engine.permissions import Permission, require

router = api_router(include_in_schema=False, dependencies=CHECKED_INPUT)


@router.get("/processes")
def process_list(request: Request, session: SessionDep, actor: PageActor) -> HTMLResponse:
    require(actor, Permission.READ)  # as GET /api/definitions: the diagrams are what approvers' cases run on
    with reading(session):
        latest = definitions.list_definitions(session)
    return render(request, "processes.html", actor=actor, section="processes", definitions=latest)


@router.get("/processes/{key}")
def process_page(key: str, request: Request, session: SessionDep, actor: PageActor,
                 version: Annotated[int | None, Query(ge=1)] = None) -> HTMLResponse:
    require(actor, Permission.READ)
    with reading(session):
        versions = definitions.list_versions(session, key)
    shown = next((d for d in versions if version is None or d.version == version), None)
    if shown is None:
        raise NotFoundError(f"'{key}' version {version} is not deployed", key=key, version=version)
    return render(request, "process.html", actor=actor, section="processes", versions=versions, shown=shown)


@router.get("/modeler")
def modeler_page(request: Request, session: SessionDep, catalog: CatalogDep, actor: PageActor,
                 key: str = "", version: Annotated[int | None, Query(ge=1)] = None) -> HTMLResponse:
    """Edit a deployed version (or a new process) with bpmn-js; deploying makes a new version."""
    require(actor, Permission.DEPLOY)
    with reading(session):
        groups = identity.list_groups(session)
        if key:
            versions = definitions.list_versions(session, key)
            if not versions or versions[0].kind != "process":
                raise NotFoundError(f"process '{key}' is not deployed", key=key)
            version = version or versions[0].version
    return render(request, "modeler.html", actor=actor, section="processes", key=key, version=version,
                  groups=groups, forms=catalog.keys())
