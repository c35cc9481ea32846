"""Every route of the OpenAPI document, called by every role and by nobody.

Each route declares what it needs with `require(Permission.x)` (or `authenticated()`); a route
that declares nothing must be in PUBLIC. Refused calls must get 401 (no credentials) or 403;
allowed calls must get neither, and no 5xx.
"""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts import sessions
from finagency.accounts.audit import Actor
from finagency.accounts.dependencies import SESSION_COOKIE
from finagency.accounts.models import User
from finagency.accounts.permissions import Permission, Role, Scope, key_allows, role_allows
from finagency.api import FEATURE_ROUTERS
from finagency.settings import Settings, load_settings
from finagency.system.router import router as system_router
from tests.fixtures.accounts import FAST_HASHING, UserRef, bearer, make_user
from tests.fixtures.market import simulated_snapshot

PUBLIC = {
    ("GET", "/health"),
    ("GET", "/ready"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/password-reset"),
    ("POST", "/api/v1/auth/password-reset/confirm"),
}
UNDECLARED = object()
SIGNED_IN = None
# What each route must require, written down here a second time on purpose: a route whose
# declaration drifts from the role table of the issues fails this test.
EXPECTED: dict[tuple[str, str], Permission | None] = {
    ("POST", "/api/v1/auth/logout"): SIGNED_IN,
    ("GET", "/api/v1/auth/me"): SIGNED_IN,
    ("POST", "/api/v1/auth/password"): SIGNED_IN,
    ("POST", "/api/v1/auth/totp"): SIGNED_IN,
    ("POST", "/api/v1/auth/totp/confirm"): SIGNED_IN,
    ("POST", "/api/v1/auth/totp/disable"): SIGNED_IN,
    ("POST", "/api/v1/users"): Permission.manage_users,
    ("GET", "/api/v1/users"): Permission.manage_users,
    ("GET", "/api/v1/users/{user_id}"): Permission.manage_users,
    ("PATCH", "/api/v1/users/{user_id}"): Permission.manage_users,
    ("DELETE", "/api/v1/users/{user_id}"): Permission.manage_users,
    ("POST", "/api/v1/users/{user_id}/reset-password"): Permission.manage_users,
    ("POST", "/api/v1/users/{user_id}/unlock"): Permission.manage_users,
    ("POST", "/api/v1/users/{user_id}/reset-totp"): Permission.manage_users,
    ("POST", "/api/v1/api-keys"): Permission.manage_keys,
    ("GET", "/api/v1/api-keys"): Permission.manage_keys,
    ("DELETE", "/api/v1/api-keys/{key_id}"): Permission.manage_keys,
    ("GET", "/api/v1/audit"): Permission.read_audit,
    ("GET", "/api/v1/audit/export"): Permission.read_audit,
    ("GET", "/api/v1/settings"): Permission.manage_settings,
    ("PATCH", "/api/v1/settings"): Permission.manage_settings,
    ("GET", "/api/v1/analytics/summary"): Permission.read,
    ("GET", "/api/v1/compliance/settings"): Permission.read,
    ("PATCH", "/api/v1/compliance/settings"): Permission.manage_settings,
    ("GET", "/api/v1/compliance/settings/history"): Permission.read_audit,
    ("GET", "/api/v1/compliance/rules"): Permission.read,
    ("POST", "/api/v1/content/requests"): Permission.request_content,
    ("GET", "/api/v1/content/requests/{request_id}"): Permission.read,
    ("POST", "/api/v1/content/requests/{request_id}/retry"): Permission.request_content,
    ("GET", "/api/v1/content/export"): Permission.read_audit,
    ("POST", "/api/v1/channels"): Permission.manage_channels,
    ("GET", "/api/v1/channels"): Permission.read,
    ("GET", "/api/v1/channels/{channel_id}"): Permission.read,
    ("PATCH", "/api/v1/channels/{channel_id}"): Permission.manage_channels,
    ("POST", "/api/v1/channels/{channel_id}/verify"): Permission.manage_channels,
    ("POST", "/api/v1/publications"): Permission.publish,
    ("GET", "/api/v1/publications"): Permission.read,
    ("GET", "/api/v1/publications/{publication_id}"): Permission.read,
    ("PATCH", "/api/v1/publications/{publication_id}"): Permission.publish,
    ("POST", "/api/v1/publications/{publication_id}/cancel"): Permission.publish,
    ("POST", "/api/v1/publications/{publication_id}/retry"): Permission.publish,
    ("POST", "/api/v1/publications/{publication_id}/resolve"): Permission.publish,
    ("POST", "/api/v1/publications/{publication_id}/retract"): Permission.publish,
    ("GET", "/api/v1/publishing/status"): Permission.read,
    ("POST", "/api/v1/publishing/pause"): Permission.manage_settings,
    ("POST", "/api/v1/publishing/resume"): Permission.manage_settings,
    ("GET", "/api/v1/content"): Permission.read,
    ("GET", "/api/v1/content/{content_id}"): Permission.read,
    ("GET", "/api/v1/content/{content_id}/findings"): Permission.read,
    ("GET", "/api/v1/content/{content_id}/revisions"): Permission.read,
    ("PATCH", "/api/v1/content/{content_id}"): Permission.edit_content,
    ("POST", "/api/v1/content/{content_id}/submit"): Permission.request_content,
    ("POST", "/api/v1/content/{content_id}/approve"): Permission.approve_content,
    ("POST", "/api/v1/content/{content_id}/reject"): Permission.approve_content,
    ("POST", "/api/v1/content/{content_id}/override"): Permission.override_compliance,
    ("POST", "/api/v1/content/schedules"): Permission.edit_content,
    ("GET", "/api/v1/content/schedules"): Permission.read,
    ("GET", "/api/v1/content/schedules/{schedule_id}"): Permission.read,
    ("PATCH", "/api/v1/content/schedules/{schedule_id}"): Permission.edit_content,
    ("DELETE", "/api/v1/content/schedules/{schedule_id}"): Permission.edit_content,
    ("GET", "/api/v1/market/instruments"): Permission.read,
    ("GET", "/api/v1/market/quotes"): Permission.read,
    ("GET", "/api/v1/market/snapshots/latest"): Permission.read,
    ("GET", "/api/v1/market/snapshots/{snapshot_id}"): Permission.read,
    ("POST", "/api/v1/market/refresh"): Permission.edit_content,
    ("GET", "/api/v1/market/refreshes/{refresh_id}"): Permission.read,
    ("GET", "/api/v1/market/{symbol}/history"): Permission.read,
    ("GET", "/api/v1/market/{symbol}/indicators"): Permission.read,
    ("POST", "/api/v1/media"): Permission.request_content,
    ("GET", "/api/v1/media/{media_id}"): Permission.read,
    ("GET", "/api/v1/content/{content_id}/media"): Permission.read,
    ("POST", "/api/v1/content/{content_id}/media"): Permission.request_content,
    ("DELETE", "/api/v1/content/{content_id}/media/{media_id}"): Permission.edit_content,
    ("GET", "/api/v1/watchlists"): Permission.read,
    ("POST", "/api/v1/watchlists"): Permission.request_content,
    ("GET", "/api/v1/watchlists/{watchlist_id}"): Permission.read,
    ("PATCH", "/api/v1/watchlists/{watchlist_id}"): Permission.request_content,
    ("DELETE", "/api/v1/watchlists/{watchlist_id}"): Permission.request_content,
    ("GET", "/api/v1/research/ideas"): Permission.read,
    ("POST", "/api/v1/research/ideas/{idea_id}/dismiss"): Permission.edit_content,
    ("GET", "/api/v1/research/keywords"): Permission.read,
    ("GET", "/api/v1/research/feeds"): Permission.read,
    ("POST", "/api/v1/research/feeds"): Permission.manage_settings,
    ("DELETE", "/api/v1/research/feeds/{feed_id}"): Permission.manage_settings,
    ("POST", "/api/v1/research/refresh"): Permission.edit_content,
}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # No rate limit in the way: this test makes hundreds of calls from one address.
    return load_settings(
        database_url=database_url,
        data_dir=tmp_path,
        embedded_worker=False,
        auth_rate_per_second=10_000,
        auth_rate_burst=10_000,
        **FAST_HASHING,
    )


def _routes() -> Iterator[APIRoute]:
    for router in [*FEATURE_ROUTERS, system_router]:
        for route in router.routes:
            if isinstance(route, APIRoute):
                yield route


def _dependency(route: APIRoute) -> Any:
    """The route's access dependency (the function `require` made), or None."""
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if getattr(dependency.call, "signed_in", False):
            return dependency.call
        pending.extend(dependency.dependencies)
    return None


def _declared(route: APIRoute) -> Any:
    """The permission a route declares: a Permission, None (any signed-in caller) or none."""
    dependency = _dependency(route)
    return UNDECLARED if dependency is None else getattr(dependency, "permission", None)


VIAS = ["token", "api_key", "cookie", "cookie_without_csrf"]
ALL_SCOPES = [scope.value for scope in Scope]


async def _credentials(
    db_session: AsyncSession,
    settings: Settings,
    users: dict[Role, UserRef],
    role: Role | None,
    via: str,
) -> dict[str, str]:
    """Fresh credentials for each call (a call may well be a logout)."""
    if role is None:
        return {}
    if via == "token":
        return bearer(settings, users[role])
    user = await db_session.get(User, users[role].id)
    assert user is not None
    if via == "api_key":
        _, key = await sessions.create_api_key(
            db_session, Actor(), user, "matrix", [Scope(s) for s in ALL_SCOPES]
        )
        await db_session.commit()
        return {"X-API-Key": key}
    cookie, web_session = await sessions.start_web_session(db_session, settings, user)
    csrf = web_session.csrf_token
    await db_session.commit()
    headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
    if via == "cookie":
        headers["X-CSRF-Token"] = csrf
    return headers


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "999999", path)


async def test_every_route_refuses_and_admits_exactly_by_role(
    client: httpx.AsyncClient, app: FastAPI, db_session: AsyncSession, settings: Settings
) -> None:
    spec = app.openapi()
    routes = {(m, route.path): route for route in _routes() for m in route.methods or ()}
    users = {role: await make_user(db_session, settings, role) for role in Role}
    # Market data exists, so that reads answer with data rather than "not yet" (503).
    await simulated_snapshot(db_session, settings)
    problems: list[str] = []
    checked = 0
    for path, operations in spec["paths"].items():
        for method in operations:
            key = (method.upper(), path)
            route = routes.get(key)
            if route is None:
                problems.append(f"{key}: not in FEATURE_ROUTERS or the system router")
                continue
            declared = _declared(route)
            if declared is UNDECLARED:
                if key not in PUBLIC:
                    problems.append(f"{key}: declares no permission and is not listed as public")
                    continue
            elif key in PUBLIC:
                problems.append(f"{key}: listed as public but declares {declared}")
            elif key not in EXPECTED:
                problems.append(f"{key}: add its permission to EXPECTED")
            elif declared != EXPECTED[key]:
                problems.append(f"{key}: declares {declared}, expected {EXPECTED[key]}")
            callers: list[tuple[Role | None, str]] = [(None, "anonymous")] + [
                (role, via) for role in Role for via in VIAS
            ]
            for role, via in callers:
                headers = await _credentials(db_session, settings, users, role, via)
                response = await client.request(
                    method.upper(),
                    _concrete(path),
                    headers=headers,
                    json={} if method in {"post", "put", "patch"} else None,
                )
                checked += 1
                status = response.status_code
                unsafe = method.upper() not in {"GET", "HEAD", "OPTIONS"}
                refusal = 403
                if key in PUBLIC:
                    allowed = True
                elif role is None:
                    allowed, refusal = False, 401
                elif via == "api_key":
                    allowed = (
                        getattr(_dependency(route), "allow_api_key", False)
                        if declared is None
                        else key_allows(role, ALL_SCOPES, declared)
                    )
                elif via == "cookie_without_csrf" and unsafe:
                    allowed = False
                else:
                    allowed = declared is None or role_allows(role, declared)
                who = f"{role.value} by {via}" if role else via
                if status >= 500:
                    problems.append(f"{key} as {who}: {status}")
                elif allowed and status in (401, 403):
                    problems.append(f"{key} as {who}: refused ({status}) but allowed")
                elif not allowed and status != refusal:
                    problems.append(f"{key} as {who}: {status}, expected {refusal}")
    assert not problems, "\n".join(problems)
    assert checked > 400


@pytest.mark.parametrize("permission", list(Permission))
def test_roles_build_on_each_other(permission: Permission) -> None:
    ladder = [Role.viewer, Role.analyst, Role.editor, Role.admin]
    allowed = [role_allows(role, permission) for role in ladder]
    # Once a role may do something, every role above it may too.
    assert allowed == sorted(allowed)
    assert role_allows(Role.admin, permission)


def test_the_role_table_matches_the_issue() -> None:
    assert role_allows(Role.viewer, Permission.read)
    assert not role_allows(Role.viewer, Permission.request_content)
    assert role_allows(Role.analyst, Permission.request_content)
    assert not role_allows(Role.analyst, Permission.edit_content)
    for permission in (Permission.edit_content, Permission.approve_content, Permission.publish):
        assert role_allows(Role.editor, permission)
    for permission in (
        Permission.manage_users,
        Permission.manage_channels,
        Permission.read_audit,
        Permission.override_compliance,
    ):
        assert not role_allows(Role.editor, permission)
        assert role_allows(Role.admin, permission)


def test_api_keys_never_administer() -> None:
    scopes = ["read", "content:write", "publish"]
    assert key_allows(Role.admin, scopes, Permission.publish)
    assert not key_allows(Role.admin, scopes, Permission.manage_users)
    assert not key_allows(Role.viewer, scopes, Permission.publish)  # the owner's role bounds it
    assert not key_allows(Role.editor, ["read"], Permission.publish)
