"""The draft page's actions as plain HTML forms: edit, submit, approve, reject, override, schedule.

Each form posts the session's CSRF token (checked as logout checks it) and is refused by the
server for a role that may not take it. The work is done by the content and publishing
services inside a savepoint, so a refused action changes nothing; on success the browser is
sent back to the draft (303) with a notice, on a business error the draft is shown again
with the service's message and its status code.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts.audit import Actor
from finagency.accounts.dependencies import SettingsDep, actor_of
from finagency.accounts.permissions import Permission
from finagency.content import service as content_service
from finagency.content import workflow
from finagency.content.models import Content
from finagency.db import SessionDep
from finagency.errors import FinagencyError, NotFound
from finagency.publishing import service as publishing_service
from finagency.settings import Settings
from finagency.web import drafts
from finagency.web.guard import Visitor, admit_form
from finagency.web.rendering import page

router = APIRouter(include_in_schema=False)

# What the page says after each action; the query string carries only the key, never free text.
NOTICES = {
    "edited": "Saved as a new revision and checked again.",
    "submitted": "Submitted for review.",
    "approved": "Approved this revision.",
    "rejected": "Rejected, with your comment for the author.",
    "overridden": "Approved despite its blocking findings; your reason is in the audit log.",
    "scheduled": "Scheduled: one publication per channel, listed below.",
}
# The time zones the schedule form offers (UTC first, the default).
TIMEZONES = (
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Australia/Sydney",
)
MAX_TEXT = 20000
MAX_NOTE = 2000

# An action: given the content and who acts, do it and say which notice to show.
Act = Callable[[Content, Actor], Awaitable[str]]


class BadInput(FinagencyError):
    status_code = 422
    type = "unprocessable"


async def render_draft(
    request: Request,
    session: AsyncSession,
    visitor: Visitor,
    content_id: int,
    status_code: int = 200,
    error: str | None = None,
    notice: str | None = None,
    typed: dict[str, str] | None = None,
    compare: int | None = None,
) -> Response:
    """The draft page with its action forms, an optional error or notice, and what was typed."""
    try:
        draft = await drafts.load(session, content_id, compare)
    except NotFound as missing:
        return page(request, "not_found.html", 404, visitor=visitor, message=missing.message)
    except drafts.UnknownRevision as unknown:
        # The page still shows, with the diff against the revision before and the reason.
        draft = await drafts.load(session, content_id)
        status_code, error = unknown.status_code, unknown.message
    channels = await publishing_service.list_channels(session)
    publications = await publishing_service.list_publications(
        session, content_id, None, None, 100, None
    )
    return page(
        request,
        "draft.html",
        status_code,
        visitor=visitor,
        draft=draft,
        actions=drafts.actions_for(visitor),
        may_submit=visitor.may(Permission.request_content),
        may_edit=visitor.may(Permission.edit_content),
        may_approve=visitor.may(Permission.approve_content),
        may_override=visitor.may(Permission.override_compliance),
        may_schedule=visitor.may(Permission.publish),
        channels=[c for c in channels if c.enabled],
        channel_names={c.id: c.name for c in channels},
        publications=publications,
        timezones=TIMEZONES,
        error=error,
        notice=notice,
        typed=typed or {},
    )


async def _perform(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    content_id: int,
    permission: Permission,
    csrf_token: str,
    act: Act,
    typed: dict[str, str] | None = None,
) -> Response:
    visitor = await admit_form(request, session, settings, permission, "/content", csrf_token)
    if not isinstance(visitor, Visitor):
        return visitor
    try:
        content = await content_service.get_content(session, content_id)
    except NotFound as missing:
        return page(request, "not_found.html", 404, visitor=visitor, message=missing.message)
    try:
        # A savepoint: whatever the service did before refusing is undone.
        async with session.begin_nested():
            notice = await act(content, actor_of(request, visitor.principal))
    except FinagencyError as error:
        return await render_draft(
            request, session, visitor, content_id, error.status_code, error.message, typed=typed
        )
    return RedirectResponse(
        f"/content/{content_id}?done={notice}", status_code=status.HTTP_303_SEE_OTHER
    )


def _required(value: str, name: str, least: int, most: int) -> str:
    value = value.strip()
    if not least <= len(value) <= most:
        raise BadInput(f"The {name} needs {least} to {most} characters (it has {len(value)}).")
    return value


def scheduled_time(scheduled_at: str, timezone: str) -> datetime:
    """The datetime-local field read in the chosen time zone (empty: as soon as possible)."""
    if timezone not in TIMEZONES:
        raise BadInput(f"Unknown time zone {timezone!r}.")
    if not scheduled_at.strip():
        return datetime.now(UTC)
    try:
        local = datetime.fromisoformat(scheduled_at.strip())
    except ValueError:
        raise BadInput(f"{scheduled_at!r} is not a date and time.") from None
    if local.tzinfo is not None:
        raise BadInput("Give the time without a zone offset and choose the time zone.")
    if not 2000 <= local.year <= 2200:  # 9999-12-31 west of UTC overflows when converted
        raise BadInput("Choose a time between the years 2000 and 2200.")
    return local.replace(tzinfo=ZoneInfo(timezone))


def channel_ids_of(values: list[str]) -> list[int]:
    if not values:
        raise BadInput("Choose at least one channel.")
    if len(values) > 20:
        raise BadInput("At most 20 channels at once.")
    try:
        return [int(v) for v in values]
    except ValueError:
        raise BadInput("A channel was not recognised; reload the page.") from None


def priority_of(value: str) -> int | None:
    """The priority field: empty for the channel's default, else -10 (last) to 10 (first)."""
    if not value.strip():
        return None
    try:
        number = int(value)
    except ValueError:
        raise BadInput(
            f"The priority must be a whole number from -10 to 10, not {value!r}."
        ) from None
    if not -10 <= number <= 10:
        raise BadInput(f"The priority must be from -10 to 10 (it is {number}).")
    return number


CsrfField = Annotated[str, Form(max_length=128)]


@router.post("/content/{content_id}/edit")
async def edit(
    content_id: int,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf_token: CsrfField = "",
    text: Annotated[str, Form()] = "",
) -> Response:
    # Browsers send a textarea's line breaks as CRLF; the stored text (and every finding's
    # offsets into it) uses LF, as the writers and the API do.
    typed = text.replace("\r\n", "\n").replace("\r", "\n")

    async def act(content: Content, actor: Actor) -> str:
        if not typed.strip() or len(typed) > MAX_TEXT:
            raise BadInput(f"The text needs 1 to {MAX_TEXT} characters (it has {len(typed)}).")
        await workflow.edit(session, settings, actor, content, typed)
        return "edited"

    return await _perform(
        request,
        session,
        settings,
        content_id,
        Permission.edit_content,
        csrf_token,
        act,
        {"text": typed},
    )


@router.post("/content/{content_id}/submit")
async def submit(
    content_id: int,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf_token: CsrfField = "",
) -> Response:
    async def act(content: Content, actor: Actor) -> str:
        await workflow.submit(session, actor, content)
        return "submitted"

    return await _perform(
        request, session, settings, content_id, Permission.request_content, csrf_token, act
    )


@router.post("/content/{content_id}/approve")
async def approve(
    content_id: int,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf_token: CsrfField = "",
) -> Response:
    async def act(content: Content, actor: Actor) -> str:
        await workflow.approve(session, settings, actor, content)
        return "approved"

    return await _perform(
        request, session, settings, content_id, Permission.approve_content, csrf_token, act
    )


@router.post("/content/{content_id}/reject")
async def reject(
    content_id: int,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf_token: CsrfField = "",
    comment: Annotated[str, Form()] = "",
) -> Response:
    async def act(content: Content, actor: Actor) -> str:
        note = _required(comment, "comment", 3, MAX_NOTE)
        await workflow.reject(session, actor, content, note)
        return "rejected"

    return await _perform(
        request,
        session,
        settings,
        content_id,
        Permission.approve_content,
        csrf_token,
        act,
        {"comment": comment},
    )


@router.post("/content/{content_id}/override")
async def override(
    content_id: int,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf_token: CsrfField = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    async def act(content: Content, actor: Actor) -> str:
        why = _required(reason, "reason", 10, MAX_NOTE)
        await workflow.approve(session, settings, actor, content, override_reason=why)
        return "overridden"

    return await _perform(
        request,
        session,
        settings,
        content_id,
        Permission.override_compliance,
        csrf_token,
        act,
        {"reason": reason},
    )


@router.post("/content/{content_id}/schedule")
async def schedule(
    content_id: int,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf_token: CsrfField = "",
    channel_ids: Annotated[list[str] | None, Form()] = None,
    scheduled_at: Annotated[str, Form(max_length=40)] = "",
    timezone: Annotated[str, Form(max_length=64)] = "UTC",
    priority: Annotated[str, Form(max_length=8)] = "",
    force_duplicate: Annotated[str, Form(max_length=8)] = "",
    allow_simulated: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    async def act(content: Content, actor: Actor) -> str:
        spec = publishing_service.ScheduleSpec(
            content_id=content.id,
            channel_ids=channel_ids_of(channel_ids or []),
            scheduled_at=scheduled_time(scheduled_at, timezone),
            priority=priority_of(priority),
            force_duplicate=bool(force_duplicate),
            allow_simulated=bool(allow_simulated),
        )
        await publishing_service.schedule(session, settings, actor, spec)
        return "scheduled"

    return await _perform(
        request,
        session,
        settings,
        content_id,
        # As the API: only an admin sends content written from simulated data to a platform.
        Permission.override_compliance if allow_simulated else Permission.publish,
        csrf_token,
        act,
        {"scheduled_at": scheduled_at, "timezone": timezone, "priority": priority},
    )
