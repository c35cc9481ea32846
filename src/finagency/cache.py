"""Short-lived shared state: counters, locks and rate buckets.

Redis in the full stack (every API process sees the same numbers), process memory in embedded
mode (one process). Every key gets the FINAGENCY_REDIS_PREFIX.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

import redis.asyncio as aioredis

from finagency.settings import Settings


class Store(Protocol):
    async def hit(self, key: str, window_seconds: int) -> int:
        """Count one event in a window that starts at the first event; return the count."""
        ...

    async def set(self, key: str, value: str, ttl_seconds: float) -> None: ...

    async def get(self, key: str) -> str | None: ...

    async def ttl(self, key: str) -> float:
        """Seconds until `key` expires; 0 when it does not exist."""
        ...

    async def delete(self, *keys: str) -> None: ...

    async def take(self, key: str, rate_per_second: float, burst: int) -> float:
        """Take one token from a bucket (GCRA); 0 when allowed, else seconds to wait."""
        ...

    async def close(self) -> None: ...


class MemoryStore:
    # Every this many writes, expired keys are swept, so that random e-mails and addresses
    # sent by an attacker cannot grow the dictionary without end.
    SWEEP_EVERY = 1000

    def __init__(self) -> None:
        self._values: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._writes = 0

    def _write(self, key: str, value: str, expires: float, now: float) -> None:
        self._values[key] = (value, expires)
        self._writes += 1
        if self._writes % self.SWEEP_EVERY == 0:
            for stale in [k for k, (_, at) in self._values.items() if at <= now]:
                del self._values[stale]

    def _live(self, key: str, now: float) -> tuple[str, float] | None:
        entry = self._values.get(key)
        if entry is not None and entry[1] <= now:
            del self._values[key]
            return None
        return entry

    async def hit(self, key: str, window_seconds: int) -> int:
        now = time.monotonic()
        with self._lock:
            entry = self._live(key, now)
            count = int(entry[0]) + 1 if entry else 1
            expires = entry[1] if entry else now + window_seconds
            self._write(key, str(count), expires, now)
            return count

    async def set(self, key: str, value: str, ttl_seconds: float) -> None:
        now = time.monotonic()
        with self._lock:
            self._write(key, value, now + ttl_seconds, now)

    async def get(self, key: str) -> str | None:
        with self._lock:
            entry = self._live(key, time.monotonic())
            return entry[0] if entry else None

    async def ttl(self, key: str) -> float:
        now = time.monotonic()
        with self._lock:
            entry = self._live(key, now)
            return max(entry[1] - now, 0.0) if entry else 0.0

    async def delete(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._values.pop(key, None)

    async def take(self, key: str, rate_per_second: float, burst: int) -> float:
        interval = 1.0 / rate_per_second
        now = time.monotonic()
        with self._lock:
            entry = self._live(key, now)
            tat = max(float(entry[0]) if entry else now, now)  # theoretical arrival time
            wait = tat + interval - burst * interval - now
            if wait > 0:
                return wait
            new_tat = tat + interval
            self._write(key, str(new_tat), new_tat, now)
            return 0.0

    async def close(self) -> None:
        return None


# GCRA in one round trip: the bucket is a single "theoretical arrival time" in milliseconds.
_TAKE = """
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local wait = tat + interval - burst * interval - now
if wait > 0 then return tostring(wait) end
local new_tat = tat + interval
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now) + 1)
return '0'
"""


class RedisStore:
    def __init__(self, url: str, prefix: str) -> None:
        self._redis = aioredis.Redis.from_url(
            url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True
        )
        self._prefix = prefix
        self._take = self._redis.register_script(_TAKE)

    def _key(self, key: str) -> str:
        return f"{self._prefix}{key}"

    async def hit(self, key: str, window_seconds: int) -> int:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(self._key(key))
            pipe.expire(self._key(key), window_seconds, nx=True)
            count, _ = await pipe.execute()
        return int(count)

    async def set(self, key: str, value: str, ttl_seconds: float) -> None:
        await self._redis.set(self._key(key), value, px=max(int(ttl_seconds * 1000), 1))

    async def get(self, key: str) -> str | None:
        value = await self._redis.get(self._key(key))
        return None if value is None else str(value)

    async def ttl(self, key: str) -> float:
        milliseconds = await self._redis.pttl(self._key(key))
        return max(int(milliseconds), 0) / 1000

    async def delete(self, *keys: str) -> None:
        if keys:
            await self._redis.delete(*(self._key(key) for key in keys))

    async def take(self, key: str, rate_per_second: float, burst: int) -> float:
        now_ms = time.time() * 1000
        wait = await self._take(
            keys=[self._key(key)], args=[now_ms, 1000.0 / rate_per_second, burst]
        )
        return max(float(wait), 0.0) / 1000

    async def close(self) -> None:
        await self._redis.aclose()


def create_store(settings: Settings) -> Store:
    if settings.redis_url:
        return RedisStore(settings.redis_url, settings.redis_prefix)
    return MemoryStore()
