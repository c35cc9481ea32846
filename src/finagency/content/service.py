"""Content: requests (stored first), generation by a worker, revisions checked by compliance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.compliance.findings import Finding, SnapshotView
from finagency.compliance.policy import Policy
from finagency.content import checks

# Re-exported: the generate task calls it through this module.
from finagency.content.generation import generate as generate
from finagency.content.metrics import REQUESTS
from finagency.content.models import Content, ContentRequest, FindingRecord, Revision
from finagency.content.renderings import CHANNEL_TYPES, Draft, render
from finagency.content.writers import AUDIENCES, TONES
from finagency.errors import Conflict, FinagencyError, NotFound
from finagency.market.models import Instrument
from finagency.research import service as research_service
from finagency.settings import Settings

CONTENT_TYPES = (
    "market_update",
    "news_analysis",
    "educational",
    "earnings_preview",
    "sector_report",
    "breaking_alert",
)
# Types written from a research idea, and types about a topic rather than a market move.
FROM_IDEA = ("news_analysis", "breaking_alert")
FROM_TOPIC = ("educational",)
GENERATE_TASK = "content.generate"


@dataclass(frozen=True)
class RequestSpec:
    type: str
    symbols: list[str]
    channels: list[str]
    topic: str | None = None
    idea_id: int | None = None
    audience: str = "retail"
    tone: str = "neutral"
    chart: bool = False


def check_voice(audience: str, tone: str) -> None:
    """The audience and tone the writers know; anything else is a 422 naming them."""
    if audience not in AUDIENCES:
        raise FinagencyError(f"Unknown audience {audience!r}; known: {', '.join(AUDIENCES)}.", 422)
    if tone not in TONES:
        raise FinagencyError(f"Unknown tone {tone!r}; known: {', '.join(TONES)}.", 422)


async def create_request(
    session: AsyncSession,
    settings: Settings,
    spec: RequestSpec,
    user_id: int | None,
    idempotency_key: str | None,
) -> tuple[ContentRequest, bool]:
    """Store the request (or find the one made with the same Idempotency-Key): (row, created)."""
    key = f"{user_id}:{idempotency_key}" if idempotency_key else None
    if key is not None:
        existing = await session.scalar(
            select(ContentRequest).where(ContentRequest.idempotency_key == key)
        )
        if existing is not None:
            return existing, False
    if spec.type not in CONTENT_TYPES:
        raise FinagencyError(
            f"Unknown content type {spec.type!r}; known: {', '.join(CONTENT_TYPES)}.", 422
        )
    check_voice(spec.audience, spec.tone)
    if spec.type in FROM_IDEA and spec.idea_id is None:
        raise FinagencyError(f"A {spec.type} is written from a research idea: give idea_id.", 422)
    if spec.type in FROM_TOPIC and not (spec.topic or "").strip():
        raise FinagencyError(f"An {spec.type} piece needs a topic.", 422)
    unknown_channels = sorted(set(spec.channels) - set(CHANNEL_TYPES))
    if unknown_channels:
        raise FinagencyError(
            f"Unknown channel type(s) {', '.join(unknown_channels)}; "
            f"known: {', '.join(CHANNEL_TYPES)}.",
            422,
        )
    symbols = list(spec.symbols)
    idea = None
    if spec.idea_id is not None:
        idea = await research_service.get_idea(session, spec.idea_id)
        symbols = symbols or list(idea.symbols)
    if not symbols:
        raise FinagencyError("Name at least one symbol (or an idea that names some).", 422)
    known = set(
        await session.scalars(select(Instrument.symbol).where(Instrument.symbol.in_(symbols)))
    )
    unknown = [s for s in symbols if s not in known]
    if unknown:
        raise NotFound(f"Unknown symbol(s): {', '.join(unknown)}")
    request = ContentRequest(
        idempotency_key=key,
        type=spec.type,
        symbols=symbols,
        topic=spec.topic,
        idea_id=spec.idea_id,
        audience=spec.audience,
        tone=spec.tone,
        channels=spec.channels,
        chart=spec.chart,
        requested_by=user_id,
    )
    session.add(request)
    if idea is not None:
        # In the same transaction: the idea is used exactly when a request made from it is stored.
        await research_service.mark_idea_used(session, idea)
    await session.flush()
    REQUESTS.labels(spec.type, settings.writer, "pending").inc()
    return request, True


async def requests_for_ideas(
    session: AsyncSession, idea_ids: list[int]
) -> dict[int, list[ContentRequest]]:
    """The content requests made from each idea, newest first; ideas without any are left out."""
    if not idea_ids:
        return {}
    rows = await session.scalars(
        select(ContentRequest)
        .where(ContentRequest.idea_id.in_(idea_ids))
        .order_by(ContentRequest.id.desc())
    )
    made: dict[int, list[ContentRequest]] = {}
    for row in rows:
        if row.idea_id is not None:
            made.setdefault(row.idea_id, []).append(row)
    return made


def check_text(
    settings: Settings,
    text: str,
    content_type: str,
    channels: list[str],
    view: SnapshotView | None,
    draft: Draft | None = None,
) -> list[Finding]:
    """The checks of one text under the environment's profile alone (no stored settings): for
    the benchmark and for callers without a database."""
    policy = Policy(default_profile=settings.compliance_profile)
    channel_texts = {
        channel: checks.sent_text(render(draft, channel)) if draft is not None else text
        for channel in channels
    }
    simulated = bool(draft and draft.data.get("simulated"))
    return checks.check_revision(
        policy, text, content_type, channel_texts, view, simulated=simulated
    )


async def retry_request(
    session: AsyncSession, settings: Settings, request_id: int
) -> ContentRequest:
    """Put a failed request back in the queue (the caller enqueues it after the commit)."""
    request = await get_request(session, request_id)
    if request.status != "failed":
        raise Conflict(
            f"Content request {request_id} is {request.status}; only a failed one can be retried."
        )
    request.status = "pending"
    request.error = None
    await session.flush()
    REQUESTS.labels(request.type, settings.writer, "pending").inc()
    return request


# --- reads (API) ------------------------------------------------------------------------------


async def get_request(session: AsyncSession, request_id: int) -> ContentRequest:
    found = await session.get(ContentRequest, request_id)
    if found is None:
        raise NotFound(f"No content request {request_id}")
    return found


async def get_content(session: AsyncSession, content_id: int) -> Content:
    found = await session.get(Content, content_id)
    if found is None:
        raise NotFound(f"No content {content_id}")
    return found


# Content whose images were part of what an editor approved: its attachments are frozen.
FROZEN = ("approved", "scheduled", "published")


async def get_changeable_content(session: AsyncSession, content_id: int) -> Content:
    """The content, if its attachments may still change (not approved or beyond)."""
    content = await get_content(session, content_id)
    if content.status in FROZEN:
        raise Conflict(
            f"Content {content_id} is {content.status}: its images were approved with it. "
            "Edit its text to send it back to review before changing them."
        )
    return content


async def revisions(session: AsyncSession, content_id: int) -> list[Revision]:
    await get_content(session, content_id)
    rows = await session.scalars(
        select(Revision).where(Revision.content_id == content_id).order_by(Revision.number)
    )
    return list(rows)


async def current_revision(session: AsyncSession, content: Content) -> Revision:
    found = await session.scalar(
        select(Revision).where(
            Revision.content_id == content.id, Revision.number == content.current_revision
        )
    )
    assert found is not None
    return found


async def findings(session: AsyncSession, revision_id: int) -> list[FindingRecord]:
    rows = await session.scalars(
        select(FindingRecord)
        .where(FindingRecord.revision_id == revision_id)
        .order_by(FindingRecord.start, FindingRecord.id)
    )
    return list(rows)


async def list_content(
    session: AsyncSession, status: str | None, type_: str | None, limit: int, before_id: int | None
) -> list[Content]:
    query = select(Content).order_by(Content.id.desc()).limit(limit)
    if status:
        query = query.where(Content.status == status)
    if type_:
        query = query.where(Content.type == type_)
    if before_id is not None:
        query = query.where(Content.id < before_id)
    return list(await session.scalars(query))


def as_dict(revision: Revision) -> dict[str, Any]:
    return {
        "number": revision.number,
        "title": revision.title,
        "text": revision.text,
        "renderings": revision.renderings,
        "provenance": revision.provenance,
        "created_at": revision.created_at,
        "created_by": revision.created_by,
    }
