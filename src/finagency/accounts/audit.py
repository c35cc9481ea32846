"""The audit log: record security and editorial events; read, export and prune them."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from finagency.accounts.models import AuditEvent
from finagency.db import utcnow

EXPORT_COLUMNS = [
    "id",
    "occurred_at",
    "action",
    "actor_id",
    "actor_email",
    "target_type",
    "target_id",
    "ip",
    "request_id",
    "detail",
]


@dataclass(frozen=True)
class Actor:
    """Who did it, from where: copied into every event."""

    user_id: int | None = None
    email: str | None = None
    ip: str | None = None
    request_id: str | None = None


def record(
    session: AsyncSession | Session,
    action: str,
    actor: Actor,
    target_type: str | None = None,
    target_id: object = None,
    **detail: Any,
) -> AuditEvent:
    event = AuditEvent(
        action=action,
        actor_id=actor.user_id,
        actor_email=actor.email,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        ip=actor.ip,
        request_id=actor.request_id,
        detail=detail,
    )
    session.add(event)
    return event


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    actor_id: int | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _filtered(criteria: AuditFilter) -> Select[AuditEvent]:
    query = select(AuditEvent)
    if criteria.action:
        query = query.where(AuditEvent.action == criteria.action)
    if criteria.actor_id is not None:
        query = query.where(AuditEvent.actor_id == criteria.actor_id)
    if criteria.target_type:
        query = query.where(AuditEvent.target_type == criteria.target_type)
    if criteria.target_id:
        query = query.where(AuditEvent.target_id == criteria.target_id)
    if criteria.since:
        query = query.where(AuditEvent.occurred_at >= criteria.since)
    if criteria.until:
        query = query.where(AuditEvent.occurred_at < criteria.until)
    return query


async def page(
    session: AsyncSession, criteria: AuditFilter, limit: int, before_id: int | None
) -> list[AuditEvent]:
    """Newest first; the next page starts before the last id seen (keyset, not offset)."""
    query = _filtered(criteria)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    result = await session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit))
    return list(result)


async def events_for(
    session: AsyncSession, target_type: str, target_ids: list[str], actions: tuple[str, ...]
) -> list[AuditEvent]:
    """The events of these actions on these targets, oldest first (for other features' exports)."""
    result = await session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.target_type == target_type,
            AuditEvent.target_id.in_(target_ids),
            AuditEvent.action.in_(actions),
        )
        .order_by(AuditEvent.id)
    )
    return list(result)


def as_row(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "occurred_at": event.occurred_at.isoformat(),
        "action": event.action,
        "actor_id": event.actor_id,
        "actor_email": event.actor_email,
        "target_type": event.target_type,
        "target_id": event.target_id,
        "ip": event.ip,
        "request_id": event.request_id,
        "detail": event.detail,
    }


async def export_rows(
    session: AsyncSession, criteria: AuditFilter, batch: int = 1000
) -> AsyncIterator[dict[str, Any]]:
    """Oldest first, in batches by id, so that an export of years never sits in memory."""
    after_id = 0
    while True:
        query = _filtered(criteria).where(AuditEvent.id > after_id)
        events = list(await session.scalars(query.order_by(AuditEvent.id).limit(batch)))
        for event in events:
            yield as_row(event)
        if len(events) < batch:
            return
        after_id = events[-1].id


def jsonl_line(row: dict[str, Any]) -> str:
    return json.dumps(row, separators=(",", ":"), default=str) + "\n"


def csv_header() -> str:
    return _csv_text(EXPORT_COLUMNS)


def csv_line(row: dict[str, Any]) -> str:
    values = [row[column] for column in EXPORT_COLUMNS]
    values[EXPORT_COLUMNS.index("detail")] = json.dumps(row["detail"], default=str)
    return _csv_text(["" if value is None else _inert(value) for value in values])


def csv_values(values: list[Any]) -> str:
    """One CSV line of any values, made inert for spreadsheets (None as an empty cell)."""
    return _csv_text(["" if value is None else _inert(value) for value in values])


def _inert(value: Any) -> Any:
    """Keep a spreadsheet from running a cell as a formula (CSV injection)."""
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value


def _csv_text(values: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue()


def prune(session: Session, retention_days: int) -> int:
    """Delete events older than the retention; nothing younger is ever touched."""
    cutoff = utcnow() - timedelta(days=retention_days)
    result = session.execute(delete(AuditEvent).where(AuditEvent.occurred_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
