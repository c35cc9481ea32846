"""The token life cycle with shared state in Redis (full stack) as well as in memory (embedded)."""

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts.permissions import Role
from finagency.settings import Settings
from tests.fixtures.accounts import PASSWORD, bearer, client_for, make_user


async def test_login_refresh_and_logout(stack_app: FastAPI, db_session: AsyncSession) -> None:
    settings: Settings = stack_app.state.settings
    user = await make_user(db_session, settings)
    async with client_for(stack_app, "10.3.0.1") as http:
        tokens = (
            await http.post("/api/v1/auth/login", json={"email": user.email, "password": PASSWORD})
        ).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert (await http.get("/api/v1/auth/me", headers=headers)).status_code == 200
        rotated = await http.post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
        assert rotated.status_code == 200
        out = await http.post("/api/v1/auth/logout", headers=headers)
        assert out.status_code == 204
        # The revoked token id is kept in the store (Redis here) until the token expires.
        assert (await http.get("/api/v1/auth/me", headers=headers)).status_code == 401


async def test_an_admin_resets_a_password_and_unlocks_an_account(
    stack_app: FastAPI, db_session: AsyncSession
) -> None:
    settings: Settings = stack_app.state.settings
    admin = await make_user(db_session, settings, Role.admin)
    user = await make_user(db_session, settings)
    async with client_for(stack_app, "10.3.0.2") as http:
        for _ in range(5):
            await http.post(
                "/api/v1/auth/login", json={"email": user.email, "password": "wrong-password-1"}
            )
        locked = await http.post(
            "/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}
        )
        assert locked.status_code == 423
        unlocked = await http.post(
            f"/api/v1/users/{user.id}/unlock", headers=bearer(settings, admin)
        )
        assert unlocked.status_code == 204
        reset = await http.post(
            f"/api/v1/users/{user.id}/reset-password",
            json={"new_password": "plum-velvet-harbour-73"},
            headers=bearer(settings, admin),
        )
        assert reset.status_code == 204
        old = await http.post(
            "/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}
        )
        new = await http.post(
            "/api/v1/auth/login",
            json={"email": user.email, "password": "plum-velvet-harbour-73"},
        )
    assert old.status_code == 401
    assert new.status_code == 200
