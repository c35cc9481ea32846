"""The Channels page (admins): every channel with its verification, rate-budget use, credential
expiry and posting window; a page per channel to change it, verify it or switch it off; a form
per channel type to add one.

Every form posts the session's CSRF token and is refused without manage_channels, the
permission the channels API asks for. The publishing service does the work inside a savepoint,
so a refusal changes nothing; success sends the browser back (303) with a notice key, a
refusal shows the page again with the service's message and status. Credentials go in and
never come back out: pages show only the service's masked view of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, status
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from finagency.accounts import audit
from finagency.accounts.audit import Actor
from finagency.accounts.dependencies import SettingsDep, actor_of
from finagency.accounts.permissions import Permission
from finagency.db import SessionDep, utcnow
from finagency.errors import Conflict, FinagencyError, NotFound
from finagency.publishing import service as publishing_service
from finagency.publishing.limits import Budget, parse_limits
from finagency.publishing.models import Channel
from finagency.settings import Settings
from finagency.web import channel_forms
from finagency.web.actions import TIMEZONES
from finagency.web.channel_forms import KINDS, ChannelKind
from finagency.web.guard import Visitor, admit, admit_form
from finagency.web.rendering import page

router = APIRouter(include_in_schema=False)
PAGE = "/channels"
RECENT_PUBLICATIONS = 20

# What the channel's page says after each action; the query string carries only the key.
NOTICES = {
    "created": "Channel added. Verify it to check that its credentials work.",
    "saved": "Settings saved.",
    "unchanged": "Nothing to save: the settings are as they were.",
    "credentials": "Credentials replaced. Verify the channel to check them.",
    "enabled": "Enabled: due posts go out to it again.",
    "disabled": "Disabled: nothing goes out to it; its scheduled posts wait until it is enabled.",
    "verified": "Verified: the platform accepted the credentials.",
}


# --- what the pages show -----------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetUse:
    """Posts in a rolling window against the channel's limit for it (None: no limit)."""

    window: str
    used: int
    limit: int | None

    @property
    def text(self) -> str:
        if self.limit is None:
            return f"{self.used} {self.window} (no limit)"
        return f"{self.used} of {self.limit} {self.window}"

    @property
    def full(self) -> bool:
        return self.limit is not None and self.used >= self.limit

    # The meter turns amber from 70 % of the budget and red from 90 %.
    @property
    def low(self) -> float:
        return round((self.limit or 0) * 0.7, 2)

    @property
    def high(self) -> float:
        return round((self.limit or 0) * 0.9, 2)


@dataclass(frozen=True)
class Expiry:
    at: datetime | None
    state: str  # none, ok, soon, expired
    text: str


def expiry_of(at: datetime | None, now: datetime, warning_days: int) -> Expiry:
    if at is None:
        return Expiry(None, "none", "No expiry known")
    left = at - now
    if left <= timedelta(0):
        days = (-left).days
        ago = "less than a day ago" if days == 0 else f"{days} day{'s' * (days != 1)} ago"
        return Expiry(at, "expired", f"Expired {ago}")
    days = left.days
    text = "Expires within a day" if days == 0 else f"{days} day{'s' * (days != 1)} left"
    return Expiry(at, "soon" if left <= timedelta(days=warning_days) else "ok", text)


@dataclass(frozen=True)
class Verification:
    state: str  # never, ok, failed
    at: datetime | None  # the last attempt, as the audit log has it
    identity: str | None
    error: str | None
    last_success: datetime | None


@dataclass(frozen=True)
class ChannelView:
    """A channel as the pages show it: never its credentials, only which are set."""

    id: int
    name: str
    type: str
    kind: ChannelKind
    enabled: bool
    config: dict[str, Any]
    limit_overrides: dict[str, Any]
    posting_window: dict[str, Any] | None
    window: str | None
    budgets: tuple[BudgetUse, ...]
    spacing_seconds: float
    credentials: dict[str, str]
    expiry: Expiry
    verification: Verification
    created_at: datetime


async def _last_verification(session: AsyncSession, channel_id: int) -> datetime | None:
    criteria = audit.AuditFilter(
        action="channel_verified", target_type="channel", target_id=str(channel_id)
    )
    events = await audit.page(session, criteria, 1, None)
    return events[0].occurred_at if events else None


async def view_of(
    session: AsyncSession, settings: Settings, channel: Channel, now: datetime
) -> ChannelView:
    budget = publishing_service.effective_limits(settings, channel)
    used = await publishing_service.usage(session, channel, now)
    if channel.last_verify_error:
        state = "failed"
    else:
        state = "ok" if channel.verified_at else "never"
    return ChannelView(
        id=channel.id,
        name=channel.name,
        type=channel.type,
        kind=KINDS[channel.type],
        enabled=channel.enabled,
        config=dict(channel.config or {}),
        limit_overrides=dict(channel.limits or {}),
        posting_window=channel.posting_window,
        window=channel_forms.window_text(channel.posting_window),
        budgets=(
            BudgetUse("in the last hour", used["last_hour"], budget.per_hour),
            BudgetUse("in the last 24 hours", used["last_day"], budget.per_day),
        ),
        spacing_seconds=budget.min_spacing_seconds,
        credentials=publishing_service.masked_credentials(settings, channel),
        expiry=expiry_of(
            channel.credential_expires_at, now, settings.publish_credential_warning_days
        ),
        verification=Verification(
            state=state,
            at=await _last_verification(session, channel.id) or channel.verified_at,
            identity=channel.verified_identity,
            error=channel.last_verify_error,
            last_success=channel.verified_at,
        ),
        created_at=channel.created_at,
    )


def _defaults(settings: Settings) -> dict[str, Budget]:
    """Each type's rate budget from FINAGENCY_PUBLISH_LIMITS, shown beside the limit fields."""
    budgets = parse_limits(settings.publish_limits)
    return {channel_type: budgets.get(channel_type, Budget()) for channel_type in KINDS}


async def render_list(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    visitor: Visitor,
    status_code: int = 200,
    error: str | None = None,
    open_type: str | None = None,
    typed: dict[str, Any] | None = None,
) -> Response:
    now = utcnow()
    channels = [
        await view_of(session, settings, channel, now)
        for channel in await publishing_service.list_channels(session)
    ]
    values = {kind: channel_forms.add_values(KINDS[kind]) for kind in KINDS}
    if open_type in KINDS and typed is not None:
        values[open_type] = typed
    return page(
        request,
        "channels.html",
        status_code,
        visitor=visitor,
        channels=channels,
        kinds=list(KINDS.values()),
        values=values,
        defaults=_defaults(settings),
        open_type=open_type,
        error=error,
        **_form_context(),
    )


def _form_context() -> dict[str, Any]:
    return {"timezones": TIMEZONES, "weekdays": channel_forms.WEEKDAYS}


async def render_channel(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    visitor: Visitor,
    channel_id: int,
    status_code: int = 200,
    error: str | None = None,
    notice: str | None = None,
    typed: dict[str, Any] | None = None,
) -> Response:
    try:
        channel = await publishing_service.get_channel(session, channel_id)
    except NotFound as missing:
        return page(request, "not_found.html", 404, visitor=visitor, message=missing.message)
    # After a refused change the savepoint's rollback expired it: read it afresh.
    await session.refresh(channel)
    view = await view_of(session, settings, channel, utcnow())
    publications = await publishing_service.list_publications(
        session, None, None, channel.id, RECENT_PUBLICATIONS, None
    )
    stored = channel_forms.stored_values(
        view.kind, view.config, view.limit_overrides, view.posting_window
    )
    return page(
        request,
        "channel.html",
        status_code,
        visitor=visitor,
        view=view,
        values=typed if typed is not None else stored,
        default=_defaults(settings)[view.type],
        publications=publications,
        error=error,
        notice=notice,
        **_form_context(),
    )


# --- the pages ---------------------------------------------------------------------------------


@router.get("/channels")
async def channels_page(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    visitor = await admit(request, session, settings, Permission.manage_channels, PAGE)
    if not isinstance(visitor, Visitor):
        return visitor
    return await render_list(request, session, settings, visitor)


@router.get("/channels/{channel_id}")
async def channel_page(
    channel_id: int,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    visitor = await admit(request, session, settings, Permission.manage_channels, PAGE)
    if not isinstance(visitor, Visitor):
        return visitor
    error = None
    if done == "verify_failed":
        channel = await session.get(Channel, channel_id)
        reason = channel.last_verify_error if channel is not None else None
        error = f"Verification failed: {reason or 'see below'}"
    return await render_channel(
        request, session, settings, visitor, channel_id, error=error, notice=NOTICES.get(done)
    )


# --- the forms ---------------------------------------------------------------------------------


def _token(form: FormData) -> str:
    value = form.get("csrf_token", "")
    return value[:128] if isinstance(value, str) else ""


def _to_channel(channel_id: int, notice: str) -> Response:
    return RedirectResponse(
        f"/channels/{channel_id}?done={notice}", status_code=status.HTTP_303_SEE_OTHER
    )


@router.post("/channels")
async def add_channel(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    form = await request.form()
    visitor = await admit_form(
        request, session, settings, Permission.manage_channels, PAGE, _token(form)
    )
    if not isinstance(visitor, Visitor):
        return visitor
    try:
        spec = channel_forms.channel_spec(form)
        async with session.begin_nested():
            actor = actor_of(request, visitor.principal)
            try:
                channel = await publishing_service.create_channel(session, settings, actor, spec)
            except IntegrityError:  # the same name, added by someone else just now
                raise Conflict(f"A channel named {spec.name!r} exists already.") from None
    except FinagencyError as error:
        channel_type = str(form.get("type", ""))
        return await render_list(
            request,
            session,
            settings,
            visitor,
            error.status_code,
            error.message,
            open_type=channel_type if channel_type in KINDS else None,
            typed=channel_forms.typed_values(form),
        )
    return _to_channel(channel.id, "created")


# A change to a channel: given it and who acts, make it and say which notice to show.
Change = Callable[[Channel, Actor], Awaitable[str]]


async def _perform(
    request: Request,
    session: AsyncSession,
    settings: Settings,
    channel_id: int,
    csrf_token: str,
    change: Change,
    typed: dict[str, Any] | None = None,
) -> Response:
    visitor = await admit_form(
        request, session, settings, Permission.manage_channels, PAGE, csrf_token
    )
    if not isinstance(visitor, Visitor):
        return visitor
    try:
        channel = await publishing_service.get_channel(session, channel_id)
    except NotFound as missing:
        return page(request, "not_found.html", 404, visitor=visitor, message=missing.message)
    try:
        # A savepoint: whatever the service did before refusing is undone.
        async with session.begin_nested():
            notice = await change(channel, actor_of(request, visitor.principal))
    except FinagencyError as error:
        return await render_channel(
            request,
            session,
            settings,
            visitor,
            channel_id,
            error.status_code,
            error.message,
            typed=typed,
        )
    return _to_channel(channel_id, notice)


@router.post("/channels/{channel_id}/settings")
async def change_settings(
    channel_id: int, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    form = await request.form()

    async def change(channel: Channel, actor: Actor) -> str:
        changes = channel_forms.settings_changes(
            channel.type,
            dict(channel.config or {}),
            dict(channel.limits or {}),
            channel.posting_window,
            form,
        )
        if not changes:
            return "unchanged"
        # A config change is checked with the stored credentials: a 409 when they are unreadable.
        await publishing_service.update_channel(session, settings, actor, channel, changes)
        return "saved"

    typed = channel_forms.typed_values(form)
    return await _perform(request, session, settings, channel_id, _token(form), change, typed)


@router.post("/channels/{channel_id}/credentials")
async def replace_credentials(
    channel_id: int, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    form = await request.form()

    async def change(channel: Channel, actor: Actor) -> str:
        try:
            current = publishing_service.stored_credentials(settings, channel)
        except Conflict:  # unreadable: the new ones replace them whole
            current = {}
        credentials = channel_forms.credential_changes(channel.type, current, form)
        await publishing_service.update_channel(
            session, settings, actor, channel, {"credentials": credentials}
        )
        return "credentials"

    return await _perform(request, session, settings, channel_id, _token(form), change)


@router.post("/channels/{channel_id}/enabled")
async def switch(
    channel_id: int,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf_token: Annotated[str, Form(max_length=128)] = "",
    enabled: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    async def change(channel: Channel, actor: Actor) -> str:
        if enabled not in {"true", "false"}:
            raise channel_forms.BadInput("Choose to enable or disable the channel.")
        wanted = enabled == "true"
        await publishing_service.update_channel(
            session, settings, actor, channel, {"enabled": wanted}
        )
        return "enabled" if wanted else "disabled"

    return await _perform(request, session, settings, channel_id, csrf_token, change)


@router.post("/channels/{channel_id}/verify")
async def verify(
    channel_id: int,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf_token: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    visitor = await admit_form(
        request, session, settings, Permission.manage_channels, PAGE, csrf_token
    )
    if not isinstance(visitor, Visitor):
        return visitor
    try:
        channel = await publishing_service.get_channel(session, channel_id)
    except NotFound as missing:
        return page(request, "not_found.html", 404, visitor=visitor, message=missing.message)
    async with session.begin_nested():
        actor = actor_of(request, visitor.principal)
        result = await publishing_service.verify_channel(session, settings, actor, channel)
    if result["ok"]:
        return _to_channel(channel_id, "verified")
    if channel.last_verify_error == result["error"]:  # recorded on the channel: shown there
        return _to_channel(channel_id, "verify_failed")
    # Not recorded (credentials that no longer decrypt): say it now.
    return await render_channel(
        request,
        session,
        settings,
        visitor,
        channel_id,
        status.HTTP_409_CONFLICT,
        f"Verification failed: {result['error']}",
    )
