"""Attachments: upload to a task, a case or (for a start form) staged; list a case's; download."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import File, Request, Response, UploadFile

from api.attachment_schemas import AttachmentOut
from api.deps import CHECKED_INPUT, ActorDep, ClockDep, SessionDep, SettingsDep
from api.downloads import attachment as attachment_disposition
from api.problems import API_ERRORS, responses
from api.routing import api_router
from engine import attachments
from engine.attachment_store import AttachmentStore
from engine.attachments import AttachmentLimits
from engine.db import reading

router = api_router(tags=["attachments"], responses=API_ERRORS, dependencies=CHECKED_INPUT)
UPLOAD_ERRORS = responses(413, 415)
FileDep = Annotated[UploadFile, File(description="the file; its type is read from its bytes: JPEG, PNG, WebP, GIF, "
                                                 "PDF unless TIXI_ATTACHMENT_TYPES says otherwise")]


def _store(request: Request) -> AttachmentStore:
    store: AttachmentStore = request.app.state.attachment_store
    return store


def _content(file: UploadFile, limits: AttachmentLimits) -> bytes:
    # Never more than one byte past the limit is held (the engine refuses that one with a 413); the
    # request body as a whole was already capped while it was read (api/limits.py).
    return file.file.read(limits.max_bytes + 1)


@router.post("/api/tasks/{task_id}/attachments", status_code=201, responses=UPLOAD_ERRORS,
             summary="Add a file at a task (those who may work it)")
def add_to_task(task_id: uuid.UUID, file: FileDep, request: Request, session: SessionDep, clock: ClockDep,
                actor: ActorDep, settings: SettingsDep) -> AttachmentOut:
    limits = AttachmentLimits.of(settings)
    content = _content(file, limits)
    with session.begin():
        return AttachmentOut.of(attachments.add_to_task(session, clock, _store(request), limits, actor=actor,
                                                        task_id=task_id, filename=file.filename or "", content=content))


@router.post("/api/instances/{instance_id}/attachments", status_code=201, responses=UPLOAD_ERRORS,
             summary="Add a file to a case (those who may see it)")
def add_to_case(instance_id: uuid.UUID, file: FileDep, request: Request, session: SessionDep, clock: ClockDep,
                actor: ActorDep, settings: SettingsDep) -> AttachmentOut:
    limits = AttachmentLimits.of(settings)
    content = _content(file, limits)
    with session.begin():
        return AttachmentOut.of(attachments.add_to_case(session, clock, _store(request), limits, actor=actor,
                                                        instance_id=instance_id, filename=file.filename or "",
                                                        content=content))


@router.post("/api/attachments", status_code=201, responses=UPLOAD_ERRORS,
             summary="Stage a file for a start form; the start that names it puts it on its case")
def stage(file: FileDep, request: Request, session: SessionDep, clock: ClockDep, actor: ActorDep,
          settings: SettingsDep) -> AttachmentOut:
    limits = AttachmentLimits.of(settings)
    content = _content(file, limits)
    with session.begin():
        return AttachmentOut.of(attachments.stage(session, clock, _store(request), limits, actor=actor,
                                                  filename=file.filename or "", content=content))


@router.get("/api/instances/{instance_id}/attachments", summary="A case's files, oldest first")
def list_of_case(instance_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> list[AttachmentOut]:
    with reading(session):
        return [AttachmentOut.of(a) for a in attachments.list_attachments(session, actor=actor,
                                                                          instance_id=instance_id)]


@router.get("/api/attachments/{attachment_id}", summary="Download a file (those who may see its case)",
            response_class=Response)
def download(attachment_id: uuid.UUID, request: Request, session: SessionDep, actor: ActorDep) -> Response:
    with reading(session):
        info, content, kind = attachments.read_attachment(session, _store(request), actor=actor,
                                                          attachment_id=attachment_id)
    return _file_response(content, kind, attachment_disposition(info.filename))


@router.get("/api/attachments/{attachment_id}/thumbnail", summary="A small picture of an image file",
            response_class=Response)
def thumbnail(attachment_id: uuid.UUID, request: Request, session: SessionDep, actor: ActorDep) -> Response:
    with reading(session):
        info, content, kind = attachments.read_attachment(session, _store(request), actor=actor,
                                                          attachment_id=attachment_id, thumbnail=True)
    return _file_response(content, kind, attachment_disposition(f"thumbnail-{info.filename}"))


def _file_response(content: bytes, kind: str, disposition: str) -> Response:
    # nosniff: the browser keeps to the sniffed type we send; the sandbox keeps a file opened in a
    # tab from running anything as this site; private: a shared cache must not keep a case's files.
    return Response(content, media_type=kind, headers={
        "Content-Disposition": disposition, "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self'", "Cache-Control": "private, no-store"})
