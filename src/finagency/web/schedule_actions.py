"""The Schedule page's forms: cancel, retry, reschedule, resolve and retract a publication;
pause and resume publishing.

Each calls the publishing service as the API's routes do (the same permission, the same
arguments, the dispatcher woken after the commit where the API wakes it), inside a savepoint so
that a refused action changes nothing. Success goes back to the schedule with its filters and a
notice (303); a business error shows the page the form was on again, with the service's message
and status; bad input is a 422.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from finagency import tasks
from finagency.accounts import audit
from finagency.accounts.audit import Actor
from finagency.accounts.dependencies import SettingsDep, actor_of
from finagency.accounts.permissions import Permission
from finagency.db import SessionDep
from finagency.errors import FinagencyError, NotFound
from finagency.publishing import dispatcher, state
from finagency.publishing import service as publishing_service
from finagency.publishing.models import Publication
from finagency.settings import Settings
from finagency.web.actions import BadInput, CsrfField, scheduled_time
from finagency.web.guard import Visitor, admit_form
from finagency.web.rendering import page
from finagency.web.schedule_view import (
    Asked,
    back_to_schedule,
    find_publication,
    render_publication,
    render_schedule,
)

router = APIRouter(include_in_schema=False)

BackField = Annotated[str, Form(max_length=500)]
# Which page the form was on: a refusal shows that page again.
ViewField = Annotated[str, Form(max_length=16)]
MAX_REASON = 500

# An action on one publication: do it and say which notice to show.
Act = Callable[[Publication, Actor], Awaitable[str]]


async def _perform(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    publication_id: str,
    csrf_token: str,
    back: str,
    view: str,
    act: Act,
    typed: dict[str, str] | None = None,
) -> Response:
    visitor = await admit_form(
        request, session, settings, Permission.publish, "/schedule", csrf_token
    )
    if not isinstance(visitor, Visitor):
        return visitor
    asked = Asked.from_query(back)
    try:
        publication = await find_publication(session, publication_id)
    except NotFound as missing:
        return page(request, "not_found.html", 404, visitor=visitor, message=missing.message)
    known_id = publication.id  # read now: a rolled-back savepoint expires the object
    try:
        async with session.begin_nested():
            done = await act(publication, actor_of(request, visitor.principal))
    except FinagencyError as error:
        if view == "publication":
            return await render_publication(
                request,
                session,
                visitor,
                str(known_id),
                asked,
                error.status_code,
                error.message,
                typed=typed,
            )
        return await render_schedule(
            request, session, visitor, asked, error.status_code, error=error.message
        )
    return RedirectResponse(
        back_to_schedule(asked, done, known_id), status_code=status.HTTP_303_SEE_OTHER
    )


@router.post("/schedule/{publication_id}/cancel")
async def cancel(
    publication_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf_token: CsrfField = "",
    back: BackField = "",
    view: ViewField = "",
) -> Response:
    async def act(publication: Publication, actor: Actor) -> str:
        await publishing_service.cancel(session, actor, publication)
        return "cancelled"

    return await _perform(request, session, settings, publication_id, csrf_token, back, view, act)


@router.post("/schedule/{publication_id}/retry")
async def retry(
    publication_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf_token: CsrfField = "",
    back: BackField = "",
    view: ViewField = "",
) -> Response:
    async def act(publication: Publication, actor: Actor) -> str:
        await publishing_service.retry(session, actor, publication)
        tasks.enqueue_after_commit(session, dispatcher.DISPATCH_TASK)
        return "retried"

    return await _perform(request, session, settings, publication_id, csrf_token, back, view, act)


@router.post("/schedule/{publication_id}/reschedule")
async def reschedule(
    publication_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf_token: CsrfField = "",
    back: BackField = "",
    scheduled_at: Annotated[str, Form(max_length=40)] = "",
    timezone: Annotated[str, Form(max_length=64)] = "UTC",
) -> Response:
    async def act(publication: Publication, actor: Actor) -> str:
        at = scheduled_time(scheduled_at, timezone)  # which also refuses years far away
        await publishing_service.reschedule(session, actor, publication, at)
        tasks.enqueue_after_commit(session, dispatcher.DISPATCH_TASK)
        return "rescheduled"

    typed = {"scheduled_at": scheduled_at, "timezone": timezone}
    return await _perform(
        request, session, settings, publication_id, csrf_token, back, "publication", act, typed
    )


def _post_url(value: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    if len(value) > 1000 or not value.startswith(("https://", "http://")):
        raise BadInput("The post's address must be an http(s) URL of at most 1000 characters.")
    return value


@router.post("/schedule/{publication_id}/resolve")
async def resolve(
    publication_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf_token: CsrfField = "",
    back: BackField = "",
    outcome: Annotated[str, Form(max_length=16)] = "",
    note: Annotated[str, Form(max_length=10000)] = "",
    post_url: Annotated[str, Form(max_length=10000)] = "",
) -> Response:
    async def act(publication: Publication, actor: Actor) -> str:
        if outcome not in publishing_service.RESOLUTIONS:
            raise BadInput("Say what became of it: published, send it again, or cancel it.")
        text = note.strip()
        if not 3 <= len(text) <= 2000:
            raise BadInput(f"The note needs 3 to 2000 characters (it has {len(text)}).")
        url = _post_url(post_url)
        await publishing_service.resolve(session, actor, publication, outcome, text, url)
        if outcome == "resend":
            tasks.enqueue_after_commit(session, dispatcher.DISPATCH_TASK)
        return "resolved"

    typed = {"outcome": outcome, "note": note, "post_url": post_url}
    return await _perform(
        request, session, settings, publication_id, csrf_token, back, "publication", act, typed
    )


@router.post("/schedule/{publication_id}/retract")
async def retract(
    publication_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf_token: CsrfField = "",
    back: BackField = "",
    reason: Annotated[str, Form(max_length=10000)] = "",
) -> Response:
    """As the API's /retract: the post is deleted where the platform allows it, elsewhere a
    linked correction with the reason goes out."""

    async def act(publication: Publication, actor: Actor) -> str:
        why = reason.strip()
        if not 3 <= len(why) <= 2000:
            raise BadInput(f"The reason needs 3 to 2000 characters (it has {len(why)}).")
        _, done = await publishing_service.retract(session, settings, actor, publication, why)
        return done  # "deleted" or "corrected"

    return await _perform(
        request,
        session,
        settings,
        publication_id,
        csrf_token,
        back,
        "publication",
        act,
        {"reason": reason},
    )


# --- the kill switch ---------------------------------------------------------------------------


async def _switch(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    csrf_token: str,
    back: str,
    pause: bool,
    reason: str,
) -> Response:
    """As the API's /publishing/pause and /resume: admins only, recorded in the audit log."""
    visitor = await admit_form(
        request, session, settings, Permission.manage_settings, "/schedule", csrf_token
    )
    if not isinstance(visitor, Visitor):
        return visitor
    asked = Asked.from_query(back)
    why = reason.strip() or None
    if why is not None and len(why) > MAX_REASON:
        error = f"The reason has at most {MAX_REASON} characters (it has {len(why)})."
        return await render_schedule(request, session, visitor, asked, 422, error=error)
    actor = actor_of(request, visitor.principal)
    async with session.begin_nested():
        await state.set_paused(session, pause, visitor.user.id, why if pause else None)
        if pause:
            audit.record(session, "publishing_paused", actor, reason=why)
        else:
            audit.record(session, "publishing_resumed", actor)
            tasks.enqueue_after_commit(session, dispatcher.DISPATCH_TASK)
    done = "paused" if pause else "resumed"
    return RedirectResponse(back_to_schedule(asked, done), status_code=status.HTTP_303_SEE_OTHER)


@router.post("/schedule/pause")
async def pause(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf_token: CsrfField = "",
    back: BackField = "",
    reason: Annotated[str, Form(max_length=10000)] = "",
) -> Response:
    return await _switch(request, session, settings, csrf_token, back, True, reason)


@router.post("/schedule/resume")
async def resume(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf_token: CsrfField = "",
    back: BackField = "",
) -> Response:
    return await _switch(request, session, settings, csrf_token, back, False, "")
