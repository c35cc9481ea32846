"""Publishing for the API: channels, scheduling approved content, and the life of a publication
(cancel, reschedule, retry, resolve, retract) and the kill switch. Sending is the dispatcher's.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from finagency import crypto
from finagency.accounts import audit
from finagency.accounts.audit import Actor
from finagency.compliance import service as compliance_service
from finagency.compliance import similarity
from finagency.content.models import Content, Revision
from finagency.content.renderings import Draft, render
from finagency.db import utcnow
from finagency.errors import Conflict, FinagencyError, NotFound
from finagency.publishing import dispatcher, windows
from finagency.publishing.channels import adapter_module
from finagency.publishing.channels.base import (
    ChannelConfigError,
    ChannelError,
    Delivery,
    Sent,
    credential_expiry,
)
from finagency.publishing.limits import Budget
from finagency.publishing.models import CHANNEL_TYPES, WAITING, Attempt, Channel, Publication
from finagency.settings import Settings

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
# Channel types that may carry drafts written from simulated data without an admin's say-so.
SIMULATED_OK = ("file", "webhook")
# Content types that jump the queue.
PRIORITY_OF_TYPE = {"breaking_alert": 10}
# Publications still on their way (or delivered) count for the duplicate guard.
LIVE = ("scheduled", "sending", "retry", "published", "unknown")


def _unprocessable(message: str) -> FinagencyError:
    return FinagencyError(message, 422, "validation-error")


# --- channels ----------------------------------------------------------------------------------


def _check_limits(limits: dict[str, Any]) -> dict[str, Any]:
    unknown = set(limits) - {"per_hour", "per_day", "min_spacing_seconds"}
    if unknown:
        raise _unprocessable(f"unknown limit(s): {', '.join(sorted(unknown))}")
    for key in ("per_hour", "per_day"):
        value = limits.get(key)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < 1
        ):
            raise _unprocessable(f"{key} must be a whole number of posts, at least 1")
    spacing = limits.get("min_spacing_seconds")
    if spacing is not None and (
        not isinstance(spacing, int | float) or isinstance(spacing, bool) or spacing < 0
    ):
        raise _unprocessable("min_spacing_seconds must be a number of seconds, 0 or more")
    return limits


def _expiry(credentials: dict[str, Any]) -> datetime | None:
    try:
        moment = credential_expiry(credentials)
    except ChannelConfigError as error:
        raise _unprocessable(f"credentials: {error}") from None
    return moment.astimezone(UTC) if moment is not None else None


def _checked_channel(
    channel_type: str, name: str, config: dict[str, Any], credentials: dict[str, Any]
) -> None:
    if channel_type not in CHANNEL_TYPES:
        raise _unprocessable(
            f"unknown channel type {channel_type!r}; known: {', '.join(CHANNEL_TYPES)}"
        )
    if not NAME.match(name):
        raise _unprocessable(
            "a channel name is 1–100 letters, digits, '.', '_' or '-', starting with a letter "
            "or digit"
        )
    try:
        adapter_module(channel_type).check(config, credentials)
    except ChannelConfigError as error:
        raise _unprocessable(f"{channel_type} channel: {error}") from None


@dataclass(frozen=True)
class ChannelSpec:
    type: str
    name: str
    config: dict[str, Any]
    credentials: dict[str, Any]
    limits: dict[str, Any]
    posting_window: dict[str, Any] | None
    enabled: bool = True


def _window(window: dict[str, Any] | None) -> dict[str, Any] | None:
    if window is None:
        return None
    try:
        return windows.check_window(window)
    except ValueError as error:
        raise _unprocessable(str(error)) from None


async def create_channel(
    session: AsyncSession, settings: Settings, actor: Actor, spec: ChannelSpec
) -> Channel:
    _checked_channel(spec.type, spec.name, spec.config, spec.credentials)
    if await session.scalar(select(Channel.id).where(Channel.name == spec.name)) is not None:
        raise Conflict(f"A channel named {spec.name!r} exists already.")
    channel = Channel(
        type=spec.type,
        name=spec.name,
        config=spec.config,
        credentials=crypto.encrypt(settings, json.dumps(spec.credentials))
        if spec.credentials
        else None,
        credential_expires_at=_expiry(spec.credentials),
        limits=_check_limits(spec.limits),
        posting_window=_window(spec.posting_window),
        enabled=spec.enabled,
        created_by=actor.user_id,
    )
    session.add(channel)
    await session.flush()
    audit.record(
        session, "channel_created", actor, "channel", channel.id, type=spec.type, name=spec.name
    )
    return channel


def _set_config_and_credentials(
    settings: Settings, channel: Channel, changes: dict[str, Any]
) -> None:
    """Checked together: a new config with the stored credentials, new ones with the config."""
    config = changes.get("config", channel.config)
    credentials = changes.get("credentials")
    if credentials is None:
        credentials = stored_credentials(settings, channel)
    _checked_channel(channel.type, channel.name, config, credentials)
    if "config" in changes:
        channel.config = config
    if "credentials" in changes:
        channel.credentials = (
            crypto.encrypt(settings, json.dumps(credentials)) if credentials else None
        )
        channel.credential_expires_at = _expiry(credentials)
        channel.verified_at = None


async def update_channel(
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    channel: Channel,
    changes: dict[str, Any],
) -> Channel:
    """Changes among config, credentials (replaced whole), limits, posting_window, enabled."""
    if not changes:
        raise _unprocessable(
            "name at least one of config, credentials, limits, posting_window, enabled"
        )
    # Limits, the window and enabled need no credentials: a channel whose credentials no longer
    # decrypt can still be switched off.
    if "config" in changes or "credentials" in changes:
        _set_config_and_credentials(settings, channel, changes)
    if "limits" in changes:
        channel.limits = _check_limits(changes["limits"] or {})
    if "posting_window" in changes:
        channel.posting_window = _window(changes["posting_window"])
    if "enabled" in changes:
        channel.enabled = bool(changes["enabled"])
    await session.flush()
    audit.record(session, "channel_updated", actor, "channel", channel.id, fields=sorted(changes))
    return channel


def stored_credentials(settings: Settings, channel: Channel) -> dict[str, Any]:
    """The channel's credentials; a 409 when this secret key cannot decrypt them."""
    try:
        return dispatcher.credentials_of(settings, channel)
    except ValueError:
        raise Conflict(
            f"The stored credentials of channel {channel.name!r} cannot be read with this secret "
            "key (FINAGENCY_SECRET_KEY changed?); replace them.",
            type="unreadable-credentials",
        ) from None


async def get_channel(session: AsyncSession, channel_id: int) -> Channel:
    channel = await session.get(Channel, channel_id)
    if channel is None:
        raise NotFound(f"No channel {channel_id}")
    return channel


async def list_channels(session: AsyncSession) -> list[Channel]:
    return list(await session.scalars(select(Channel).order_by(Channel.id)))


def masked_credentials(settings: Settings, channel: Channel) -> dict[str, str]:
    """Which credentials are set, never their values: the last 4 characters of long ones."""
    try:
        values = dispatcher.credentials_of(settings, channel)
    except ValueError:
        return {"error": "cannot be decrypted with the current secret key"}
    masked = {}
    for key, value in values.items():
        text = str(value)
        masked[key] = f"••••{text[-4:]}" if len(text) >= 16 and key != "expires_at" else "••••"
        if key == "expires_at":
            masked[key] = text
    return masked


def effective_limits(settings: Settings, channel: Channel) -> Budget:
    return dispatcher.budgets(settings).get(channel.type, Budget()).override(channel.limits or {})


async def usage(
    session: AsyncSession, channel: Channel, now: datetime | None = None
) -> dict[str, int]:
    now = now or utcnow()
    counts = {}
    for label, window in (("last_hour", timedelta(hours=1)), ("last_day", timedelta(days=1))):
        counts[label] = int(
            await session.scalar(
                select(func.count())
                .select_from(Publication)
                .where(
                    Publication.channel_id == channel.id, Publication.published_at >= now - window
                )
            )
            or 0
        )
    return counts


async def verify_channel(
    session: AsyncSession, settings: Settings, actor: Actor, channel: Channel
) -> dict[str, Any]:
    """Ask the platform whether the credentials work (e.g. Telegram getMe)."""

    def check() -> Any:
        adapter = dispatcher.adapter_for(settings, channel)
        try:
            return adapter.verify()
        finally:
            adapter.close()

    try:
        verified = await asyncio.to_thread(check)
    except ChannelError as error:
        channel.last_verify_error = error.message
        await session.flush()
        audit.record(session, "channel_verified", actor, "channel", channel.id, ok=False)
        return {"ok": False, "identity": None, "expires_at": None, "error": error.message}
    except ValueError as error:  # credentials that cannot be decrypted
        return {"ok": False, "identity": None, "expires_at": None, "error": str(error)}
    channel.verified_at = utcnow()
    channel.verified_identity = verified.identity[:300]
    channel.last_verify_error = None
    if verified.expires_at is not None:
        channel.credential_expires_at = verified.expires_at
    await session.flush()
    audit.record(session, "channel_verified", actor, "channel", channel.id, ok=True)
    return {
        "ok": True,
        "identity": verified.identity,
        "expires_at": verified.expires_at or channel.credential_expires_at,
        "error": None,
    }


# --- scheduling --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleSpec:
    content_id: int
    channel_ids: list[int]
    scheduled_at: datetime
    priority: int | None = None
    force_duplicate: bool = False
    allow_simulated: bool = False


async def _near_duplicate(
    session: AsyncSession, settings: Settings, content: Content, text: str, channel: Channel
) -> Publication | None:
    """A live publication of *other* content to this channel whose text is nearly this one."""
    policy = await compliance_service.current(session, settings)
    since = utcnow() - timedelta(days=policy.near_duplicate_days)
    rows = await session.execute(
        select(Publication, Revision.text)
        .join(
            Revision,
            (Revision.content_id == Publication.content_id)
            & (Revision.number == Publication.revision_number),
        )
        .where(
            Publication.channel_id == channel.id,
            Publication.content_id != content.id,
            Publication.status.in_(LIVE),
            Publication.created_at >= since,
        )
        .order_by(Publication.id.desc())
        .limit(500)
    )
    # Compared without the channel's disclaimer, as the compliance rule compares them: every
    # post ends with the same one, and kept in, it made different updates look like twins.
    disclaimer = policy.disclaimer_for(policy.profile_for(channel.type))
    mine = similarity.fingerprint(text, disclaimer)
    if mine is None:
        return None
    for publication, other_text in rows.all():
        theirs = similarity.fingerprint(other_text, disclaimer)
        if theirs is not None and mine.similarity(theirs) >= similarity.THRESHOLD:
            return publication
    return None


async def schedule(
    session: AsyncSession, settings: Settings, actor: Actor, spec: ScheduleSpec
) -> list[Publication]:
    """One publication per channel for the content's approved revision, planned inside each
    channel's posting window. Everything is checked before anything is stored."""
    if spec.scheduled_at.tzinfo is None:
        raise _unprocessable("scheduled_at needs a time zone, e.g. 2026-12-01T16:00:00+05:30")
    content = await session.get(Content, spec.content_id)
    if content is None:
        raise NotFound(f"No content {spec.content_id}")
    if content.status not in {"approved", "scheduled"} or content.approved_revision is None:
        raise Conflict(
            f"Content {content.id} is {content.status}: only approved content is scheduled."
        )
    revision = await session.scalar(
        select(Revision).where(
            Revision.content_id == content.id, Revision.number == content.approved_revision
        )
    )
    assert revision is not None
    now = utcnow()
    requested = max(spec.scheduled_at.astimezone(UTC), now)
    planned: list[tuple[Channel, datetime]] = []
    for channel_id in dict.fromkeys(spec.channel_ids):
        channel = await session.get(Channel, channel_id)
        if channel is None:
            raise NotFound(f"No channel {channel_id}")
        if not channel.enabled:
            raise Conflict(f"Channel {channel.name} is disabled.")
        if channel.type not in revision.renderings:
            rendered = ", ".join(sorted(revision.renderings)) or "none"
            raise _unprocessable(
                f"Revision {revision.number} was not rendered for {channel.type} (rendered: "
                f"{rendered}); request content for that channel type."
            )
        if content.simulated and channel.type not in SIMULATED_OK and not spec.allow_simulated:
            raise Conflict(
                f"Content {content.id} was written from simulated data: it goes only to file and "
                "webhook channels unless an admin allows it (allow_simulated)."
            )
        existing = await session.scalar(
            select(Publication.id).where(
                Publication.content_id == content.id,
                Publication.revision_number == revision.number,
                Publication.channel_id == channel.id,
            )
        )
        if existing is not None:
            raise Conflict(
                f"Revision {revision.number} of content {content.id} is already scheduled to "
                f"{channel.name} (publication {existing})."
            )
        if not spec.force_duplicate:
            twin = await _near_duplicate(session, settings, content, revision.text, channel)
            if twin is not None:
                raise FinagencyError(
                    f"Nearly the same text went to {channel.name} with publication {twin.id} "
                    f"(content {twin.content_id}); force_duplicate schedules it anyway.",
                    409,
                    "duplicate-content",
                )
        planned.append((channel, windows.next_open(channel.posting_window, requested)))

    priority = spec.priority if spec.priority is not None else PRIORITY_OF_TYPE.get(content.type, 0)
    publications = []
    for channel, at in planned:
        publication = Publication(
            content_id=content.id,
            revision_number=revision.number,
            channel_id=channel.id,
            idempotency_key=secrets.token_hex(16),
            status="scheduled",
            priority=priority,
            scheduled_at=at,
            requested_at=requested,
            due_at=at,
            allow_simulated=spec.allow_simulated,
            forced_duplicate=spec.force_duplicate,
            created_by=actor.user_id,
        )
        session.add(publication)
        publications.append(publication)
    try:
        await session.flush()
    except IntegrityError:  # the same revision to the same channel, scheduled at this moment
        raise Conflict("This revision was scheduled to one of these channels just now.") from None
    content.status = "scheduled"
    for publication, (channel, at) in zip(publications, planned, strict=True):
        audit.record(
            session,
            "publication_scheduled",
            actor,
            "publication",
            publication.id,
            content_id=content.id,
            revision=revision.number,
            channel=channel.name,
            scheduled_at=at.isoformat(),
            forced_duplicate=spec.force_duplicate or None,
            allow_simulated=spec.allow_simulated or None,
        )
    return publications


# --- a publication's life ----------------------------------------------------------------------


async def get_publication(session: AsyncSession, publication_id: int) -> Publication:
    publication = await session.get(Publication, publication_id)
    if publication is None:
        raise NotFound(f"No publication {publication_id}")
    return publication


async def attempts(session: AsyncSession, publication_id: int) -> list[Attempt]:
    return list(
        await session.scalars(
            select(Attempt).where(Attempt.publication_id == publication_id).order_by(Attempt.number)
        )
    )


async def list_publications(
    session: AsyncSession,
    content_id: int | None,
    status: str | None,
    channel_id: int | None,
    limit: int,
    before_id: int | None,
) -> list[Publication]:
    query = select(Publication).order_by(Publication.id.desc()).limit(limit)
    if content_id is not None:
        query = query.where(Publication.content_id == content_id)
    if status:
        query = query.where(Publication.status == status)
    if channel_id is not None:
        query = query.where(Publication.channel_id == channel_id)
    if before_id is not None:
        query = query.where(Publication.id < before_id)
    return list(await session.scalars(query))


def _refuse(publication: Publication, action: str) -> Conflict:
    return Conflict(f"Publication {publication.id} is {publication.status}: it cannot be {action}.")


async def cancel(session: AsyncSession, actor: Actor, publication: Publication) -> Publication:
    """A send already claimed re-checks the status and finds it cancelled: nothing goes out."""
    if publication.status not in WAITING:
        raise _refuse(publication, "cancelled")
    publication.status = "cancelled"
    publication.lease_token = None
    publication.lease_expires_at = None
    await session.flush()
    audit.record(session, "publication_cancelled", actor, "publication", publication.id)
    await _release_content(session, publication.content_id)
    return publication


async def _release_content(session: AsyncSession, content_id: int) -> None:
    """Content with nothing left on its way is approved again, so that it can be edited (which
    sends it back to review) or scheduled anew."""
    live = await session.scalar(
        select(func.count())
        .select_from(Publication)
        .where(Publication.content_id == content_id, Publication.status.in_(LIVE))
    )
    content = await session.get(Content, content_id)
    if not live and content is not None and content.status == "scheduled":
        content.status = "approved"


async def reschedule(
    session: AsyncSession, actor: Actor, publication: Publication, scheduled_at: datetime
) -> Publication:
    if scheduled_at.tzinfo is None:
        raise _unprocessable("scheduled_at needs a time zone, e.g. 2026-12-01T16:00:00+05:30")
    if publication.status not in {*WAITING, "cancelled"}:
        raise _refuse(publication, "rescheduled")
    content = await session.get(Content, publication.content_id)
    assert content is not None
    if content.status not in {"approved", "scheduled"} or (
        content.approved_revision != publication.revision_number
    ):
        raise Conflict(
            f"Content {content.id} is {content.status} (approved revision "
            f"{content.approved_revision}); revision {publication.revision_number} cannot go out."
        )
    content.status = "scheduled"
    channel = await get_channel(session, publication.channel_id)
    requested = max(scheduled_at.astimezone(UTC), utcnow())
    at = windows.next_open(channel.posting_window, requested)
    publication.status = "scheduled"
    publication.requested_at = requested
    publication.scheduled_at = publication.due_at = at
    publication.lease_token = None
    publication.lease_expires_at = None
    await session.flush()
    audit.record(
        session,
        "publication_rescheduled",
        actor,
        "publication",
        publication.id,
        scheduled_at=at.isoformat(),
    )
    return publication


async def retry(session: AsyncSession, actor: Actor, publication: Publication) -> Publication:
    """A failed publication gets a fresh round of attempts, now."""
    if publication.status != "failed":
        raise _refuse(publication, "retried (only a failed one can)")
    publication.status = "retry"
    publication.due_at = utcnow()
    publication.attempts_before_retry = publication.attempts
    await session.flush()
    audit.record(session, "publication_retried", actor, "publication", publication.id)
    return publication


RESOLUTIONS = ("published", "resend", "cancel")


async def resolve(
    session: AsyncSession,
    actor: Actor,
    publication: Publication,
    outcome: str,
    note: str,
    post_url: str | None,
) -> Publication:
    """A person says what became of an `unknown` send: it was published (with its URL if
    known), it was not and should go again, or it should not go at all."""
    if publication.status != "unknown":
        raise _refuse(publication, "resolved (only an unknown one can)")
    if outcome == "published":
        publication.status = "published"
        publication.published_at = publication.published_at or utcnow()
        publication.platform_url = post_url or publication.platform_url
    elif outcome == "resend":
        publication.status = "retry"
        publication.due_at = utcnow()
        publication.attempts_before_retry = publication.attempts
    else:
        publication.status = "cancelled"
    publication.resolution = note
    await session.flush()
    audit.record(
        session,
        "publication_resolved",
        actor,
        "publication",
        publication.id,
        outcome=outcome,
        note=note,
    )
    return publication


async def retract(
    session: AsyncSession, settings: Settings, actor: Actor, publication: Publication, reason: str
) -> tuple[Publication, str]:
    """Delete the post where the platform allows it; elsewhere send a linked correction.
    Returns the publication and what was done: "deleted" or "corrected"."""
    if publication.status != "published" or publication.retracted_at is not None:
        raise _refuse(publication, "retracted (only a published one, once)")
    channel = await get_channel(session, publication.channel_id)
    revision = await session.scalar(
        select(Revision).where(
            Revision.content_id == publication.content_id,
            Revision.number == publication.revision_number,
        )
    )
    assert revision is not None
    sent = Sent(
        post_id=publication.platform_post_id or publication.idempotency_key,
        url=publication.platform_url,
        # What the send recorded; the ids too, for a post a person resolved as published
        # (the file channel's retraction line names the publication).
        data={
            "publication_id": publication.id,
            "idempotency_key": publication.idempotency_key,
            **(publication.platform_data or {}),
        },
    )
    where = f" ({publication.platform_url})" if publication.platform_url else ""
    correction = Draft(
        title=f"Correction: {revision.title}",
        paragraphs=[f'We have withdrawn our post "{revision.title}"{where}. {reason}'],
    )
    delivery = Delivery(
        publication_id=publication.id,
        idempotency_key=f"{publication.idempotency_key}-correction",
        content_id=publication.content_id,
        revision_number=publication.revision_number,
        content_type="correction",
        title=correction.title,
        rendering=render(correction, channel.type),
    )

    def act() -> tuple[str, Sent | None]:
        adapter = dispatcher.adapter_for(settings, channel)
        try:
            if adapter.retract(sent):
                return "deleted", None
            return "corrected", adapter.send(delivery)
        finally:
            adapter.close()

    started = utcnow()
    try:
        done, correction_sent = await asyncio.to_thread(act)
    except ChannelError as error:
        raise FinagencyError(
            f"{channel.name} refused the retraction: {error.message}", 502, "retraction-failed"
        ) from None
    number = publication.attempts + 1
    publication.attempts = number
    publication.retracted_at = utcnow()
    session.add(
        Attempt(
            publication_id=publication.id,
            number=number,
            started_at=started,
            finished_at=publication.retracted_at,
            outcome="retracted" if done == "deleted" else "corrected",
            error=reason,
            platform_post_id=correction_sent.post_id if correction_sent else None,
            platform_url=correction_sent.url if correction_sent else None,
            worker="api",
        )
    )
    await session.flush()
    audit.record(
        session,
        "publication_retracted",
        actor,
        "publication",
        publication.id,
        how=done,
        reason=reason,
    )
    return publication, done
