"""Content: requests (stored first), generation by a worker, revisions checked by compliance."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from finagency.compliance import checker, rules
from finagency.compliance.findings import CheckContext, Finding, SnapshotView
from finagency.compliance.profiles import get_profile
from finagency.content.metrics import GENERATION_SECONDS, REQUESTS
from finagency.content.models import Content, ContentRequest, FindingRecord, Revision
from finagency.content.renderings import CHANNEL_TYPES, Draft, TooLong, render
from finagency.content.writers import template
from finagency.db import utcnow
from finagency.errors import FinagencyError, NotFound
from finagency.market.models import Instrument, MarketSnapshot
from finagency.settings import Settings

log = structlog.get_logger(__name__)

CONTENT_TYPES = (
    "market_update",
    "news_analysis",
    "educational",
    "earnings_preview",
    "sector_report",
    "breaking_alert",
)
# The content types each writer can write so far; the others are refused at request time.
WRITABLE = {"template": ("market_update",)}
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
    if spec.type not in WRITABLE.get(settings.writer, ()):
        raise FinagencyError(
            f"The {settings.writer} writer cannot write {spec.type} yet.",
            422,
            "unsupported-content-type",
        )
    unknown_channels = sorted(set(spec.channels) - set(CHANNEL_TYPES))
    if unknown_channels:
        raise FinagencyError(
            f"Unknown channel type(s) {', '.join(unknown_channels)}; "
            f"known: {', '.join(CHANNEL_TYPES)}.",
            422,
        )
    known = set(
        await session.scalars(select(Instrument.symbol).where(Instrument.symbol.in_(spec.symbols)))
    )
    unknown = [s for s in spec.symbols if s not in known]
    if unknown:
        raise NotFound(f"Unknown symbol(s): {', '.join(unknown)}")
    if spec.idea_id is not None:
        from finagency.research.models import ContentIdea

        if await session.get(ContentIdea, spec.idea_id) is None:
            raise NotFound(f"No research idea {spec.idea_id}")
    request = ContentRequest(
        idempotency_key=key,
        type=spec.type,
        symbols=spec.symbols,
        topic=spec.topic,
        idea_id=spec.idea_id,
        audience=spec.audience,
        tone=spec.tone,
        channels=spec.channels,
        requested_by=user_id,
    )
    session.add(request)
    await session.flush()
    REQUESTS.labels(spec.type, settings.writer, "pending").inc()
    return request, True


def snapshot_view(snapshot: MarketSnapshot) -> SnapshotView:
    return SnapshotView(snapshot.id, snapshot.as_of, snapshot.instruments)


def generate(session: Session, settings: Settings, request_id: int) -> int | None:
    """Write, render and check the content of one request. Safe to run twice: the request is
    claimed with a conditional UPDATE, and nothing is visible unless all of it is stored."""
    claimed = session.execute(
        update(ContentRequest)
        .where(ContentRequest.id == request_id, ContentRequest.status == "pending")
        .values(status="writing", attempts=ContentRequest.attempts + 1, updated_at=utcnow())
    )
    if not getattr(claimed, "rowcount", 0):
        return None
    session.commit()
    request = session.get(ContentRequest, request_id)
    assert request is not None
    started = time.perf_counter()
    try:
        with session.begin_nested():
            content = _write(session, settings, request)
    except Exception as error:  # a writer failure fails the request, never leaves half a draft
        if not isinstance(error, FinagencyError | ValueError | TooLong):
            log.exception("content.writer_crashed", request_id=request_id)
        request.status = "failed"
        request.error = str(error)[:1000] or type(error).__name__
        REQUESTS.labels(request.type, settings.writer, "failed").inc()
        log.warning("content.generation_failed", request_id=request_id, error=request.error)
        return None
    finally:
        GENERATION_SECONDS.labels(settings.writer).observe(time.perf_counter() - started)
    request.status = "done"
    request.content_id = content.id
    request.error = None
    REQUESTS.labels(request.type, settings.writer, "done").inc()
    return content.id


def _write(session: Session, settings: Settings, request: ContentRequest) -> Content:
    snapshot = session.scalar(
        select(MarketSnapshot)
        .where(MarketSnapshot.kind == "live")
        .order_by(MarketSnapshot.id.desc())
        .limit(1)
    )
    if snapshot is None:
        raise FinagencyError("no market snapshot to write from yet", 503, "no-market-data")
    view = snapshot_view(snapshot)
    profile = get_profile(settings.compliance_profile)
    seed = int.from_bytes(hashlib.sha256(f"{request.id}".encode()).digest()[:4], "big")
    draft = template.market_update(view, request.symbols, profile.disclaimer, seed)
    renderings = {channel: render(draft, channel) for channel in request.channels}
    content = Content(
        type=request.type,
        simulated=bool(draft.data.get("simulated")),
        request_id=request.id,
        created_by=request.requested_by,
    )
    session.add(content)
    session.flush()
    provenance = {
        "snapshot_id": view.id,
        "writer": template.WRITER,
        "template_version": template.TEMPLATE_VERSION,
        "model": None,
        "prompt_hash": None,
    }
    revision = Revision(
        content_id=content.id,
        number=1,
        title=draft.title,
        text=draft.plain_text,
        renderings=renderings,
        provenance=provenance,
        created_by=request.requested_by,
    )
    session.add(revision)
    session.flush()
    findings = check_text(settings, draft.plain_text, request.type, request.channels, view, draft)
    session.add_all(
        FindingRecord(
            revision_id=revision.id,
            rule=f.rule,
            severity=f.severity.value,
            message=f.message,
            start=f.start,
            end=f.end,
        )
        for f in findings
    )
    return content


def check_text(
    settings: Settings,
    text: str,
    content_type: str,
    channels: list[str],
    view: SnapshotView | None,
    draft: Draft | None = None,
) -> list[Finding]:
    """All rules on the text itself, then each channel's length on what that channel sends.

    Length findings cover the whole text (their message names the channel): an X thread or
    an escaped Telegram message is not the revision's text, so a span inside it would mislead.
    """
    profile = get_profile(settings.compliance_profile)
    base = CheckContext(
        text=text,
        channel_type="file",
        content_type=content_type,
        profile=profile.name,
        now=datetime.now(UTC),
        snapshot=view,
        disclaimer=profile.disclaimer,
        extra={"simulated": bool(draft and draft.data.get("simulated"))},
    )
    found = checker.check(base)
    for channel in channels:
        sent = _channel_text(draft, channel) if draft is not None else text
        for finding in rules.length(replace(base, text=sent, channel_type=channel)):
            found.append(replace(finding, start=0, end=len(text)))
    return checker.deduplicated(found)


def _channel_text(draft: Draft, channel: str) -> str:
    rendering = render(draft, channel)
    if "posts" in rendering:
        return "\n\n".join(rendering["posts"])
    return str(rendering.get("text", ""))


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
