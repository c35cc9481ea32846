"""The security metrics the alerts watch move when their events happen."""

import httpx
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.settings import Settings
from tests.fixtures.accounts import PASSWORD, make_user


def _value(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


def _gauge(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not exported")


async def test_login_and_registration_counters(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(db_session, settings)
    success = _value("finagency_logins_total", {"result": "success"})
    failure = _value("finagency_logins_total", {"result": "failure"})
    registrations = _value("finagency_user_registrations_total")
    missing = _value("finagency_auth_failures_total", {"reason": "missing"})

    await client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": "nope-nope-nope"}
    )
    await client.post(
        "/api/v1/auth/register",
        json={
            "email": "fresh@example.com",
            "display_name": "F",
            "password": "plum-velvet-harbour-73",
        },
    )
    await client.get("/api/v1/auth/me")

    assert _value("finagency_logins_total", {"result": "success"}) == success + 1
    assert _value("finagency_logins_total", {"result": "failure"}) == failure + 1
    assert _value("finagency_user_registrations_total") == registrations + 1
    assert _value("finagency_auth_failures_total", {"reason": "missing"}) == missing + 1


async def test_active_sessions_follow_logins_and_logouts(
    live_client: httpx.AsyncClient, live_app: object
) -> None:
    from fastapi import FastAPI

    assert isinstance(live_app, FastAPI)
    async with live_app.state.database.session() as session:
        user = await make_user(session, live_app.state.settings)
    before = _gauge((await live_client.get("/metrics")).text, "finagency_active_sessions")
    tokens = (
        await live_client.post(
            "/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}
        )
    ).json()
    during = _gauge((await live_client.get("/metrics")).text, "finagency_active_sessions")
    await live_client.post(
        "/api/v1/auth/logout",
        json={"refresh_token": tokens["refresh_token"]},
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    after = _gauge((await live_client.get("/metrics")).text, "finagency_active_sessions")
    assert (before, during, after) == (0, 1, 0)
