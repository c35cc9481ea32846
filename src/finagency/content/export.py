"""The record-keeping export: content of a date range with every revision, its findings and
the editorial decisions (who submitted, edited, approved, rejected or overrode, and when).

Books and records rules (SEC 17a-4, FINRA 2210's retention, SEBI's for research analysts) ask
for communications to be kept for years; content, revisions and findings are never deleted
here, and the audit log keeps the decisions for FINAGENCY_AUDIT_RETENTION_DAYS (3 years by
default). JSON lines gives one content item per line with everything nested; CSV gives one row
per revision, for a spreadsheet.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts import audit
from finagency.content.models import Content, FindingRecord, Revision

DECISIONS = (
    "content_submitted",
    "content_edited",
    "content_approved",
    "content_auto_approved",
    "content_overridden",
    "content_rejected",
)
CSV_COLUMNS = [
    "content_id",
    "type",
    "status",
    "simulated",
    "content_created_at",
    "revision",
    "title",
    "text",
    "revision_created_at",
    "revision_created_by",
    "snapshot_id",
    "writer",
    "template_version",
    "model",
    "prompt_hash",
    "compliance_version",
    "blocking_findings",
    "warnings",
    "finding_rules",
    "approved",
    "approved_by",
    "approved_at",
    "override_reason",
    "review_comment",
]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def export_rows(
    session: AsyncSession, since: datetime, until: datetime, batch: int = 200
) -> AsyncIterator[dict[str, Any]]:
    """Content created in [since, until), oldest first, read in batches by id so that years of
    content never sit in memory at once."""
    after_id = 0
    while True:
        contents = list(
            await session.scalars(
                select(Content)
                .where(
                    Content.created_at >= since, Content.created_at < until, Content.id > after_id
                )
                .order_by(Content.id)
                .limit(batch)
            )
        )
        if not contents:
            return
        ids = [content.id for content in contents]
        revisions = list(
            await session.scalars(
                select(Revision)
                .where(Revision.content_id.in_(ids))
                .order_by(Revision.content_id, Revision.number)
            )
        )
        findings: dict[int, list[FindingRecord]] = defaultdict(list)
        for finding in await session.scalars(
            select(FindingRecord)
            .where(FindingRecord.revision_id.in_([r.id for r in revisions]))
            .order_by(FindingRecord.start, FindingRecord.id)
        ):
            findings[finding.revision_id].append(finding)
        by_content: dict[int, list[Revision]] = defaultdict(list)
        for revision in revisions:
            by_content[revision.content_id].append(revision)
        decisions = await audit.events_for(session, "content", [str(i) for i in ids], DECISIONS)
        events: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for event in decisions:
            events[event.target_id or ""].append(audit.as_row(event))
        for content in contents:
            yield _record(content, by_content[content.id], findings, events[str(content.id)])
        after_id = ids[-1]


def _record(
    content: Content,
    revisions: list[Revision],
    findings: dict[int, list[FindingRecord]],
    decisions: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "id": content.id,
        "type": content.type,
        "status": content.status,
        "simulated": content.simulated,
        "created_at": _iso(content.created_at),
        "created_by": content.created_by,
        "request_id": content.request_id,
        "approved_revision": content.approved_revision,
        "approved_by": content.approved_by,
        "approved_at": _iso(content.approved_at),
        "override_reason": content.override_reason,
        "review_comment": content.review_comment,
        "revisions": [
            {
                "number": revision.number,
                "title": revision.title,
                "text": revision.text,
                "created_at": _iso(revision.created_at),
                "created_by": revision.created_by,
                "provenance": revision.provenance,
                "findings": [
                    {
                        "rule": f.rule,
                        "severity": f.severity,
                        "message": f.message,
                        "start": f.start,
                        "end": f.end,
                    }
                    for f in findings[revision.id]
                ],
            }
            for revision in revisions
        ],
        "decisions": decisions,
    }


def csv_rows(record: dict[str, Any]) -> list[list[Any]]:
    """One CSV row per revision of an exported content record."""
    rows = []
    for revision in record["revisions"]:
        provenance = revision["provenance"] or {}
        found = revision["findings"]
        approved = record["approved_revision"] == revision["number"]
        values = {
            "content_id": record["id"],
            "type": record["type"],
            "status": record["status"],
            "simulated": record["simulated"],
            "content_created_at": record["created_at"],
            "revision": revision["number"],
            "title": revision["title"],
            "text": revision["text"],
            "revision_created_at": revision["created_at"],
            "revision_created_by": revision["created_by"],
            "snapshot_id": provenance.get("snapshot_id"),
            "writer": provenance.get("writer"),
            "template_version": provenance.get("template_version"),
            "model": provenance.get("model"),
            "prompt_hash": provenance.get("prompt_hash"),
            "compliance_version": provenance.get("compliance_version"),
            "blocking_findings": sum(1 for f in found if f["severity"] == "block"),
            "warnings": sum(1 for f in found if f["severity"] == "warn"),
            "finding_rules": " ".join(sorted({f["rule"] for f in found})),
            "approved": approved,
            "approved_by": record["approved_by"] if approved else None,
            "approved_at": record["approved_at"] if approved else None,
            "override_reason": record["override_reason"] if approved else None,
            "review_comment": record["review_comment"],
        }
        rows.append([values[column] for column in CSV_COLUMNS])
    return rows
