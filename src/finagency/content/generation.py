"""Generation: a worker writes one request's draft, renders it per channel and checks it.

The request is claimed with a conditional UPDATE, so a task delivered twice writes once. The
content, its first revision and its findings are stored in one savepoint: a writer failure
fails the request with its reason and leaves nothing half-written visible as a draft.
"""

from __future__ import annotations

import hashlib
import time
from datetime import date
from urllib.parse import urlsplit

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, selectinload

from finagency.accounts import audit
from finagency.compliance import checker
from finagency.compliance import service as compliance_service
from finagency.compliance.findings import Finding, SnapshotView
from finagency.compliance.policy import Policy
from finagency.content import checks
from finagency.content.metrics import GENERATION_SECONDS, REQUESTS
from finagency.content.models import Content, ContentRequest, FindingRecord, Revision
from finagency.content.renderings import TooLong
from finagency.content.writers import Brief, IdeaBrief, NewsHeadline, WriterError, create_writer
from finagency.db import utcnow
from finagency.errors import FinagencyError
from finagency.market.models import MarketSnapshot
from finagency.media import charts
from finagency.research.models import ContentIdea, NewsItem
from finagency.settings import Settings

log = structlog.get_logger(__name__)
# Failures that are the input's or the writer's, reported on the request without a traceback.
EXPECTED_FAILURES = (WriterError, FinagencyError, ValueError, TooLong)
MAX_HEADLINES = 5


def snapshot_view(snapshot: MarketSnapshot) -> SnapshotView:
    return SnapshotView(snapshot.id, snapshot.as_of, snapshot.instruments)


def generate(session: Session, settings: Settings, request_id: int) -> int | None:
    """Write, render and check the content of one request; the content id, or None when the
    request was not pending (already taken) or failed."""
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
        if not isinstance(error, EXPECTED_FAILURES):
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


def _latest_snapshot(session: Session) -> SnapshotView:
    snapshot = session.scalar(
        select(MarketSnapshot)
        .where(MarketSnapshot.kind == "live")
        .order_by(MarketSnapshot.id.desc())
        .limit(1)
    )
    if snapshot is None:
        raise FinagencyError("no market snapshot to write from yet", 503, "no-market-data")
    return snapshot_view(snapshot)


def _source_name(item: NewsItem) -> str:
    if item.feed is not None:
        return item.feed.name
    return urlsplit(item.canonical_url).hostname or "a news source"


def idea_brief(session: Session, idea_id: int) -> IdeaBrief:
    idea = session.scalar(
        select(ContentIdea)
        .where(ContentIdea.id == idea_id)
        .options(selectinload(ContentIdea.news_items).selectinload(NewsItem.feed))
    )
    if idea is None:
        raise FinagencyError(f"research idea {idea_id} no longer exists", 422, "unknown-idea")
    headlines = tuple(
        NewsHeadline(
            title=item.title,
            source=_source_name(item),
            url=item.canonical_url,
            published_at=item.published_at.isoformat(),
        )
        for item in idea.news_items[:MAX_HEADLINES]
    )
    return IdeaBrief(
        id=idea.id,
        title=idea.title,
        urgency=idea.urgency,
        event=idea.event,
        symbols=tuple(idea.symbols),
        reasons=tuple(idea.reasons),
        headlines=headlines,
    )


def _write(session: Session, settings: Settings, request: ContentRequest) -> Content:
    policy = compliance_service.current_sync(session, settings)
    view = _latest_snapshot(session)
    seed = int.from_bytes(hashlib.sha256(f"{request.id}".encode()).digest()[:4], "big")
    brief = Brief(
        type=request.type,
        symbols=tuple(request.symbols),
        snapshot=view,
        disclaimer="\n\n".join(checks.disclaimers(policy, request.channels)),
        seed=seed,
        topic=request.topic,
        idea=idea_brief(session, request.idea_id) if request.idea_id is not None else None,
        audience=request.audience,
        tone=request.tone,
    )
    written = create_writer(settings).write(brief)
    draft = written.draft
    simulated = bool(draft.data.get("simulated"))
    renderings = checks.renderings(policy, draft, request.channels)
    channel_texts = {
        channel: (
            checks.for_channel(policy, draft, channel).plain_text
            if "error" in rendered
            else checks.sent_text(rendered)
        )
        for channel, rendered in renderings.items()
    }
    recent = checks.same_channel_types(
        session.execute(checks.recent_texts_query(policy, request.channels, None)).all(),
        request.channels,
    )
    findings = checks.check_revision(
        policy,
        draft.plain_text,
        request.type,
        channel_texts,
        view,
        simulated=simulated,
        recent_texts=recent,
    )
    content = Content(
        type=request.type,
        simulated=simulated,
        request_id=request.id,
        created_by=request.requested_by,
    )
    session.add(content)
    session.flush()
    revision = Revision(
        content_id=content.id,
        number=1,
        title=draft.title,
        text=draft.plain_text,
        renderings=renderings,
        provenance={
            "snapshot_id": view.id,
            "model": None,
            "prompt_hash": None,
            **written.provenance,
            "compliance_version": policy.version,
        },
        created_by=request.requested_by,
    )
    session.add(revision)
    session.flush()
    store_findings(session, revision.id, findings)
    if request.chart:
        _attach_chart(session, settings, content, view, request.symbols[0])
    _maybe_auto_approve(session, policy, content, findings)
    return content


def _attach_chart(
    session: Session, settings: Settings, content: Content, view: SnapshotView, symbol: str
) -> None:
    """The first symbol's price chart up to the snapshot's trading date for it."""
    entry = view.instruments.get(symbol)
    if entry is None or not entry.get("last_trading_date"):
        raise FinagencyError(f"the snapshot has no trading date for {symbol} to chart", 422)
    until = date.fromisoformat(entry["last_trading_date"])
    charts.attach_chart(session, settings, content.id, symbol, until)


def store_findings(
    session: Session | AsyncSession, revision_id: int, findings: list[Finding]
) -> None:
    """The findings of one revision, added to the session (a worker's or the API's)."""
    session.add_all(
        FindingRecord(
            revision_id=revision_id,
            rule=f.rule,
            severity=f.severity.value,
            message=f.message,
            start=f.start,
            end=f.end,
        )
        for f in findings
    )


def _maybe_auto_approve(
    session: Session, policy: Policy, content: Content, findings: list[Finding]
) -> None:
    """Approve without an editor when the policy allows it for this type and nothing blocks.
    Off by default: an admin turns it on per content type in the compliance settings."""
    if content.type not in policy.auto_approve_types or checker.blocking(findings):
        return
    content.status = "approved"
    content.approved_revision = 1
    content.approved_at = utcnow()
    audit.record(
        session,
        "content_auto_approved",
        audit.Actor(),
        "content",
        content.id,
        revision=1,
        compliance_version=policy.version,
    )
