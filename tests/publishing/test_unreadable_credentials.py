"""A channel whose stored credentials no longer decrypt (FINAGENCY_SECRET_KEY changed), through
PATCH /api/v1/channels/{id} on both backends: switching it off, its limits and window still
change; what needs the credentials is a 409 problem; new credentials replace them whole."""

import json
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from finagency import crypto
from finagency.accounts.models import AuditEvent
from finagency.accounts.permissions import Role
from finagency.publishing import dispatcher
from finagency.publishing.models import Channel
from finagency.settings import Settings
from tests.fixtures.accounts import bearer, make_user

SECRET = "a-long-enough-shared-secret"
HOOK = {"url": "http://127.0.0.1:9/hook"}


async def _unreadable_webhook(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, admin: dict[str, str]
) -> Channel:
    """A webhook channel whose credentials were encrypted under another secret key."""
    created = await client.post(
        "/api/v1/channels",
        json={
            "type": "webhook",
            "name": "partner",
            "config": HOOK,
            "credentials": {"secret": SECRET},
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    channel = await db_session.get(Channel, created.json()["id"])
    assert channel is not None
    before = settings.model_copy(update={"secret_key": SecretStr("the-key-before-the-change-42")})
    channel.credentials = crypto.encrypt(before, json.dumps({"secret": SECRET}))
    await db_session.commit()
    return channel


async def _patch(
    client: httpx.AsyncClient, channel: Channel, headers: dict[str, str], **changes: Any
) -> httpx.Response:
    return await client.patch(f"/api/v1/channels/{channel.id}", json=changes, headers=headers)


async def test_switching_off_and_limits_work_without_reading_the_credentials(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    admin = bearer(settings, await make_user(db_session, settings, Role.admin))
    channel = await _unreadable_webhook(client, db_session, settings, admin)

    disabled = await _patch(client, channel, admin, enabled=False)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["enabled"] is False
    assert disabled.json()["credentials"] == {
        "error": "cannot be decrypted with the current secret key"
    }
    window = {"timezone": "UTC", "start": "09:00", "end": "17:00", "weekdays": [1, 2, 3, 4, 5]}
    changed = await _patch(client, channel, admin, limits={"per_hour": 3}, posting_window=window)
    assert changed.status_code == 200, changed.text
    assert changed.json()["limit_overrides"] == {"per_hour": 3}
    enabled = await _patch(client, channel, admin, enabled=True)
    assert enabled.status_code == 200, enabled.text
    await db_session.refresh(channel)
    assert (channel.enabled, channel.limits) == (True, {"per_hour": 3})


@pytest.mark.parametrize(
    "changes",
    [
        {"config": {"url": "http://127.0.0.1:9/other"}},
        {"config": {"url": "http://127.0.0.1:9/other"}, "enabled": False},
        {"credentials": None},
    ],
)
async def test_changes_that_need_the_credentials_are_a_409_and_change_nothing(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    settings: Settings,
    changes: dict[str, Any],
) -> None:
    admin = bearer(settings, await make_user(db_session, settings, Role.admin))
    channel = await _unreadable_webhook(client, db_session, settings, admin)
    stored = channel.credentials

    refused = await _patch(client, channel, admin, **changes)
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["type"].endswith("/unreadable-credentials")
    assert problem["detail"] == (
        "The stored credentials of channel 'partner' cannot be read with this secret key "
        "(FINAGENCY_SECRET_KEY changed?); replace them."
    )
    await db_session.refresh(channel)
    assert (channel.config, channel.enabled, channel.credentials) == (HOOK, True, stored)
    updates = await db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "channel_updated")
    )
    assert list(updates) == []


async def test_new_credentials_replace_unreadable_ones_whole(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    admin = bearer(settings, await make_user(db_session, settings, Role.admin))
    channel = await _unreadable_webhook(client, db_session, settings, admin)

    replaced = await _patch(client, channel, admin, credentials={"secret": "a-brand-new-secret-16"})
    assert replaced.status_code == 200, replaced.text
    assert set(replaced.json()["credentials"]) == {"secret"}
    await db_session.refresh(channel)
    assert dispatcher.credentials_of(settings, channel) == {"secret": "a-brand-new-secret-16"}
    # Readable again: the config can change too.
    moved = await _patch(client, channel, admin, config={"url": "http://127.0.0.1:9/other"})
    assert moved.status_code == 200, moved.text
    # New credentials the adapter refuses are refused as before (422), not taken for unreadable.
    short = await _patch(client, channel, admin, credentials={"secret": "short"})
    assert short.status_code == 422
