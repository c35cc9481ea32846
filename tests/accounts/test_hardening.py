"""Attacks and races found in review: each is a regression test now."""

import asyncio
import re
from email import message_from_bytes
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts import passwords
from finagency.accounts.permissions import Role
from finagency.settings import ConfigurationError, Settings, load_settings
from tests.fixtures.accounts import PASSWORD, bearer, client_for, make_user
from tests.fixtures.services import own_redis

NEW_PASSWORD = "plum-velvet-harbour-73"


async def test_guessing_the_current_password_locks_the_account(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(db_session, settings)
    headers = bearer(settings, user)
    statuses = [
        (
            await client.post(
                "/api/v1/auth/password",
                json={"current_password": f"guess-number-{n}", "new_password": NEW_PASSWORD},
                headers=headers,
            )
        ).status_code
        for n in range(5)
    ]
    assert statuses == [400, 400, 400, 400, 423]
    login = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}
    )
    assert login.status_code == 423


def test_an_unusable_hash_costs_a_real_verification(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    burned: list[str] = []
    monkeypatch.setattr(passwords, "burn_verification", lambda s, p: burned.append(p))
    assert not passwords.verify_password(settings, "!invited-not-yet-chosen", "anything")
    assert burned == ["anything"]


async def test_logout_without_a_refresh_token_still_ends_the_login(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(db_session, settings)
    tokens = (
        await client.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
    ).json()
    out = await client.post(
        "/api/v1/auth/logout", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert out.status_code == 204
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 401


async def test_an_admin_reset_by_link_stops_the_old_password_at_once(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    admin = await make_user(db_session, settings, Role.admin)
    user = await make_user(db_session, settings)
    reset = await client.post(
        f"/api/v1/users/{user.id}/reset-password", headers=bearer(settings, admin)
    )
    assert reset.status_code == 204
    login = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}
    )
    assert login.status_code == 401


@pytest.mark.parametrize(
    "email", ["x\r\nbcc:y@example.com", "a\tb@example.com", "a b@example.com", "a@example."]
)
async def test_addresses_with_control_characters_are_refused(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, email: str
) -> None:
    admin = await make_user(db_session, settings, Role.admin)
    response = await client.post(
        "/api/v1/users",
        json={"email": email, "display_name": "X", "role": "viewer", "password": NEW_PASSWORD},
        headers=bearer(settings, admin),
    )
    assert response.status_code == 422


async def test_a_password_typed_as_the_username_is_not_recorded(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    admin = await make_user(db_session, settings, Role.admin)
    form = await client.post(
        "/api/v1/auth/token", data={"username": "MySecretPassw0rd!", "password": "x"}
    )
    assert form.status_code == 422
    export = await client.get(
        "/api/v1/audit", params={"action": "login_failed"}, headers=bearer(settings, admin)
    )
    assert "MySecretPassw0rd" not in export.text


async def test_an_overlong_forwarded_address_is_no_500(stack_app: FastAPI) -> None:
    async with client_for(stack_app, "127.0.0.1") as proxy:
        response = await proxy.post(
            "/api/v1/auth/login",
            json={"email": "x@example.com", "password": "wrong-password"},
            headers={"X-Forwarded-For": "1" * 80},
        )
    assert response.status_code == 401


def test_a_wildcard_cors_origin_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="FINAGENCY_CORS_ORIGINS"):
        load_settings(data_dir=tmp_path, cors_origins="*")


async def test_concurrent_registrations_of_one_address_all_get_the_same_answer(
    live_client: httpx.AsyncClient,
) -> None:
    body = {"email": "twins@example.com", "display_name": "Twin", "password": NEW_PASSWORD}
    responses = await asyncio.gather(
        *(live_client.post("/api/v1/auth/register", json=body) for _ in range(3))
    )
    assert [r.status_code for r in responses] == [202, 202, 202]


async def test_a_reset_link_wins_only_once_under_concurrency(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    async with live_app.state.database.session() as session:
        user = await make_user(session, live_app.state.settings)
    await live_client.post("/api/v1/auth/password-reset", json={"email": user.email})
    folder = Path(live_app.state.settings.data_dir) / "mail"
    for _ in range(200):
        if folder.exists() and list(folder.glob("*.eml")):
            break
        await asyncio.sleep(0.05)
    [mail] = list(folder.glob("*.eml"))
    assert oct(mail.stat().st_mode & 0o777) == "0o600"
    body = message_from_bytes(mail.read_bytes()).get_payload(decode=True)
    assert isinstance(body, bytes)
    found = re.search(r"token=([\w-]+)", body.decode())
    assert found
    token = found.group(1)
    responses = await asyncio.gather(
        *(
            live_client.post(
                "/api/v1/auth/password-reset/confirm",
                json={"token": token, "new_password": NEW_PASSWORD + str(n)},
            )
            for n in range(3)
        )
    )
    assert sorted(r.status_code for r in responses) == [204, 400, 400]


async def test_redis_going_away_is_a_503_not_a_500(
    database_url: str, tmp_path: Path, db_session: AsyncSession
) -> None:
    from finagency.app import create_app
    from tests.fixtures.accounts import FAST_HASHING

    with own_redis() as redis_server:
        settings = load_settings(
            database_url=database_url,
            data_dir=tmp_path,
            redis_url=redis_server.url,
            redis_prefix="t:",
            **FAST_HASHING,
        )
        app = create_app(settings)
        user = await make_user(db_session, settings)
        async with app.router.lifespan_context(app), client_for(app, "10.4.0.1") as http:
            redis_server.stop()
            response = await http.get("/api/v1/auth/me", headers=bearer(settings, user))
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "5"
