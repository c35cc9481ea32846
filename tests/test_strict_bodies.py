"""Integers and booleans in request bodies are what they say: pydantic's lax mode took `true`
for the user id 1 and `0.0` for false (found by the schema fuzzing's negative_data_rejection)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts.models import ApiKey
from finagency.accounts.permissions import Role
from finagency.content.models import ContentRequest
from finagency.settings import Settings
from tests.fixtures.accounts import bearer, make_user

REQUEST = {"type": "market_update", "symbols": ["^GSPC"], "channels": ["file"]}


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        (
            "POST",
            "/api/v1/api-keys",
            {"name": "desk", "scopes": ["read"], "user_id": True},
            "user_id",
        ),
        ("PATCH", "/api/v1/settings", {"registration_open": 0.0}, "registration_open"),
        ("POST", "/api/v1/content/requests", {**REQUEST, "chart": 1}, "chart"),
        ("POST", "/api/v1/content/requests", {**REQUEST, "idea_id": "7"}, "idea_id"),
        (
            "POST",
            "/api/v1/publications",
            {"content_id": "1", "channel_ids": [1], "scheduled_at": "2030-01-01T00:00:00Z"},
            "content_id",
        ),
        (
            "POST",
            "/api/v1/publications",
            {"content_id": 1, "channel_ids": [True], "scheduled_at": "2030-01-01T00:00:00Z"},
            "channel_ids",
        ),
        ("POST", "/api/v1/channels", {"type": "file", "name": "desk", "enabled": "yes"}, "enabled"),
        # A number is not a date: pydantic read it as Unix time (1970-01-01T01:45:09Z).
        (
            "POST",
            "/api/v1/publications",
            {"content_id": 1, "channel_ids": [1], "scheduled_at": 6309},
            "scheduled_at",
        ),
        ("PATCH", "/api/v1/publications/1", {"scheduled_at": "6309"}, "scheduled_at"),
        # The documented maxLength holds for the text as sent, white space included.
        ("POST", "/api/v1/publishing/pause", {"reason": "NULL" + " " * 600}, "reason"),
        ("POST", "/api/v1/channels", {"type": "file", "name": " " * 3}, "name"),
    ],
)
async def test_a_number_or_switch_of_another_type_is_a_422_naming_it(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    settings: Settings,
    method: str,
    path: str,
    body: dict[str, Any],
    field: str,
) -> None:
    admin = await make_user(db_session, settings, Role.admin)
    keys_before = await db_session.scalar(select(func.count()).select_from(ApiKey))
    response = await client.request(method, path, json=body, headers=bearer(settings, admin))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert any(field in error["loc"] for error in response.json()["errors"]), response.json()
    assert await db_session.scalar(select(func.count()).select_from(ApiKey)) == keys_before
    assert await db_session.scalar(select(func.count()).select_from(ContentRequest)) == 0


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/audit/export?since=2026-01-01T00:00:00Z&until=6309", "until"),
        ("/api/v1/audit?since=1700000000", "since"),
        ("/api/v1/content/export?since=0&until=2026-01-01T00:00:00Z", "since"),
        ("/api/v1/market/^GSPC/history?start=20260101", "start"),
        # Before the export starts streaming (PostgreSQL refuses NUL in text).
        (
            "/api/v1/audit/export?action=%00&since=1999-01-01T00:00:00Z&until=2000-01-01T00:00:00Z",
            "action",
        ),
    ],
)
async def test_a_number_for_a_date_in_a_query_is_a_422_naming_it(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    settings: Settings,
    path: str,
    field: str,
) -> None:
    admin = await make_user(db_session, settings, Role.admin)
    response = await client.get(path, headers=bearer(settings, admin))
    assert response.status_code == 422, response.text
    body = response.json()
    assert field in str(body.get("errors")) or field in body["detail"], body
