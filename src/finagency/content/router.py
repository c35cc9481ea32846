"""Content over HTTP: requests, content with its revisions and findings."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Query, Response, status

from finagency import tasks
from finagency.accounts.dependencies import SettingsDep, require
from finagency.accounts.permissions import Permission
from finagency.accounts.sessions import Principal
from finagency.content import service
from finagency.content.schemas import (
    ContentOut,
    ContentPage,
    ContentRequestIn,
    ContentRequestOut,
    ContentSummary,
    FindingOut,
    RevisionOut,
)
from finagency.db import SessionDep
from finagency.routing import feature_router

router = feature_router()
Reader = Annotated[Principal, require(Permission.read)]
Analyst = Annotated[Principal, require(Permission.request_content)]


@router.post("/content/requests", tags=["content"], status_code=status.HTTP_202_ACCEPTED)
async def create_request(
    body: ContentRequestIn,
    principal: Analyst,
    session: SessionDep,
    settings: SettingsDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=150)] = None,
) -> ContentRequestOut:
    """Ask for content; a worker writes and checks it. Poll the Location for `content_id`."""
    spec = service.RequestSpec(
        type=body.type,
        symbols=list(dict.fromkeys(body.symbols)),
        channels=list(dict.fromkeys(body.channels)),
        topic=body.topic,
        idea_id=body.idea_id,
        audience=body.audience,
        tone=body.tone,
    )
    request, created = await service.create_request(
        session, settings, spec, principal.user.id, idempotency_key
    )
    if created:
        tasks.enqueue_after_commit(session, service.GENERATE_TASK, request.id)
    response.headers["Location"] = f"/api/v1/content/requests/{request.id}"
    return ContentRequestOut.model_validate(request)


@router.get("/content/requests/{request_id}", tags=["content"])
async def get_request(request_id: int, principal: Reader, session: SessionDep) -> ContentRequestOut:
    return ContentRequestOut.model_validate(await service.get_request(session, request_id))


@router.get("/content", tags=["content"])
async def list_content(
    principal: Reader,
    session: SessionDep,
    content_status: Annotated[str | None, Query(alias="status", max_length=16)] = None,
    content_type: Annotated[str | None, Query(alias="type", max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before_id: Annotated[int | None, Query(ge=1)] = None,
) -> ContentPage:
    rows = await service.list_content(session, content_status, content_type, limit, before_id)
    return ContentPage(
        items=[ContentSummary.model_validate(row) for row in rows],
        next_before_id=rows[-1].id if len(rows) == limit else None,
    )


@router.get("/content/{content_id}", tags=["content"])
async def get_content(content_id: int, principal: Reader, session: SessionDep) -> ContentOut:
    """The current revision with its renderings per channel type, provenance and findings."""
    content = await service.get_content(session, content_id)
    revision = await service.current_revision(session, content)
    findings = await service.findings(session, revision.id)
    return ContentOut(
        id=content.id,
        type=content.type,
        status=content.status,
        simulated=content.simulated,
        created_at=content.created_at,
        updated_at=content.updated_at,
        revision=RevisionOut(**service.as_dict(revision)),
        findings=[FindingOut.model_validate(f) for f in findings],
    )


@router.get("/content/{content_id}/findings", tags=["content"])
async def get_findings(content_id: int, principal: Reader, session: SessionDep) -> list[FindingOut]:
    content = await service.get_content(session, content_id)
    revision = await service.current_revision(session, content)
    return [FindingOut.model_validate(f) for f in await service.findings(session, revision.id)]


@router.get("/content/{content_id}/revisions", tags=["content"])
async def get_revisions(
    content_id: int, principal: Reader, session: SessionDep
) -> list[RevisionOut]:
    return [RevisionOut(**service.as_dict(r)) for r in await service.revisions(session, content_id)]
