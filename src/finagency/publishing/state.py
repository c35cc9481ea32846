"""The publishing kill switch, kept in the database so that every worker sees it at once, and
the note made when a publication needs a person."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from finagency.db import utcnow
from finagency.system.models import SystemSetting

log = structlog.get_logger(__name__)
PAUSED = "publishing_paused"


def paused(session: Session) -> bool:
    row = session.get(SystemSetting, PAUSED)
    return bool(row is not None and isinstance(row.value, dict) and row.value.get("paused"))


def _value(row: SystemSetting | None) -> dict[str, Any]:
    if row is None or not isinstance(row.value, dict):
        return {"paused": False, "changed_by": None, "changed_at": None, "reason": None}
    return {
        "paused": bool(row.value.get("paused")),
        "changed_by": row.value.get("changed_by"),
        "changed_at": row.value.get("changed_at"),
        "reason": row.value.get("reason"),
    }


async def status(session: AsyncSession) -> dict[str, Any]:
    return _value(await session.get(SystemSetting, PAUSED))


def status_sync(session: Session) -> dict[str, Any]:
    return _value(session.get(SystemSetting, PAUSED))


def _new_value(pause: bool, user_id: int | None, reason: str | None) -> dict[str, Any]:
    return {
        "paused": pause,
        "changed_by": user_id,
        "changed_at": utcnow().isoformat(),
        "reason": reason,
    }


async def set_paused(
    session: AsyncSession, pause: bool, user_id: int | None, reason: str | None
) -> dict[str, Any]:
    row = await session.get(SystemSetting, PAUSED)
    value = _new_value(pause, user_id, reason)
    if row is None:
        session.add(SystemSetting(key=PAUSED, value=value, updated_by=user_id))
    else:
        row.value = value
        row.updated_by = user_id
    await session.flush()
    return _value(await session.get(SystemSetting, PAUSED))


def set_paused_sync(session: Session, pause: bool, reason: str | None) -> dict[str, Any]:
    """For the CLI (`finagency publishing pause|resume`)."""
    row = session.get(SystemSetting, PAUSED)
    value = _new_value(pause, None, reason)
    if row is None:
        session.add(SystemSetting(key=PAUSED, value=value))
    else:
        row.value = value
    session.flush()
    return value


def note_needs_attention(session: Session, publication_id: int, status: str) -> None:
    """A publication ended failed or unknown: the team is told through the staff channel; it
    also shows in the metrics and the API (`GET /api/v1/publications?status=unknown`)."""
    from finagency import tasks
    from finagency.publishing import staff

    log.warning("publishing.needs_attention", publication_id=publication_id, status=status)
    staff.publication_needs_attention(session, publication_id, status)
    session.commit()
    try:
        tasks.task_queue().enqueue(staff.NOTIFY_TASK)
    except Exception as error:  # no queue or Redis down: the minute's beat sends it anyway
        log.info("publishing.notify_later", error=f"{type(error).__name__}: {error}")
