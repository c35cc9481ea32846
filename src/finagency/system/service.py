"""Dependency checks and runtime figures shared by /ready, /metrics and `finagency check`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

import redis as syncredis
import redis.asyncio as aioredis

from finagency.db import Database
from finagency.settings import Settings
from finagency.tasks import Queue, worker_key


async def _bounded(check: Awaitable[None], timeout: float) -> str:
    try:
        await asyncio.wait_for(check, timeout)
    except TimeoutError:
        return f"timed out after {timeout:g}s"
    except Exception as error:  # the reason is the answer; never let a check crash the probe
        return f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error) else ''}"
    return "ok"


async def ping_redis(url: str, timeout: float) -> None:
    client = aioredis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        await client.ping()
    finally:
        await client.aclose()


async def check_dependencies(
    database: Database, settings: Settings, timeout: float
) -> dict[str, str]:
    """Each configured dependency → "ok" or why not; checked at once, each within `timeout`."""
    names = ["database"]
    checks: list[Awaitable[str]] = [_bounded(database.ping(), timeout)]
    if settings.redis_url:
        names.append("redis")
        checks.append(_bounded(ping_redis(settings.redis_url, timeout), timeout))
    results = await asyncio.gather(*checks)
    return dict(zip(names, results, strict=True))


class RedisRuntime:
    """Queue lengths and live Celery workers as Redis knows them (read at scrape time)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client = syncredis.Redis.from_url(
            settings.redis_url or "", socket_timeout=0.5, socket_connect_timeout=0.5
        )

    def queue_lengths(self) -> dict[str, int]:
        prefix = self.settings.redis_prefix
        try:
            return {q.value: int(self._client.llen(f"{prefix}{q.value}")) for q in Queue}
        except syncredis.RedisError:
            return {}

    def live_workers(self) -> int:
        pattern = worker_key(self.settings, "*")
        try:
            return sum(1 for _ in self._client.scan_iter(match=pattern, count=100))
        except syncredis.RedisError:
            return 0

    def close(self) -> None:
        self._client.close()
