"""The dashboard's cookie session: sign-in form, cookie flags, CSRF on every unsafe call."""

import re
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.settings import Settings
from tests.fixtures.accounts import PASSWORD, make_user


def _hidden_token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


async def _sign_in(
    client: httpx.AsyncClient, email: str, password: str = PASSWORD
) -> httpx.Response:
    form = await client.get("/login")
    return await client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": _hidden_token(form.text)},
    )


async def test_the_sign_in_form_needs_its_csrf_token(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(db_session, settings)
    page = await client.get("/login")
    assert page.status_code == 200
    assert "script" not in page.text  # no inline script: a strict CSP holds
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    forged = await client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "csrf_token": "guess"}
    )
    assert forged.status_code == 403
    assert "finagency_session" not in forged.cookies


async def test_signing_in_sets_a_guarded_cookie_and_the_api_accepts_it(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(db_session, settings)
    response = await _sign_in(client, user.email)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith("finagency_session=")
    )
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie  # development: plain http on localhost
    home = await client.get("/")
    assert home.status_code == 200
    assert user.email in home.text
    me = await client.get("/api/v1/auth/me")
    assert me.json()["email"] == user.email


async def test_unsafe_calls_with_the_cookie_need_the_csrf_token(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(db_session, settings)
    await _sign_in(client, user.email)
    token = _hidden_token((await client.get("/")).text)
    refused = await client.post("/api/v1/auth/logout")
    assert refused.status_code == 403
    assert refused.json()["type"].endswith("/csrf")
    done = await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": token})
    assert done.status_code == 204
    assert (await client.get("/api/v1/auth/me")).status_code == 401


async def test_the_logout_form_ends_the_session(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(db_session, settings)
    await _sign_in(client, user.email)
    token = _hidden_token((await client.get("/")).text)
    forged = await client.post("/logout", data={"csrf_token": "guess"})
    assert forged.status_code == 403
    out = await client.post("/logout", data={"csrf_token": token})
    assert out.status_code == 303
    assert (await client.get("/", follow_redirects=False)).headers["location"] == "/login"


async def test_the_form_shows_the_lockout(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(db_session, settings)
    for _ in range(4):
        wrong = await _sign_in(client, user.email, "wrong-password-123")
        assert wrong.status_code == 401
        assert "Wrong e-mail address or password." in wrong.text
    locked = await _sign_in(client, user.email, "wrong-password-123")
    assert locked.status_code == 423
    assert "locked" in locked.text
    assert int(locked.headers["retry-after"]) > 0


async def test_outside_development_the_cookie_is_secure(
    database_url: str, tmp_path: Path, db_session: AsyncSession
) -> None:
    from collections.abc import AsyncIterator

    from finagency.app import create_app
    from finagency.db import get_session
    from finagency.settings import load_settings
    from tests.fixtures.accounts import FAST_HASHING

    settings = load_settings(
        env="staging",
        secret_key="s" * 40,
        database_url=database_url,
        data_dir=tmp_path,
        embedded_worker=False,
        **FAST_HASHING,
    )
    app: FastAPI = create_app(settings)

    async def _session() -> AsyncIterator[AsyncSession]:
        yield db_session
        await db_session.commit()

    app.dependency_overrides[get_session] = _session
    user = await make_user(db_session, settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="https://testserver") as client,
    ):
        response = await _sign_in(client, user.email)
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith("finagency_session=")
    )
    assert "Secure" in cookie
