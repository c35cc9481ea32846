"""The editorial workflow: draft → in_review → approved | rejected; edits make new revisions.

Approval is of one exact revision. A blocking finding prevents approval unless an admin
overrides it with a written reason; authors may not approve their own revision when
`FINAGENCY_FORBID_SELF_APPROVAL` holds (by default everywhere but development). Every
transition goes to the audit log with who, when and from where.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts import audit
from finagency.accounts.audit import Actor
from finagency.compliance import service as compliance_service
from finagency.compliance.rules import has_disclaimer
from finagency.content import checks, generation, service
from finagency.content.models import Content, FindingRecord, Revision
from finagency.content.renderings import Draft
from finagency.db import utcnow
from finagency.errors import Conflict, FinagencyError, Forbidden
from finagency.market.models import MarketSnapshot
from finagency.settings import Settings


def _conflict(content: Content, action: str) -> Conflict:
    return Conflict(f"Content {content.id} is {content.status}: it cannot be {action}.")


async def _blocking(session: AsyncSession, content: Content) -> int:
    revision = await service.current_revision(session, content)
    count = await session.scalar(
        select(func.count())
        .select_from(FindingRecord)
        .where(FindingRecord.revision_id == revision.id, FindingRecord.severity == "block")
    )
    return int(count or 0)


def _draft_of(text: str, disclaimers: list[str]) -> Draft:
    """An edited text as a draft: the first line is the title, the rest the body. The required
    disclaimers it still carries are lifted out, so each channel gets its own; one the editor
    deleted stays deleted (and the disclaimer rule reports it)."""
    title, _, body = text.strip().partition("\n")
    kept = [d for d in disclaimers if has_disclaimer(body, d)]
    for disclaimer in kept:  # matched as has_disclaimer does: any case, any white space
        pattern = r"\s+".join(re.escape(word) for word in disclaimer.split())
        body = re.sub(pattern, "", body, flags=re.IGNORECASE)
    paragraphs = [p.strip() for p in body.strip().split("\n\n") if p.strip()]
    return Draft(title=title.strip(), paragraphs=paragraphs, disclaimer="\n\n".join(kept))


async def submit(session: AsyncSession, actor: Actor, content: Content) -> Content:
    if content.status not in {"draft", "rejected"}:
        raise _conflict(content, "submitted for review")
    content.status = "in_review"
    audit.record(
        session,
        "content_submitted",
        actor,
        "content",
        content.id,
        revision=content.current_revision,
    )
    await session.flush()
    return content


async def approve(
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    content: Content,
    override_reason: str | None = None,
) -> Content:
    """Approve the current revision (an override approves despite blocking findings)."""
    if content.status != "in_review":
        raise _conflict(content, "approved")
    revision = await service.current_revision(session, content)
    if settings.self_approval_forbidden and revision.created_by == actor.user_id:
        raise Forbidden("You wrote this revision: someone else must approve it.")
    blocking = await _blocking(session, content)
    if blocking and override_reason is None:
        raise FinagencyError(
            f"Revision {revision.number} has {blocking} blocking finding(s); fix them, or an "
            "admin may override with a written reason.",
            409,
            "blocking-findings",
        )
    content.status = "approved"
    content.approved_revision = revision.number
    content.approved_by = actor.user_id
    content.approved_at = utcnow()
    content.override_reason = override_reason
    action = "content_overridden" if override_reason else "content_approved"
    detail = {"revision": revision.number}
    if override_reason:
        detail["blocking_findings"] = blocking
    audit.record(session, action, actor, "content", content.id, reason=override_reason, **detail)
    await session.flush()
    return content


async def reject(session: AsyncSession, actor: Actor, content: Content, comment: str) -> Content:
    if content.status != "in_review":
        raise _conflict(content, "rejected")
    content.status = "rejected"
    content.review_comment = comment
    audit.record(
        session,
        "content_rejected",
        actor,
        "content",
        content.id,
        revision=content.current_revision,
        comment=comment,
    )
    await session.flush()
    return content


async def edit(
    session: AsyncSession, settings: Settings, actor: Actor, content: Content, text: str
) -> Content:
    """A new revision with this text, checked before the answer; an approved content goes
    back to review (approval is of one exact revision)."""
    if content.status == "scheduled":
        raise _conflict(content, "edited (cancel its publications first)")
    previous = await service.current_revision(session, content)
    policy = await compliance_service.current(session, settings)
    channels = list(previous.renderings)
    draft = _draft_of(text, checks.disclaimers(policy, channels))
    renderings = checks.renderings(policy, draft, channels)
    channel_texts = {
        channel: text if "error" in rendered else checks.sent_text(rendered)
        for channel, rendered in renderings.items()
    }
    snapshot_id = previous.provenance.get("snapshot_id")
    snapshot = await session.get(MarketSnapshot, snapshot_id) if snapshot_id else None
    view = generation.snapshot_view(snapshot) if snapshot is not None else None
    rows = await session.execute(checks.recent_texts_query(policy, channels, content.id))
    findings = checks.check_revision(
        policy,
        text,
        content.type,
        channel_texts,
        view,
        simulated=content.simulated,
        recent_texts=checks.same_channel_types(rows.all(), channels),
    )
    revision = Revision(
        content_id=content.id,
        number=previous.number + 1,
        title=draft.title,
        text=text,
        renderings=renderings,
        provenance={
            **previous.provenance,
            "edited_by": actor.user_id,
            "compliance_version": policy.version,
        },
        created_by=actor.user_id,
    )
    session.add(revision)
    await session.flush()
    generation.store_findings(session, revision.id, findings)
    content.current_revision = revision.number
    if content.status == "approved":
        content.status = "in_review"
        content.approved_revision = None
        content.approved_by = None
        content.approved_at = None
        content.override_reason = None
    audit.record(
        session,
        "content_edited",
        actor,
        "content",
        content.id,
        revision=revision.number,
        findings=len(findings),
    )
    await session.flush()
    return content
