"""Failed-login counting, lockout, IP blocking and the auth rate limit, in memory and on Redis."""

import time
from pathlib import Path

import httpx
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts.models import AuditEvent
from finagency.accounts.protection import LoginGuard
from finagency.app import create_app
from finagency.errors import Locked
from finagency.settings import Settings, load_settings
from tests.fixtures.accounts import FAST_HASHING, PASSWORD, client_for, make_user

WRONG = "wrong-password-123"


async def _login(http: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await http.post("/api/v1/auth/login", json={"email": email, "password": password})


def _lockouts() -> float:
    return REGISTRY.get_sample_value("finagency_account_lockouts_total") or 0.0


async def test_five_failures_lock_the_account_with_423(
    stack_app: FastAPI, db_session: AsyncSession
) -> None:
    settings: Settings = stack_app.state.settings
    user = await make_user(db_session, settings)
    before = _lockouts()
    async with client_for(stack_app, "10.1.0.1") as http:
        statuses = [(await _login(http, user.email, WRONG)).status_code for _ in range(5)]
        assert statuses == [401, 401, 401, 401, 423]
        locked = await _login(http, user.email, PASSWORD)  # even the right password
    assert locked.status_code == 423
    retry_after = int(locked.headers["retry-after"])
    assert 0 < retry_after <= 900
    assert _lockouts() == before + 1
    actions = list(
        await db_session.scalars(
            select(AuditEvent.action).where(AuditEvent.actor_email == user.email)
        )
    )
    assert actions.count("login_failed") == 5
    assert "account_locked" in actions


async def test_the_guard_says_how_long_an_account_stays_locked_out(stack_app: FastAPI) -> None:
    settings: Settings = stack_app.state.settings
    guard = LoginGuard(stack_app.state.store, settings)
    email = "counted@example.com"
    assert await guard.locked_for(email) is None
    for _ in range(settings.login_max_failures - 1):
        await guard.record_failure(email, "10.1.0.9")
    assert await guard.locked_for(email) is None  # failures below the threshold lock nothing
    assert isinstance(await guard.record_failure(email, "10.1.0.9"), Locked)
    remaining = await guard.locked_for(email)
    assert remaining is not None
    assert settings.lockout_seconds - 10 < remaining <= settings.lockout_seconds
    assert await guard.locked_for("someone-else@example.com") is None
    await guard.unlock(email)
    assert await guard.locked_for(email) is None


async def test_an_unknown_email_locks_exactly_the_same_way(stack_app: FastAPI) -> None:
    async with client_for(stack_app, "10.1.0.2") as http:
        responses = [await _login(http, "ghost@example.com", WRONG) for _ in range(6)]
    assert [r.status_code for r in responses] == [401, 401, 401, 401, 423, 423]
    assert responses[0].json()["detail"] == "Wrong e-mail address or password."


async def test_a_success_resets_the_account_count(
    stack_app: FastAPI, db_session: AsyncSession
) -> None:
    settings: Settings = stack_app.state.settings
    user = await make_user(db_session, settings)
    async with client_for(stack_app, "10.1.0.3") as http:
        for _ in range(4):
            assert (await _login(http, user.email, WRONG)).status_code == 401
        assert (await _login(http, user.email, PASSWORD)).status_code == 200
        for _ in range(4):
            assert (await _login(http, user.email, WRONG)).status_code == 401


async def test_twenty_failures_from_one_address_block_it_with_429(stack_app: FastAPI) -> None:
    async with client_for(stack_app, "10.1.0.4") as http:
        # Different accounts each time, so no account lock interferes.
        statuses = [
            (await _login(http, f"user{n}@example.com", WRONG)).status_code for n in range(20)
        ]
        blocked = await _login(http, "someone-else@example.com", WRONG)
    assert statuses[:19] == [401] * 19
    assert statuses[19] == 429
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    async with client_for(stack_app, "10.1.0.5") as other:
        assert (await _login(other, "user1@example.com", WRONG)).status_code == 401


async def test_forwarded_for_counts_only_behind_a_trusted_proxy(
    stack_app: FastAPI,
) -> None:
    # 127.0.0.1 is trusted (the default): its X-Forwarded-For names the client.
    async with client_for(stack_app, "127.0.0.1") as proxy:
        for n in range(20):
            await proxy.post(
                "/api/v1/auth/login",
                json={"email": f"p{n}@example.com", "password": WRONG},
                headers={"X-Forwarded-For": "203.0.113.7"},
            )
        other_client = await proxy.post(
            "/api/v1/auth/login",
            json={"email": "p99@example.com", "password": WRONG},
            headers={"X-Forwarded-For": "203.0.113.8"},
        )
    assert other_client.status_code == 401  # the proxy itself is not blocked
    # An untrusted peer cannot dodge its own block by inventing addresses.
    async with client_for(stack_app, "10.9.9.9") as attacker:
        for n in range(20):
            await attacker.post(
                "/api/v1/auth/login",
                json={"email": f"a{n}@example.com", "password": WRONG},
                headers={"X-Forwarded-For": f"198.51.100.{n}"},
            )
        last = await attacker.post(
            "/api/v1/auth/login",
            json={"email": "a99@example.com", "password": WRONG},
            headers={"X-Forwarded-For": "198.51.100.200"},
        )
    assert last.status_code == 429


async def test_the_auth_endpoints_have_their_own_rate_limit(
    database_url: str, tmp_path: Path
) -> None:
    settings = load_settings(
        database_url=database_url, data_dir=tmp_path, embedded_worker=False, **FAST_HASHING
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app), client_for(app, "10.2.0.1") as http:
        statuses = [
            (await http.post("/api/v1/auth/refresh", json={"refresh_token": "x"})).status_code
            for _ in range(15)
        ]
        limited = await http.post("/api/v1/auth/refresh", json={"refresh_token": "x"})
    # 5 per second with a burst of 10: the first ten pass (and fail on the bad token).
    assert statuses[:10] == [401] * 10
    assert 429 in statuses[10:]
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1


async def test_the_rate_limit_holds_across_processes_through_redis(
    database_url: str, tmp_path: Path, redis_url: tuple[str, str]
) -> None:
    """Two app instances (as two API processes) share one bucket in Redis."""
    url, prefix = redis_url
    apps = [
        create_app(
            load_settings(
                database_url=database_url,
                data_dir=tmp_path,
                redis_url=url,
                redis_prefix=prefix,
                **FAST_HASHING,
            )
        )
        for _ in range(2)
    ]
    statuses: list[int] = []
    started = time.monotonic()
    async with apps[0].router.lifespan_context(apps[0]), apps[1].router.lifespan_context(apps[1]):
        for n in range(16):
            async with client_for(apps[n % 2], "10.2.0.9") as http:
                response = await http.post("/api/v1/auth/refresh", json={"refresh_token": "x"})
                statuses.append(response.status_code)
    elapsed = time.monotonic() - started
    assert statuses[:10] == [401] * 10
    # Beyond the burst, only what the 5/s rate refilled meanwhile may pass, whichever process.
    assert statuses.count(401) <= 10 + int(elapsed * 5) + 1
    assert 429 in statuses[10:]
