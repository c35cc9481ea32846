"""The optional second factor: enrol, confirm, log in with a code or a recovery code."""

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pyotp
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts.models import User
from finagency.accounts.permissions import Role
from finagency.app import create_app
from finagency.db import get_session
from finagency.settings import Settings, load_settings
from tests.fixtures.accounts import FAST_HASHING, PASSWORD, bearer, make_user


async def _enrol(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> tuple[pyotp.TOTP, list[str], str]:
    """Enrol and confirm; returns the generator, the recovery codes and the code used."""
    started = await client.post("/api/v1/auth/totp", json={"password": PASSWORD}, headers=headers)
    assert started.status_code == 200, started.text
    body = started.json()
    assert body["otpauth_uri"].startswith("otpauth://totp/")
    assert "AI%20Finance%20Agency" in body["otpauth_uri"]
    totp = pyotp.TOTP(body["secret"])
    used = totp.now()
    confirmed = await client.post("/api/v1/auth/totp/confirm", json={"code": used}, headers=headers)
    assert confirmed.status_code == 200, confirmed.text
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == 10
    return totp, codes, used


async def _login(client: httpx.AsyncClient, email: str, code: str | None) -> httpx.Response:
    body = {"email": email, "password": PASSWORD}
    if code is not None:
        body["totp_code"] = code
    return await client.post("/api/v1/auth/login", json=body)


async def test_with_a_second_factor_a_login_needs_a_fresh_code(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(db_session, settings)
    totp, _, used = await _enrol(client, bearer(settings, user))

    missing = await _login(client, user.email, None)
    assert missing.status_code == 401
    assert missing.json()["type"].endswith("second-factor-required")
    wrong = await _login(client, user.email, "000000" if used != "000000" else "111111")
    assert wrong.status_code == 401
    # The code used to confirm cannot be used again (no replay).
    replayed = await _login(client, user.email, used)
    assert replayed.status_code == 401


async def test_enrolment_asks_for_the_password(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(db_session, settings)
    refused = await client.post(
        "/api/v1/auth/totp", json={"password": "not-the-password"}, headers=bearer(settings, user)
    )
    assert refused.status_code == 400
    stored = await db_session.scalar(select(User.totp_secret).where(User.id == user.id))
    assert stored is None


async def test_codes_that_are_not_ascii_digits_are_refused_not_a_500(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(db_session, settings)
    headers = bearer(settings, user)
    await client.post("/api/v1/auth/totp", json={"password": PASSWORD}, headers=headers)
    for code in ("١٢٣٤٥٦", "12345a", "１２３４５６"):
        response = await client.post(
            "/api/v1/auth/totp/confirm", json={"code": code}, headers=headers
        )
        assert response.status_code == 400


async def test_a_recovery_code_works_once(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(db_session, settings)
    _, codes, _ = await _enrol(client, bearer(settings, user))
    first = await _login(client, user.email, codes[0].upper())
    assert first.status_code == 200
    again = await _login(client, user.email, codes[0])
    assert again.status_code == 401
    assert (await _login(client, user.email, codes[1])).status_code == 200


async def test_the_secret_is_stored_encrypted(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(db_session, settings)
    secret = (
        await client.post(
            "/api/v1/auth/totp", json={"password": PASSWORD}, headers=bearer(settings, user)
        )
    ).json()["secret"]
    stored = await db_session.scalar(select(User.totp_secret).where(User.id == user.id))
    assert stored
    assert secret not in stored


async def test_disabling_needs_the_password_and_a_code(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(db_session, settings)
    headers = bearer(settings, user)
    _, codes, _ = await _enrol(client, headers)
    refused = await client.post(
        "/api/v1/auth/totp/disable",
        json={"password": "wrong-password-1", "code": codes[0]},
        headers=headers,
    )
    assert refused.status_code == 400
    done = await client.post(
        "/api/v1/auth/totp/disable",
        json={"password": PASSWORD, "code": codes[1]},
        headers=headers,
    )
    assert done.status_code == 204
    assert (await _login(client, user.email, None)).status_code == 200


async def test_an_admin_removes_a_lost_second_factor(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    admin = await make_user(db_session, settings, Role.admin)
    user = await make_user(db_session, settings)
    await _enrol(client, bearer(settings, user))
    assert (await _login(client, user.email, None)).status_code == 401
    removed = await client.post(
        f"/api/v1/users/{user.id}/reset-totp", headers=bearer(settings, admin)
    )
    assert removed.status_code == 204
    assert (await _login(client, user.email, None)).status_code == 200


async def test_a_code_wins_only_once_under_concurrency(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    async with live_app.state.database.session() as session:
        user = await make_user(session, live_app.state.settings)
    totp, _, _ = await _enrol(live_client, bearer(live_app.state.settings, user))
    # A fresh step's code, sent three times at once.
    code = totp.at(int(time.time()) + 30)
    responses = await asyncio.gather(*(_login(live_client, user.email, code) for _ in range(3)))
    assert sorted(r.status_code for r in responses) == [200, 401, 401]


async def test_a_setting_can_require_it_for_admins(
    database_url: str, tmp_path: Path, db_session: AsyncSession
) -> None:
    settings = load_settings(
        database_url=database_url,
        data_dir=tmp_path,
        embedded_worker=False,
        require_admin_totp=True,
        **FAST_HASHING,
    )
    app: FastAPI = create_app(settings)

    async def _session() -> AsyncIterator[AsyncSession]:
        yield db_session
        await db_session.commit()

    app.dependency_overrides[get_session] = _session
    admin = await make_user(db_session, settings, Role.admin)
    editor = await make_user(db_session, settings, Role.editor)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        headers = bearer(settings, admin)
        blocked = await client.get("/api/v1/users", headers=headers)
        assert blocked.status_code == 403
        assert "second factor" in blocked.json()["detail"]
        # Editors are not concerned; the admin can still enrol.
        assert (await client.get("/api/v1/auth/me", headers=bearer(settings, editor))).is_success
        await _enrol(client, headers)
        assert (await client.get("/api/v1/users", headers=headers)).status_code == 200
