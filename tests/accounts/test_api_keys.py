import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts.models import ApiKey
from finagency.accounts.permissions import Role
from finagency.settings import Settings
from tests.fixtures.accounts import bearer, make_user


async def test_a_key_is_shown_once_listed_by_prefix_and_stored_hashed(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    admin = await make_user(db_session, settings, Role.admin)
    headers = bearer(settings, admin)
    created = await client.post(
        "/api/v1/api-keys", json={"name": "nightly report", "scopes": ["read"]}, headers=headers
    )
    assert created.status_code == 201
    body = created.json()
    key = body["key"]
    assert key.startswith(f"fa_{body['prefix']}_")
    listed = (await client.get("/api/v1/api-keys", headers=headers)).json()
    assert [k["prefix"] for k in listed] == [body["prefix"]]
    assert key not in str(listed)
    stored = (await db_session.scalars(select(ApiKey))).one()
    assert stored.key_hash != key
    assert key not in stored.key_hash


async def test_a_key_of_an_admin_with_every_scope_still_cannot_administer(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    admin = await make_user(db_session, settings, Role.admin)
    key = (
        await client.post(
            "/api/v1/api-keys",
            json={"name": "all scopes", "scopes": ["read", "content:write", "publish"]},
            headers=bearer(settings, admin),
        )
    ).json()["key"]
    headers = {"X-API-Key": key}
    assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200
    assert (await client.get("/api/v1/users", headers=headers)).status_code == 403
    assert (await client.get("/api/v1/audit", headers=headers)).status_code == 403
    # Nor does it touch its owner's own credentials.
    password = await client.post(
        "/api/v1/auth/password",
        json={"current_password": "x", "new_password": "plum-velvet-harbour-73"},
        headers=headers,
    )
    assert password.status_code == 403
    enrol = await client.post("/api/v1/auth/totp", json={"password": "x"}, headers=headers)
    assert enrol.status_code == 403


async def test_a_key_acts_within_its_scopes_and_its_owner_role(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    admin = await make_user(db_session, settings, Role.admin)
    bot = await make_user(db_session, settings, Role.editor)
    created = await client.post(
        "/api/v1/api-keys",
        json={"name": "publisher bot", "scopes": ["read", "publish"], "user_id": bot.id},
        headers=bearer(settings, admin),
    )
    key = created.json()["key"]
    me = await client.get("/api/v1/auth/me", headers={"X-API-Key": key})
    assert me.status_code == 200
    assert me.json()["email"] == bot.email
    # Administration is never done with a key, even one of an admin.
    refused = await client.get("/api/v1/users", headers={"X-API-Key": key})
    assert refused.status_code == 403
    row = (await db_session.scalars(select(ApiKey))).one()
    await db_session.refresh(row)
    assert row.last_used_at is not None


async def test_a_revoked_or_made_up_key_is_refused(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    admin = await make_user(db_session, settings, Role.admin)
    headers = bearer(settings, admin)
    created = (
        await client.post(
            "/api/v1/api-keys", json={"name": "old", "scopes": ["read"]}, headers=headers
        )
    ).json()
    assert (await client.get("/api/v1/auth/me", headers={"X-API-Key": created["key"]})).is_success
    revoked = await client.delete(f"/api/v1/api-keys/{created['id']}", headers=headers)
    assert revoked.status_code == 204
    after = await client.get("/api/v1/auth/me", headers={"X-API-Key": created["key"]})
    assert after.status_code == 401
    made_up = await client.get("/api/v1/auth/me", headers={"X-API-Key": "fa_abcdefgh_nope"})
    assert made_up.status_code == 401


async def test_bad_scopes_are_a_422(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    admin = await make_user(db_session, settings, Role.admin)
    response = await client.post(
        "/api/v1/api-keys",
        json={"name": "x", "scopes": ["everything"]},
        headers=bearer(settings, admin),
    )
    assert response.status_code == 422
