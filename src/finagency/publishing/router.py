"""Publishing over HTTP: channels, publications and the kill switch."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request, Response, status

from finagency import tasks
from finagency.accounts import audit
from finagency.accounts.dependencies import SettingsDep, actor_of, require
from finagency.accounts.permissions import Permission, role_allows
from finagency.accounts.sessions import Principal
from finagency.db import SessionDep
from finagency.errors import Forbidden
from finagency.publishing import dispatcher, service, state
from finagency.publishing.models import STATUSES, Channel
from finagency.publishing.schemas import (
    AttemptOut,
    ChannelIn,
    ChannelOut,
    ChannelPatch,
    Limits,
    PauseIn,
    PublicationDetail,
    PublicationOut,
    PublicationPage,
    PublishingStatus,
    RescheduleIn,
    ResolveIn,
    RetractIn,
    RetractOut,
    ScheduleIn,
    VerifyOut,
)
from finagency.routing import feature_router
from finagency.settings import Settings

router = feature_router()
Reader = Annotated[Principal, require(Permission.read)]
Publisher = Annotated[Principal, require(Permission.publish)]
ChannelAdmin = Annotated[Principal, require(Permission.manage_channels)]
SettingsAdmin = Annotated[Principal, require(Permission.manage_settings)]


async def _channel_out(session: SessionDep, settings: Settings, channel: Channel) -> ChannelOut:
    budget = service.effective_limits(settings, channel)
    return ChannelOut(
        id=channel.id,
        type=channel.type,
        name=channel.name,
        config=channel.config or {},
        credentials=service.masked_credentials(settings, channel),
        enabled=channel.enabled,
        limits=Limits(
            per_hour=budget.per_hour,
            per_day=budget.per_day,
            min_spacing_seconds=budget.min_spacing_seconds,
        ),
        limit_overrides=channel.limits or {},
        usage=await service.usage(session, channel),
        posting_window=channel.posting_window,
        verified_at=channel.verified_at,
        verified_identity=channel.verified_identity,
        last_verify_error=channel.last_verify_error,
        credential_expires_at=channel.credential_expires_at,
        created_at=channel.created_at,
    )


@router.post("/channels", tags=["channels"], status_code=status.HTTP_201_CREATED)
async def create_channel(
    body: ChannelIn,
    principal: ChannelAdmin,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
) -> ChannelOut:
    """A channel with its config and credentials (encrypted; never shown again)."""
    spec = service.ChannelSpec(
        type=body.type,
        name=body.name,
        config=body.config,
        credentials=body.credentials,
        limits=body.limits,
        posting_window=body.posting_window,
        enabled=body.enabled,
    )
    channel = await service.create_channel(session, settings, actor_of(request, principal), spec)
    response.headers["Location"] = f"/api/v1/channels/{channel.id}"
    return await _channel_out(session, settings, channel)


@router.get("/channels", tags=["channels"])
async def list_channels(
    principal: Reader, session: SessionDep, settings: SettingsDep
) -> list[ChannelOut]:
    return [
        await _channel_out(session, settings, channel)
        for channel in await service.list_channels(session)
    ]


@router.get("/channels/{channel_id}", tags=["channels"])
async def get_channel(
    channel_id: int, principal: Reader, session: SessionDep, settings: SettingsDep
) -> ChannelOut:
    return await _channel_out(session, settings, await service.get_channel(session, channel_id))


@router.patch("/channels/{channel_id}", tags=["channels"])
async def update_channel(
    channel_id: int,
    body: ChannelPatch,
    principal: ChannelAdmin,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> ChannelOut:
    """Change config, credentials (replaced whole), limits, the posting window, or disable it."""
    channel = await service.get_channel(session, channel_id)
    changes = body.model_dump(exclude_unset=True)
    await service.update_channel(session, settings, actor_of(request, principal), channel, changes)
    return await _channel_out(session, settings, channel)


@router.post("/channels/{channel_id}/verify", tags=["channels"])
async def verify_channel(
    channel_id: int,
    principal: ChannelAdmin,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> VerifyOut:
    """Ask the platform whether the credentials work; a refusal is `ok: false` with its reason."""
    channel = await service.get_channel(session, channel_id)
    result = await service.verify_channel(session, settings, actor_of(request, principal), channel)
    return VerifyOut(**result)


# --- publications ------------------------------------------------------------------------------


@router.post("/publications", tags=["publications"], status_code=status.HTTP_201_CREATED)
async def schedule(
    body: ScheduleIn,
    principal: Publisher,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> list[PublicationOut]:
    """Schedule the approved revision to channels (a time in the past means now)."""
    if body.allow_simulated and not role_allows(principal.role, Permission.override_compliance):
        raise Forbidden("Only an admin may send content written from simulated data there.")
    spec = service.ScheduleSpec(
        content_id=body.content_id,
        channel_ids=body.channel_ids,
        scheduled_at=body.scheduled_at,
        priority=body.priority,
        force_duplicate=body.force_duplicate,
        allow_simulated=body.allow_simulated,
    )
    publications = await service.schedule(session, settings, actor_of(request, principal), spec)
    # Due now: do not wait for the next tick.
    tasks.enqueue_after_commit(session, dispatcher.DISPATCH_TASK)
    return [PublicationOut.model_validate(p) for p in publications]


@router.get("/publications", tags=["publications"])
async def list_publications(
    principal: Reader,
    session: SessionDep,
    content_id: Annotated[int | None, Query(ge=1)] = None,
    publication_status: Annotated[str | None, Query(alias="status", max_length=16)] = None,
    channel_id: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before_id: Annotated[int | None, Query(ge=1)] = None,
) -> PublicationPage:
    if publication_status is not None and publication_status not in STATUSES:
        raise service._unprocessable(
            f"unknown status {publication_status!r}; known: {', '.join(STATUSES)}"
        )
    rows = await service.list_publications(
        session, content_id, publication_status, channel_id, limit, before_id
    )
    return PublicationPage(
        items=[PublicationOut.model_validate(row) for row in rows],
        next_before_id=rows[-1].id if len(rows) == limit else None,
    )


async def _detail(session: SessionDep, publication_id: int) -> PublicationDetail:
    publication = await service.get_publication(session, publication_id)
    detail = PublicationDetail.model_validate(publication)
    detail.history = [
        AttemptOut.model_validate(a) for a in await service.attempts(session, publication_id)
    ]
    return detail


@router.get("/publications/{publication_id}", tags=["publications"])
async def get_publication(
    publication_id: int, principal: Reader, session: SessionDep
) -> PublicationDetail:
    """One publication with every attempt: result, the platform's post id and URL, the error."""
    return await _detail(session, publication_id)


@router.patch("/publications/{publication_id}", tags=["publications"])
async def reschedule(
    publication_id: int,
    body: RescheduleIn,
    principal: Publisher,
    request: Request,
    session: SessionDep,
) -> PublicationDetail:
    publication = await service.get_publication(session, publication_id)
    await service.reschedule(session, actor_of(request, principal), publication, body.scheduled_at)
    tasks.enqueue_after_commit(session, dispatcher.DISPATCH_TASK)
    return await _detail(session, publication_id)


@router.post("/publications/{publication_id}/cancel", tags=["publications"])
async def cancel(
    publication_id: int, principal: Publisher, request: Request, session: SessionDep
) -> PublicationDetail:
    publication = await service.get_publication(session, publication_id)
    await service.cancel(session, actor_of(request, principal), publication)
    return await _detail(session, publication_id)


@router.post("/publications/{publication_id}/retry", tags=["publications"])
async def retry(
    publication_id: int, principal: Publisher, request: Request, session: SessionDep
) -> PublicationDetail:
    """A failed publication gets a fresh round of attempts, now."""
    publication = await service.get_publication(session, publication_id)
    await service.retry(session, actor_of(request, principal), publication)
    tasks.enqueue_after_commit(session, dispatcher.DISPATCH_TASK)
    return await _detail(session, publication_id)


@router.post("/publications/{publication_id}/resolve", tags=["publications"])
async def resolve(
    publication_id: int,
    body: ResolveIn,
    principal: Publisher,
    request: Request,
    session: SessionDep,
) -> PublicationDetail:
    """Say what became of an `unknown` send: published, resend, or cancel."""
    publication = await service.get_publication(session, publication_id)
    await service.resolve(
        session, actor_of(request, principal), publication, body.outcome, body.note, body.post_url
    )
    if body.outcome == "resend":
        tasks.enqueue_after_commit(session, dispatcher.DISPATCH_TASK)
    return await _detail(session, publication_id)


@router.post("/publications/{publication_id}/retract", tags=["publications"])
async def retract(
    publication_id: int,
    body: RetractIn,
    principal: Publisher,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> RetractOut:
    """Delete the post where the platform allows it, else publish a linked correction."""
    publication = await service.get_publication(session, publication_id)
    publication, done = await service.retract(
        session, settings, actor_of(request, principal), publication, body.reason
    )
    return RetractOut(publication=PublicationOut.model_validate(publication), done=done)


# --- the kill switch ---------------------------------------------------------------------------


async def _status(session: SessionDep) -> PublishingStatus:
    current = await state.status(session)
    figures = await session.run_sync(dispatcher.figures)
    return PublishingStatus(
        **current,
        queue_depth=figures.queue_depth,
        oldest_due_seconds=figures.oldest_due_seconds,
    )


@router.get("/publishing/status", tags=["publishing"])
async def publishing_status(principal: Reader, session: SessionDep) -> PublishingStatus:
    return await _status(session)


@router.post("/publishing/pause", tags=["publishing"])
async def pause(
    principal: SettingsAdmin, request: Request, session: SessionDep, body: PauseIn | None = None
) -> PublishingStatus:
    """Stop all sending at once, on every worker; scheduled posts wait, none is lost."""
    reason = body.reason if body else None
    await state.set_paused(session, True, principal.user.id, reason)
    audit.record(session, "publishing_paused", actor_of(request, principal), reason=reason)
    return await _status(session)


@router.post("/publishing/resume", tags=["publishing"])
async def resume(
    principal: SettingsAdmin, request: Request, session: SessionDep
) -> PublishingStatus:
    from finagency.accounts import audit

    await state.set_paused(session, False, principal.user.id, None)
    audit.record(session, "publishing_resumed", actor_of(request, principal))
    tasks.enqueue_after_commit(session, dispatcher.DISPATCH_TASK)
    return await _status(session)
