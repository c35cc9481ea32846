"""Run-time settings kept in the database: admins switch them without a restart."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from finagency.settings import Settings
from finagency.system.models import SystemSetting

REGISTRATION_OPEN = "registration_open"


async def _value(session: AsyncSession, key: str) -> Any:
    row = await session.get(SystemSetting, key)
    return None if row is None else row.value


async def put(session: AsyncSession, key: str, value: Any, user_id: int | None) -> None:
    row = await session.get(SystemSetting, key)
    if row is None:
        session.add(SystemSetting(key=key, value=value, updated_by=user_id))
    else:
        row.value = value
        row.updated_by = user_id
    await session.flush()


async def registration_open(session: AsyncSession, settings: Settings) -> bool:
    stored = await _value(session, REGISTRATION_OPEN)
    return settings.registration_default if stored is None else bool(stored)
