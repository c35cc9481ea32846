"""Content over HTTP: requests, content with its revisions and findings."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import Header, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from finagency import tasks
from finagency.accounts import audit
from finagency.accounts.dependencies import SettingsDep, actor_of, require
from finagency.accounts.permissions import Permission
from finagency.accounts.sessions import Principal
from finagency.content import export, service, workflow
from finagency.content.schemas import (
    ContentOut,
    ContentPage,
    ContentRequestIn,
    ContentRequestOut,
    ContentSummary,
    EditIn,
    FindingOut,
    OverrideIn,
    RejectIn,
    RevisionOut,
)
from finagency.db import SessionDep, StreamingSessionDep
from finagency.errors import FinagencyError
from finagency.iso_times import IsoDateTime
from finagency.routing import feature_router

router = feature_router()
Reader = Annotated[Principal, require(Permission.read)]
Analyst = Annotated[Principal, require(Permission.request_content)]
Editor = Annotated[Principal, require(Permission.edit_content)]
Approver = Annotated[Principal, require(Permission.approve_content)]
Overrider = Annotated[Principal, require(Permission.override_compliance)]
AuditReader = Annotated[Principal, require(Permission.read_audit)]


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
        chart=body.chart,
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


@router.post("/content/requests/{request_id}/retry", tags=["content"], status_code=202)
async def retry_request(
    request_id: int, principal: Analyst, session: SessionDep, settings: SettingsDep
) -> ContentRequestOut:
    """Queue a failed request again (a writer outage, a missing snapshot); 409 otherwise."""
    request = await service.retry_request(session, settings, request_id)
    tasks.enqueue_after_commit(session, service.GENERATE_TASK, request.id)
    return ContentRequestOut.model_validate(request)


@router.get("/content/export", tags=["content"], response_class=StreamingResponse)
async def export_content(
    principal: AuditReader,
    request: Request,
    session: SessionDep,
    reader: StreamingSessionDep,
    since: Annotated[IsoDateTime, Query(description="Content created at or after (ISO 8601).")],
    until: Annotated[IsoDateTime, Query(description="Content created before (ISO 8601).")],
    format: Annotated[Literal["csv", "jsonl"], Query()] = "jsonl",  # noqa: A002
) -> StreamingResponse:
    """Content of a date range with its revisions, findings and decisions, for record keeping."""
    if since.tzinfo is None or until.tzinfo is None:
        raise FinagencyError("since and until need a time zone, e.g. 2026-11-01T00:00:00Z.", 422)
    if until <= since:
        raise FinagencyError("until must be after since.", 422)
    audit.record(
        session,
        "content_exported",
        actor_of(request, principal),
        since=since.isoformat(),
        until=until.isoformat(),
        format=format,
    )

    async def lines() -> AsyncIterator[str]:
        # Read through a session that stays open while the response streams.
        if format == "csv":
            yield audit.csv_values(export.CSV_COLUMNS)
        async for record in export.export_rows(reader, since, until):
            if format == "jsonl":
                yield audit.jsonl_line(record)
            else:
                for row in export.csv_rows(record):
                    yield audit.csv_values(row)

    media = "text/csv" if format == "csv" else "application/x-ndjson"
    stamp = f"{since:%Y%m%d}-{until:%Y%m%d}"
    return StreamingResponse(
        lines(),
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="content-{stamp}.{format}"'},
    )


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
    return await _content_out(session, content_id)


async def _content_out(session: SessionDep, content_id: int) -> ContentOut:
    content = await service.get_content(session, content_id)
    revision = await service.current_revision(session, content)
    findings = await service.findings(session, revision.id)
    return ContentOut(
        id=content.id,
        type=content.type,
        status=content.status,
        simulated=content.simulated,
        approved_revision=content.approved_revision,
        override_reason=content.override_reason,
        review_comment=content.review_comment,
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


@router.patch("/content/{content_id}", tags=["content"])
async def edit_content(
    content_id: int,
    body: EditIn,
    principal: Editor,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> ContentOut:
    """A new revision (first line: the title), checked before the answer: see its findings."""
    content = await service.get_content(session, content_id)
    await workflow.edit(session, settings, actor_of(request, principal), content, body.text)
    return await _content_out(session, content_id)


@router.post("/content/{content_id}/submit", tags=["content"])
async def submit(
    content_id: int, principal: Analyst, request: Request, session: SessionDep
) -> ContentOut:
    content = await service.get_content(session, content_id)
    await workflow.submit(session, actor_of(request, principal), content)
    return await _content_out(session, content_id)


@router.post("/content/{content_id}/approve", tags=["content"])
async def approve(
    content_id: int,
    principal: Approver,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> ContentOut:
    content = await service.get_content(session, content_id)
    await workflow.approve(session, settings, actor_of(request, principal), content)
    return await _content_out(session, content_id)


@router.post("/content/{content_id}/reject", tags=["content"])
async def reject(
    content_id: int, body: RejectIn, principal: Approver, request: Request, session: SessionDep
) -> ContentOut:
    content = await service.get_content(session, content_id)
    await workflow.reject(session, actor_of(request, principal), content, body.comment)
    return await _content_out(session, content_id)


@router.post("/content/{content_id}/override", tags=["content"])
async def override(
    content_id: int,
    body: OverrideIn,
    principal: Overrider,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> ContentOut:
    """Approve despite blocking findings, with a written reason (admins; audited)."""
    content = await service.get_content(session, content_id)
    await workflow.approve(
        session, settings, actor_of(request, principal), content, override_reason=body.reason
    )
    return await _content_out(session, content_id)
