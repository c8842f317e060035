from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query, Response, UploadFile

from api.deps import CHECKED_INPUT, ActorDep, CatalogDep, ClockDep, SessionDep, SettingsDep
from api.downloads import attachment
from api.problems import API_ERRORS, PayloadTooLargeError, responses
from api.routing import api_router
from api.schemas import MAX_INT, DefinitionOut, DeploymentOut
from engine import definitions
from engine.db import reading
from engine.permissions import Permission, require

router = api_router(prefix="/api/definitions", tags=["definitions"], responses={**API_ERRORS, **responses(413)},
                   dependencies=CHECKED_INPUT)


@router.post("", status_code=201, summary="Deploy a .bpmn, .dmn or .zip bundle as new versions")
def deploy(file: UploadFile, session: SessionDep, clock: ClockDep, catalog: CatalogDep, actor: ActorDep,
           settings: SettingsDep,
           dry_run: Annotated[bool, Query(description="run every deploy-time check, store nothing")] = False,
           ) -> DeploymentOut:
    require(actor, Permission.DEPLOY)
    content = file.file.read(settings.max_upload_bytes + 1)
    if len(content) > settings.max_upload_bytes:
        raise PayloadTooLargeError(f"upload is larger than {settings.max_upload_bytes} bytes",
                                   limit=settings.max_upload_bytes)
    with session.begin() as transaction:
        deployed = definitions.deploy(session, clock, catalog, actor=actor, filename=file.filename or "upload.bpmn",
                                      content=content)
        if dry_run:
            transaction.rollback()  # the checks ran on the real catalogue and database; keep none of it
    return DeploymentOut(definitions=[DefinitionOut.of(d) for d in deployed], dry_run=dry_run)


@router.get("", summary="The latest version of every process and decision")
def list_definitions(session: SessionDep, actor: ActorDep) -> list[DefinitionOut]:
    with reading(session):
        return [DefinitionOut.of(d) for d in definitions.list_definitions(session)]


@router.get("/{key}", summary="All versions of one key, newest first")
def list_versions(key: str, session: SessionDep, actor: ActorDep) -> list[DefinitionOut]:
    with reading(session):
        return [DefinitionOut.of(d) for d in definitions.list_versions(session, key)]


@router.get("/{key}/versions/{version}/xml", summary="The deployed XML of one version, as a download",
            response_class=Response, responses={200: {"content": {"application/xml": {}}}})
def definition_xml(key: str, version: Annotated[int, Path(ge=1, le=MAX_INT)], session: SessionDep, actor: ActorDep) -> Response:
    with reading(session):
        filename, source = definitions.get_source(session, key, version)
    # A download, never a document rendered in Tixi's origin: an upload stored before deploy refused
    # foreign markup may still hold a script. The pages' viewers fetch() it, which ignores this.
    return Response(source, media_type="application/xml", headers={"Content-Disposition": attachment(filename)})
