"""Logging in, refreshing, logging out, and every way a token can be wrong."""

import base64
import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts.models import AuditEvent, RefreshToken
from finagency.accounts.permissions import Role
from finagency.settings import Settings
from tests.fixtures.accounts import PASSWORD, bearer, make_user


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/v1/auth/login", json={"email": email, "password": password})


def _failures(reason: str) -> float:
    return REGISTRY.get_sample_value("finagency_auth_failures_total", {"reason": reason}) or 0.0


async def test_json_login_returns_a_token_pair_with_the_promised_claims(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(db_session, settings, Role.analyst, email="Ana@Example.com")
    response = await login(client, "ANA@example.COM")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15 * 60
    claims = jwt.decode(
        body["access_token"], settings.secret(), algorithms=["HS256"], audience="finagency-api"
    )
    assert claims["sub"] == str(user.id)
    assert claims["role"] == "analyst"
    assert claims["iss"] == "finagency"
    assert claims["exp"] - claims["iat"] == pytest.approx(15 * 60, abs=1)
    assert {"jti", "iat", "exp", "aud"} <= claims.keys()
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.json() == {
        "id": user.id,
        "email": "ana@example.com",
        "role": "analyst",
        "display_name": "Test analyst",
        "totp_enabled": False,
    }


async def test_the_oauth2_form_flow_works_too(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(db_session, settings)
    response = await client.post(
        "/api/v1/auth/token", data={"username": user.email, "password": PASSWORD}
    )
    assert response.status_code == 200
    assert response.json()["refresh_token"].startswith("rt_")


async def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(db_session, settings)
    wrong = await login(client, user.email, "not the password at all")
    unknown = await login(client, "nobody@example.com", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert wrong.headers["www-authenticate"].startswith("Bearer")


async def test_refresh_rotates_and_a_reused_token_revokes_the_family(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(db_session, settings)
    user_id = user.id  # a failed request rolls back and expires the object
    first = (await login(client, user.email)).json()
    second = (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    ).json()
    assert second["refresh_token"] != first["refresh_token"]
    reuse_before = _failures("token_reuse")

    # The first token again: someone kept a copy. The whole family dies, the newer token too.
    reused = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert reused.status_code == 401
    assert reused.headers["www-authenticate"].startswith("Bearer")
    assert _failures("token_reuse") == reuse_before + 1
    newer = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
    )
    assert newer.status_code == 401
    events = await db_session.scalars(
        select(AuditEvent.action).where(AuditEvent.actor_id == user_id)
    )
    assert "token_reuse_detected" in list(events)
    stored = await db_session.scalars(select(RefreshToken.token_hash))
    assert first["refresh_token"] not in list(stored)  # only hashes are kept


async def test_logout_ends_the_access_token_and_the_refresh_family(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(db_session, settings)
    tokens = (await login(client, user.email)).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    out = await client.post(
        "/api/v1/auth/logout", headers=headers, json={"refresh_token": tokens["refresh_token"]}
    )
    assert out.status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 401
    again = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert again.status_code == 401


async def test_a_deactivated_or_deleted_user_is_refused_at_once(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    admin = await make_user(db_session, settings, Role.admin)
    editor = await make_user(db_session, settings, Role.editor)
    viewer = await make_user(db_session, settings, Role.viewer)
    editor_headers, viewer_headers = bearer(settings, editor), bearer(settings, viewer)
    assert (await client.get("/api/v1/auth/me", headers=editor_headers)).status_code == 200

    deactivated = await client.patch(
        f"/api/v1/users/{editor.id}", json={"is_active": False}, headers=bearer(settings, admin)
    )
    assert deactivated.status_code == 200
    assert (await client.get("/api/v1/auth/me", headers=editor_headers)).status_code == 401

    deleted = await client.delete(f"/api/v1/users/{viewer.id}", headers=bearer(settings, admin))
    assert deleted.status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=viewer_headers)).status_code == 401


async def test_changing_the_password_ends_earlier_tokens(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(db_session, settings)
    tokens = (await login(client, user.email)).json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    changed = await client.post(
        "/api/v1/auth/password",
        headers=headers,
        json={"current_password": PASSWORD, "new_password": "plum-velvet-harbour-73"},
    )
    assert changed.status_code == 204
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 401
    refreshed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert refreshed.status_code == 401
    assert (await login(client, user.email, "plum-velvet-harbour-73")).status_code == 200


def _forge(claims: dict[str, object], key: str, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=algorithm)


def _unsigned(claims: dict[str, object]) -> str:
    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("alg_none", "bad_token"),
        ("wrong_key", "bad_token"),
        ("wrong_audience", "bad_token"),
        ("wrong_issuer", "bad_token"),
        ("expired", "expired"),
        ("future_iat", "bad_token"),
        ("missing_jti", "bad_token"),
        ("garbage", "bad_token"),
    ],
)
async def test_tampered_tokens_get_401_with_www_authenticate(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    settings: Settings,
    case: str,
    reason: str,
) -> None:
    user = await make_user(db_session, settings, Role.admin)
    now = int(time.time())
    claims: dict[str, object] = {
        "sub": str(user.id),
        "role": "admin",
        "jti": "j1",
        "iat": now,
        "exp": now + 600,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
    }
    key = settings.secret()
    tokens = {
        "alg_none": _unsigned(claims),
        "wrong_key": _forge(claims, "another-secret-another-secret-another-secret"),
        "wrong_audience": _forge({**claims, "aud": "someone-else"}, key),
        "wrong_issuer": _forge({**claims, "iss": "someone-else"}, key),
        "expired": _forge({**claims, "iat": now - 3600, "exp": now - 1800}, key),
        "future_iat": _forge({**claims, "iat": now + 3600, "exp": now + 7200}, key),
        "missing_jti": _forge({k: v for k, v in claims.items() if k != "jti"}, key),
        "garbage": "not.a.token",
    }
    before = _failures(reason)
    response = await client.get(
        "/api/v1/users", headers={"Authorization": f"Bearer {tokens[case]}"}
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="finagency"'
    assert response.headers["content-type"] == "application/problem+json"
    assert _failures(reason) == before + 1


async def test_a_valid_forged_looking_token_is_accepted_only_when_ours(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    """Control for the test above: the same claims signed with our key do work."""
    user = await make_user(db_session, settings, Role.admin)
    now = round(time.time(), 3)  # after the user was created: not revoked by creation time
    token = _forge(
        {
            "sub": str(user.id),
            "role": "admin",
            "jti": "j2",
            "iat": now,
            "exp": int(now) + 600,
            "iss": settings.jwt_issuer,
            "aud": settings.jwt_audience,
        },
        settings.secret(),
    )
    response = await client.get("/api/v1/users", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"email": "a@example.com"},
        {"email": "not-an-email", "password": "x"},
        {"email": "a@example.com", "password": "x" * 5000},
        {"email": "a" * 300 + "@example.com", "password": "x"},
        {"email": "a@example.com", "password": "x", "admin": True},
        {"email": ["a@example.com"], "password": "x"},
    ],
)
async def test_malformed_login_bodies_get_422(
    client: httpx.AsyncClient, body: dict[str, object]
) -> None:
    response = await client.post("/api/v1/auth/login", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "x" * 100 not in response.text  # the overlong value is not echoed back


async def test_no_credential_appears_in_responses_or_logs(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    settings: Settings,
    capfd: pytest.CaptureFixture[str],
) -> None:
    user = await make_user(db_session, settings)
    password_hash = user.password_hash
    response = await login(client, user.email)
    tokens = response.json()
    bad = await client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": "wrong-password-xyz"}
    )
    await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    captured = capfd.readouterr()
    logs = captured.out + captured.err
    for secret in (PASSWORD, "wrong-password-xyz", tokens["access_token"], tokens["refresh_token"]):
        assert secret not in logs
        assert secret not in bad.text
    assert password_hash not in logs


async def test_refresh_tokens_expire(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    user = await make_user(db_session, settings)
    tokens = (await login(client, user.email)).json()
    row = (
        await db_session.scalars(select(RefreshToken).where(RefreshToken.user_id == user.id))
    ).one()
    row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    await db_session.flush()
    response = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    assert response.status_code == 401


async def test_a_login_upgrades_a_hash_made_with_older_parameters(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    from finagency.accounts import passwords
    from finagency.accounts.models import User
    from finagency.settings import load_settings

    older = load_settings(
        data_dir=settings.data_dir,
        password_hash_time_cost=2,
        password_hash_memory_kib=16,
        password_hash_parallelism=1,
    )
    user = await make_user(db_session, settings)
    old_hash = passwords.hash_password(older, PASSWORD)
    row = await db_session.get(User, user.id)
    assert row is not None
    row.password_hash = old_hash
    await db_session.commit()
    assert (await login(client, user.email)).status_code == 200
    await db_session.refresh(row)
    assert row.password_hash != old_hash
    assert not passwords.needs_rehash(settings, row.password_hash)
    assert (await login(client, user.email)).status_code == 200
