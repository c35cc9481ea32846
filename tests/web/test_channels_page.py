"""The Channels pages: the list, a form per channel type, a channel's page and its actions.

Secrets go in and never come out: every response of these tests is checked for them, and so
are the audit events. A refusal changes nothing in the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts.audit import Actor
from finagency.accounts.models import AuditEvent
from finagency.accounts.permissions import Role
from finagency.publishing import dispatcher
from finagency.publishing import service as publishing_service
from finagency.publishing.models import Channel, Publication
from finagency.settings import Settings
from finagency.web.channel_forms import KINDS
from finagency.web.channels import expiry_of
from tests.fixtures.platform_servers import BOT_USERNAME, running_platform_server
from tests.fixtures.webhook_receiver import run_webhook_receiver
from tests.web.support import make_draft, read, sign_in

WEBHOOK_SECRET = "whsec-" + "k" * 10 + "-never-shown-1"
BOT_TOKEN = "123456:" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
ACCESS_TOKEN = "x-token-" + "q" * 30 + "-never-shown"
SMTP_PASSWORD = "smtp-password-never-shown"
SMTP_USER = "mailer-user-never-shown"
SECRETS = (WEBHOOK_SECRET, BOT_TOKEN, ACCESS_TOKEN, SMTP_PASSWORD, SMTP_USER)


class Browser:
    """An admin's browser that remembers every page it was shown, to look for secrets in."""

    def __init__(self, client: httpx.AsyncClient, csrf: str) -> None:
        self.client = client
        self.csrf = csrf
        self.seen: list[str] = []

    async def get(self, path: str) -> httpx.Response:
        response = await self.client.get(path)
        self.seen.append(response.text)
        return response

    async def post(
        self, path: str, fields: dict[str, Any] | None = None, csrf: str | None = "session"
    ) -> httpx.Response:
        data: dict[str, Any] = dict(fields or {})
        if csrf is not None:
            data["csrf_token"] = self.csrf if csrf == "session" else csrf
        response = await self.client.post(path, data=data, follow_redirects=False)
        self.seen.append(response.text)
        if response.status_code == 303:
            await self.get(response.headers["location"])
        return response

    def assert_no_secret(self, *secrets: str) -> None:
        for text in self.seen:
            for secret in secrets or SECRETS:
                assert secret not in text


@pytest.fixture
async def admin(client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings) -> Browser:
    return Browser(client, await sign_in(client, db_session, settings, Role.admin))


def _error(html: str) -> str | None:
    """The page's error message, if it shows one."""
    if 'id="action-error">' not in html:
        return None
    return unescape(html.split('id="action-error">', 1)[1].split("</p>", 1)[0])


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _webhook_form(name: str, url: str = "http://127.0.0.1:9/hook", **extra: Any) -> dict:
    return {
        "type": "webhook",
        "name": name,
        "config.url": url,
        "credentials.secret": WEBHOOK_SECRET,
        "enabled": "on",
        "window.timezone": "UTC",
        **extra,
    }


async def _channel(session: AsyncSession, name: str) -> Channel | None:
    channel = await session.scalar(select(Channel).where(Channel.name == name))
    if channel is not None:
        await session.refresh(channel)
    return channel


async def _count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Channel)) or 0)


async def _audit_details(session: AsyncSession, channel_id: int) -> list[str]:
    rows = await session.scalars(
        select(AuditEvent).where(
            AuditEvent.target_type == "channel", AuditEvent.target_id == str(channel_id)
        )
    )
    return [f"{event.action} {event.detail}" for event in rows]


async def _create(
    session: AsyncSession,
    settings: Settings,
    channel_type: str,
    config: dict[str, Any] | None = None,
    credentials: dict[str, Any] | None = None,
    **fields: Any,
) -> Channel:
    spec = publishing_service.ChannelSpec(
        type=channel_type,
        name=fields.pop("name", _name(channel_type)),
        config=config or {},
        credentials=credentials or {},
        limits=fields.pop("limits", {}),
        posting_window=fields.pop("posting_window", None),
        **fields,
    )
    channel = await publishing_service.create_channel(session, settings, Actor(), spec)
    await session.commit()
    return channel


# --- who may ------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.viewer, Role.analyst, Role.editor])
async def test_only_admins_see_the_pages_and_take_the_actions(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, role: Role
) -> None:
    channel = await _create(db_session, settings, "file")
    csrf = await sign_in(client, db_session, settings, role)
    for path in ("/channels", f"/channels/{channel.id}"):
        response = await client.get(path)
        assert response.status_code == 403
        assert "does not allow this page (manage_channels)" in response.text
    before = await _count(db_session)
    posts = [
        ("/channels", {"type": "file", "name": _name("file"), "window.timezone": "UTC"}),
        (f"/channels/{channel.id}/enabled", {"enabled": "false"}),
        (f"/channels/{channel.id}/verify", {}),
        (f"/channels/{channel.id}/settings", {"limits.per_hour": "3"}),
    ]
    for path, fields in posts:
        response = await client.post(path, data={**fields, "csrf_token": csrf})
        assert response.status_code == 403, path
    assert await _count(db_session) == before
    await db_session.refresh(channel)
    assert (channel.enabled, channel.limits, channel.verified_at) == (True, {}, None)


async def test_a_missing_or_wrong_csrf_token_is_refused_and_changes_nothing(
    admin: Browser, db_session: AsyncSession, settings: Settings
) -> None:
    channel = await _create(db_session, settings, "file")
    before = await _count(db_session)
    for token in (None, "", admin.csrf[:-1] + ("x" if admin.csrf[-1] != "x" else "y")):
        response = await admin.post("/channels", _webhook_form(_name("hook")), csrf=token)
        assert response.status_code == 403
        assert "reload the page" in response.text
        response = await admin.post(
            f"/channels/{channel.id}/enabled", {"enabled": "false"}, csrf=token
        )
        assert response.status_code == 403
    assert await _count(db_session) == before
    await db_session.refresh(channel)
    assert channel.enabled
    admin.assert_no_secret()


# --- adding ------------------------------------------------------------------------------------


async def test_the_list_offers_a_form_per_type_with_write_only_secret_fields(
    admin: Browser,
) -> None:
    response = await admin.get("/channels")
    assert response.status_code == 200
    page = read(response.text)
    assert any("channels.css" in (e.attrs.get("href") or "") for e in page.all("link"))
    details = [e.attrs.get("id") for e in page.all("details")]
    assert details == [
        f"add-{t}" for t in ("file", "webhook", "email", "telegram", "x", "linkedin")
    ]
    types = [e.attrs.get("value") for e in page.all("input") if e.attrs.get("name") == "type"]
    assert types == list(KINDS)
    names = {e.attrs.get("name") for e in page.all("input") + page.all("textarea")}
    for kind in KINDS.values():
        for field in kind.config:
            assert f"config.{field.key}" in names
        for field in kind.credentials:
            assert f"credentials.{field.key}" in names
    secrets = [
        e for e in page.all("input") if (e.attrs.get("name") or "").startswith("credentials.")
    ]
    for element in secrets:
        if element.attrs["name"] == "credentials.expires_at":  # a date, not a secret
            continue
        assert "value" not in element.attrs, element
        # Never the browser's saved sign-in: "off" alone does not stop it for passwords.
        wanted = "new-password" if element.attrs["type"] == "password" else "off"
        assert element.attrs.get("autocomplete") == wanted, element
    passwords = {e.attrs["name"] for e in secrets if e.attrs.get("type") == "password"}
    assert passwords == {
        "credentials.secret",
        "credentials.password",
        "credentials.bot_token",
        "credentials.access_token",
    }
    forms = [e for e in page.all("form") if e.attrs.get("action") == "/channels"]
    assert len(forms) == len(KINDS)
    assert all(f.attrs.get("autocomplete") == "off" for f in forms)
    assert "No channel yet" in response.text


def _creation_cases() -> Iterator[Any]:
    yield pytest.param("file", {}, {}, {}, id="file")
    yield pytest.param(
        "webhook",
        {"config.url": "https://hooks.example.com/in", "credentials.secret": WEBHOOK_SECRET},
        {"url": "https://hooks.example.com/in"},
        {"secret": WEBHOOK_SECRET},
        id="webhook",
    )
    yield pytest.param(
        "email",
        {
            "config.recipients": "desk@example.com\nediting@example.com",
            "config.host": "smtp.example.com",
            "config.port": "2525",
            "config.starttls": "on",
            "config.from": "Desk <desk@example.com>",
            "credentials.username": SMTP_USER,
            "credentials.password": SMTP_PASSWORD,
        },
        {
            "recipients": ["desk@example.com", "editing@example.com"],
            "host": "smtp.example.com",
            "port": 2525,
            "starttls": True,
            "from": "Desk <desk@example.com>",
        },
        {"username": SMTP_USER, "password": SMTP_PASSWORD},
        id="email",
    )
    yield pytest.param(
        "telegram",
        {"config.chat_id": "@acme_markets", "credentials.bot_token": BOT_TOKEN},
        {"chat_id": "@acme_markets"},
        {"bot_token": BOT_TOKEN},
        id="telegram",
    )
    yield pytest.param(
        "x",
        {
            "config.username": "@acme",
            "credentials.access_token": ACCESS_TOKEN,
            "credentials.expires_at": "2030-01-02T03:04",
        },
        {"username": "@acme"},
        {"access_token": ACCESS_TOKEN, "expires_at": "2030-01-02T03:04:00+00:00"},
        id="x",
    )
    yield pytest.param(
        "linkedin",
        {
            "config.author": "urn:li:organization:123456",
            "config.version": "",
            "credentials.access_token": ACCESS_TOKEN,
        },
        {"author": "urn:li:organization:123456"},
        {"access_token": ACCESS_TOKEN},
        id="linkedin",
    )


@pytest.mark.parametrize(
    ("channel_type", "fields", "config", "credentials"), list(_creation_cases())
)
async def test_each_type_is_added_with_its_fields_and_its_secrets_never_shown(
    admin: Browser,
    db_session: AsyncSession,
    settings: Settings,
    channel_type: str,
    fields: dict[str, str],
    config: dict[str, Any],
    credentials: dict[str, Any],
) -> None:
    name = _name(channel_type)
    response = await admin.post(
        "/channels",
        {
            "type": channel_type,
            "name": name,
            "enabled": "on",
            "limits.per_hour": "4",
            "window.timezone": "Europe/London",
            "window.start": "08:00",
            "window.end": "18:30",
            "window.weekdays": ["1", "2", "3", "4", "5"],
            **fields,
        },
    )
    assert response.status_code == 303, _error(response.text)
    channel = await _channel(db_session, name)
    assert channel is not None
    assert response.headers["location"] == f"/channels/{channel.id}?done=created"
    assert (channel.type, channel.config, channel.enabled) == (channel_type, config, True)
    assert channel.limits == {"per_hour": 4}
    assert channel.posting_window == {
        "timezone": "Europe/London",
        "start": "08:00",
        "end": "18:30",
        "weekdays": [1, 2, 3, 4, 5],
    }
    assert dispatcher.credentials_of(settings, channel) == credentials
    for secret in SECRETS:
        assert secret not in (channel.credentials or "")

    shown = admin.seen[-1]
    assert "Channel added" in shown
    assert "08:00–18:30 Europe/London, Mon–Fri" in shown
    assert "0 of 4 in the last hour" in shown
    listed = (await admin.get("/channels")).text
    assert f'href="/channels/{channel.id}"' in listed
    admin.assert_no_secret()
    details = await _audit_details(db_session, channel.id)
    assert details
    assert details[0].startswith("channel_created")
    for secret in SECRETS:
        assert all(secret not in detail for detail in details)


async def test_refused_additions_show_why_keep_what_was_typed_but_no_secret(
    admin: Browser, db_session: AsyncSession, settings: Settings
) -> None:
    taken = await _create(db_session, settings, "file")
    before = await _count(db_session)
    cases = [
        # The service's refusals, with their status.
        (
            _webhook_form(_name("hook"), url="http://hooks.example.com/in"),
            422,
            "config.url must use https",
        ),
        (_webhook_form(_name("hook"), **{"credentials.secret": "short"}), 422, "at least 16"),
        ({"type": "file", "name": taken.name}, 409, "exists already"),
        ({"type": "file", "name": "no spaces allowed"}, 422, "a channel name is"),
        (
            _webhook_form(
                _name("hook"),
                **{
                    "window.timezone": "Mars/Olympus",
                    "window.start": "09:00",
                    "window.end": "17:00",
                },
            ),
            422,
            "unknown time zone 'Mars/Olympus'",
        ),
        (
            _webhook_form(_name("hook"), **{"limits.per_day": "0"}),
            422,
            "per_day must be a whole number of posts",
        ),
        # The form's own.
        (_webhook_form(_name("hook"), **{"limits.per_hour": "many"}), 422, "Posts per hour"),
        (_webhook_form(_name("hook"), **{"window.start": "09:00"}), 422, "a start and an end"),
        ({"type": "pigeon", "name": _name("bird")}, 422, "Choose a channel type"),
        (
            {
                "type": "email",
                "name": _name("mail"),
                "config.recipients": "desk@example.com",
                "config.host": "smtp.example.com",
                "config.port": "many",
            },
            422,
            "Port must be a whole number",
        ),
    ]
    for fields, status, message in cases:
        response = await admin.post("/channels", fields)
        assert response.status_code == status, (fields, response.status_code)
        assert message in (_error(response.text) or ""), (message, fields)
        if fields["type"] in KINDS:
            opened = [e for e in read(response.text).all("details") if "open" in e.attrs]
            assert [e.attrs["id"] for e in opened] == [f"add-{fields['type']}"]
            # What was typed is there to correct, except the secret.
            assert f'value="{fields["name"]}"' in response.text
    assert await _count(db_session) == before
    admin.assert_no_secret(WEBHOOK_SECRET)


# --- the list ------------------------------------------------------------------------------------


async def _published(
    session: AsyncSession, channel: Channel, content_id: int, ago: timedelta, revision: int
) -> Publication:
    at = datetime.now(UTC) - ago
    publication = Publication(
        content_id=content_id,
        revision_number=revision,
        channel_id=channel.id,
        idempotency_key=uuid.uuid4().hex,
        status="published",
        scheduled_at=at,
        requested_at=at,
        due_at=at,
        published_at=at,
    )
    session.add(publication)
    await session.flush()
    return publication


async def test_the_list_shows_budget_use_expiry_verification_and_window(
    admin: Browser, db_session: AsyncSession, settings: Settings
) -> None:
    settings.publish_credential_warning_days = 7
    now = datetime.now(UTC)
    soon = await _create(
        db_session,
        settings,
        "x",
        credentials={
            "access_token": ACCESS_TOKEN,
            "expires_at": (now + timedelta(days=3, hours=2)).isoformat(),
        },
        limits={"per_hour": 10, "per_day": 40, "min_spacing_seconds": 90},
    )
    expired = await _create(
        db_session,
        settings,
        "linkedin",
        config={"author": "urn:li:person:abc"},
        credentials={
            "access_token": ACCESS_TOKEN,
            "expires_at": (now - timedelta(days=2, hours=1)).isoformat(),
        },
        enabled=False,
    )
    later = await _create(
        db_session,
        settings,
        "x",
        credentials={
            "access_token": ACCESS_TOKEN,
            "expires_at": (now + timedelta(days=40)).isoformat(),
        },
    )
    windowed = await _create(
        db_session,
        settings,
        "file",
        posting_window={"timezone": "Asia/Kolkata", "start": "09:15", "end": "15:30"},
    )
    draft = await make_draft(db_session, "Steady\n\nThe index closed flat.")
    for number, ago in enumerate((timedelta(minutes=5), timedelta(minutes=40), timedelta(hours=3))):
        await _published(db_session, soon, draft.id, ago, number + 1)
    expired.last_verify_error = "LinkedIn refused the token (401)"
    windowed.verified_at = now - timedelta(minutes=30)
    windowed.verified_identity = "/outbox/daily.jsonl"
    await db_session.commit()

    response = await admin.get("/channels")
    assert response.status_code == 200
    html = response.text
    page = read(html)

    def row(channel: Channel) -> str:
        return html.split(f'id="channel-{channel.id}"', 1)[1].split("</tr>", 1)[0]

    assert "2 of 10 in the last hour" in row(soon)
    assert "3 of 40 in the last 24 hours" in row(soon)
    assert "1 min 30 s between posts" in row(soon)
    meters = [(m.attrs["value"], m.attrs["max"]) for m in page.all("meter")]
    assert ("2", "10") in meters
    assert ("3", "40") in meters
    # The built-in budget of X (5/h, 20/d) where the channel sets none.
    assert "0 of 5 in the last hour" in row(later)
    assert "0 in the last hour (no limit)" in row(windowed)

    assert "expiry-soon" in row(soon)
    assert "3 days left" in row(soon)
    assert "expiry-expired" in row(expired)
    assert "Expired 2 days ago" in row(expired)
    assert "expiry-ok" in row(later)
    assert "40 days left" in row(later) or "39 days left" in row(later)
    assert "No expiry known" not in row(windowed)  # a file channel has no credentials

    assert "disabled" in row(expired)
    assert "LinkedIn refused the token (401)" in row(expired)
    assert "verified" in row(windowed)
    assert "/outbox/daily.jsonl" in row(windowed)
    assert "Never verified" in row(later)
    assert "09:15–15:30 Asia/Kolkata, every day" in row(windowed)
    assert "Any time" in row(soon)
    # Masked: which credential is set, its last characters at most.
    assert "access_token" in row(soon)
    assert "••••" in row(soon)
    admin.assert_no_secret()


def test_expiry_reads_in_days_and_warns_within_the_warning_days() -> None:
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert expiry_of(None, now, 7).state == "none"
    assert (e := expiry_of(now + timedelta(days=7), now, 7)).state == "soon"
    assert e.text == "7 days left"
    assert expiry_of(now + timedelta(days=7, seconds=1), now, 7).state == "ok"
    assert expiry_of(now + timedelta(hours=5), now, 7).text == "Expires within a day"
    assert (e := expiry_of(now - timedelta(hours=5), now, 7)).state == "expired"
    assert e.text == "Expired less than a day ago"
    assert expiry_of(now - timedelta(days=1, hours=1), now, 7).text == "Expired 1 day ago"


# --- a channel's page ----------------------------------------------------------------------------


async def test_a_channels_page_shows_its_forms_and_recent_publications(
    admin: Browser, db_session: AsyncSession, settings: Settings
) -> None:
    channel = await _create(
        db_session,
        settings,
        "webhook",
        config={"url": "https://hooks.example.com/in"},
        credentials={"secret": WEBHOOK_SECRET},
        limits={"per_day": 12},
        posting_window={
            "timezone": "Europe/Paris",
            "start": "07:00",
            "end": "21:00",
            "weekdays": [6, 7],
        },
    )
    draft = await make_draft(db_session, "Steady\n\nThe index closed flat.")
    publication = await _published(db_session, channel, draft.id, timedelta(minutes=3), 1)
    await db_session.commit()
    response = await admin.get(f"/channels/{channel.id}")
    assert response.status_code == 200
    page = read(response.text)
    actions = [e.attrs.get("action") for e in page.all("form")]
    for action in ("verify", "enabled", "settings", "credentials"):
        assert f"/channels/{channel.id}/{action}" in actions
    values = {e.attrs.get("name"): e.attrs.get("value") for e in page.all("input")}
    assert values["config.url"] == "https://hooks.example.com/in"
    assert values["limits.per_day"] == "12"
    assert values["limits.per_hour"] == ""
    assert (values["window.start"], values["window.end"]) == ("07:00", "21:00")
    ticked = [
        e.attrs["value"]
        for e in page.all("input")
        if e.attrs.get("name") == "window.weekdays" and "checked" in e.attrs
    ]
    assert ticked == ["6", "7"]
    secret = [e for e in page.all("input") if e.attrs.get("name") == "credentials.secret"]
    assert secret[0].attrs["type"] == "password"
    assert "value" not in secret[0].attrs
    assert "required" not in secret[0].attrs  # blank keeps the stored one
    links = [e.attrs.get("href") for e in page.all("a")]
    assert f"/content/{draft.id}" in links
    assert f'id="publication-{publication.id}"' in response.text
    assert "07:00–21:00 Europe/Paris, Sat, Sun" in response.text
    assert "1 of 12 in the last 24 hours" in response.text
    admin.assert_no_secret()

    missing = await admin.get("/channels/999999")
    assert missing.status_code == 404
    assert "No channel 999999" in missing.text


async def test_settings_are_saved_and_refusals_change_nothing(
    admin: Browser, db_session: AsyncSession, settings: Settings
) -> None:
    channel = await _create(
        db_session,
        settings,
        "telegram",
        config={"chat_id": -1001234567890},
        credentials={"bot_token": BOT_TOKEN},
    )
    path = f"/channels/{channel.id}/settings"
    base = {"config.chat_id": "-1001234567890", "window.timezone": "UTC"}

    unchanged = await admin.post(path, base)
    assert unchanged.status_code == 303
    assert unchanged.headers["location"].endswith("?done=unchanged")
    assert "Nothing to save" in admin.seen[-1]
    assert await _audit_details(db_session, channel.id) == [
        f"channel_created {{'type': 'telegram', 'name': '{channel.name}'}}"
    ]

    refused = [
        ({**base, "config.chat_id": "not a chat"}, 422, "neither a chat id"),
        ({**base, "limits.per_hour": "0"}, 422, "per_hour must be a whole number of posts"),
        ({**base, "limits.min_spacing_seconds": "soon"}, 422, "Seconds between posts"),
        (
            {**base, "window.start": "18:00", "window.end": "09:00", "window.weekdays": "1"},
            422,
            "start must be before its end",
        ),
        ({**base, "window.start": "09:00", "window.end": "17:00"}, 422, "weekdays"),
    ]
    for fields, status, message in refused:
        response = await admin.post(path, fields)
        assert response.status_code == status, fields
        assert message in (_error(response.text) or ""), fields
        await db_session.refresh(channel)
        assert channel.config == {"chat_id": -1001234567890}
        assert (channel.limits, channel.posting_window) == ({}, None)
    # The refused form comes back as typed.
    assert 'value="18:00"' not in admin.seen[-1]
    assert 'value="09:00"' in admin.seen[-1]

    saved = await admin.post(
        path,
        {
            "config.chat_id": "@acme_markets",
            "limits.per_hour": "3",
            "limits.min_spacing_seconds": "120",
            "window.timezone": "America/New_York",
            "window.start": "09:30",
            "window.end": "16:00",
            "window.weekdays": ["1", "2", "3", "4", "5"],
        },
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/channels/{channel.id}?done=saved"
    await db_session.refresh(channel)
    assert channel.config == {"chat_id": "@acme_markets"}
    assert channel.limits == {"per_hour": 3, "min_spacing_seconds": 120}
    assert channel.posting_window == {
        "timezone": "America/New_York",
        "start": "09:30",
        "end": "16:00",
        "weekdays": [1, 2, 3, 4, 5],
    }
    assert dispatcher.credentials_of(settings, channel) == {"bot_token": BOT_TOKEN}
    assert "Settings saved" in admin.seen[-1]

    # Both times blank: no window any more.
    cleared = await admin.post(
        path,
        {
            "config.chat_id": "@acme_markets",
            "limits.per_hour": "3",
            "limits.min_spacing_seconds": "120",
        },
    )
    assert cleared.status_code == 303
    await db_session.refresh(channel)
    assert channel.posting_window is None
    details = await _audit_details(db_session, channel.id)
    assert details[-2] == "channel_updated {'fields': ['config', 'limits', 'posting_window']}"
    assert details[-1] == "channel_updated {'fields': ['posting_window']}"
    admin.assert_no_secret()


async def test_credentials_are_replaced_write_only_and_blank_keeps_them(
    admin: Browser, db_session: AsyncSession, settings: Settings
) -> None:
    channel = await _create(
        db_session,
        settings,
        "email",
        config={"recipients": ["desk@example.com"], "host": "smtp.example.com"},
        credentials={"username": SMTP_USER, "password": "old-password-1"},
    )
    channel.verified_at = datetime.now(UTC)
    await db_session.commit()
    path = f"/channels/{channel.id}/credentials"

    blank = await admin.post(path, {"credentials.username": "", "credentials.password": ""})
    assert blank.status_code == 422
    assert "Fill in a credential to replace" in (_error(blank.text) or "")

    replaced = await admin.post(path, {"credentials.password": SMTP_PASSWORD})
    assert replaced.status_code == 303
    assert replaced.headers["location"].endswith("?done=credentials")
    await db_session.refresh(channel)
    assert dispatcher.credentials_of(settings, channel) == {
        "username": SMTP_USER,
        "password": SMTP_PASSWORD,
    }
    assert channel.verified_at is None  # new credentials are not verified yet
    shown = admin.seen[-1]
    assert "Credentials replaced" in shown
    assert "Never verified" in shown

    # A webhook secret too short is refused by the adapter: the stored one stays.
    hook = await _create(
        db_session,
        settings,
        "webhook",
        config={"url": "https://hooks.example.com/in"},
        credentials={"secret": WEBHOOK_SECRET},
    )
    refused = await admin.post(
        f"/channels/{hook.id}/credentials", {"credentials.secret": "tooshort"}
    )
    assert refused.status_code == 422
    assert "at least 16 characters" in (_error(refused.text) or "")
    assert "tooshort" not in refused.text
    await db_session.refresh(hook)
    assert dispatcher.credentials_of(settings, hook) == {"secret": WEBHOOK_SECRET}

    # The file channel has none to replace.
    outbox = await _create(db_session, settings, "file")
    page = (await admin.get(f"/channels/{outbox.id}")).text
    assert f'action="/channels/{outbox.id}/credentials"' not in page
    for detail in await _audit_details(db_session, channel.id):
        assert SMTP_PASSWORD not in detail
        assert SMTP_USER not in detail
    admin.assert_no_secret("old-password-1", *SECRETS)


async def test_a_channel_is_disabled_and_enabled_again(
    admin: Browser, db_session: AsyncSession, settings: Settings
) -> None:
    channel = await _create(db_session, settings, "file")
    path = f"/channels/{channel.id}/enabled"
    page = read((await admin.get(f"/channels/{channel.id}")).text)
    assert [b.attrs.get("class") for b in page.all("button") if b.attrs.get("class")] == [
        "button-danger"
    ]
    response = await admin.post(path, {"enabled": "false"})
    assert response.headers["location"].endswith("?done=disabled")
    await db_session.refresh(channel)
    assert not channel.enabled
    assert "Enable channel" in admin.seen[-1]
    assert (await admin.post(path, {"enabled": "maybe"})).status_code == 422
    await db_session.refresh(channel)
    assert not channel.enabled
    response = await admin.post(path, {"enabled": "true"})
    assert response.headers["location"].endswith("?done=enabled")
    await db_session.refresh(channel)
    assert channel.enabled
    details = await _audit_details(db_session, channel.id)
    assert details[-2:] == ["channel_updated {'fields': ['enabled']}"] * 2


async def test_credentials_that_no_longer_decrypt_are_said_so(
    admin: Browser, db_session: AsyncSession, settings: Settings
) -> None:
    channel = await _create(
        db_session, settings, "telegram", {"chat_id": "@acme_markets"}, {"bot_token": BOT_TOKEN}
    )
    channel.credentials = "gAAAAA-not-a-token-of-this-key"
    await db_session.commit()
    page = await admin.get(f"/channels/{channel.id}")
    assert "cannot be decrypted" in page.text

    # Switching it off needs no credentials: it works, and so do its limits.
    response = await admin.post(f"/channels/{channel.id}/enabled", {"enabled": "false"})
    assert response.status_code == 303
    assert response.headers["location"].endswith("?done=disabled")
    await db_session.refresh(channel)
    assert not channel.enabled
    base = {"config.chat_id": "@acme_markets", "window.timezone": "UTC"}
    limited = await admin.post(f"/channels/{channel.id}/settings", {**base, "limits.per_day": "4"})
    assert limited.status_code == 303
    assert limited.headers["location"].endswith("?done=saved")
    await db_session.refresh(channel)
    assert channel.limits == {"per_day": 4}

    # A new chat is checked with the credentials: the service's 409, and nothing changes.
    moved = await admin.post(
        f"/channels/{channel.id}/settings",
        {**base, "config.chat_id": "@acme_elsewhere", "limits.per_day": "4"},
    )
    assert moved.status_code == 409
    assert _error(moved.text) == (
        f"The stored credentials of channel {channel.name!r} cannot be read with this secret "
        "key (FINAGENCY_SECRET_KEY changed?); replace them."
    )
    assert 'value="@acme_elsewhere"' in moved.text  # the form as typed, to send again
    await db_session.refresh(channel)
    assert channel.config == {"chat_id": "@acme_markets"}
    verified = await admin.post(f"/channels/{channel.id}/verify")
    assert verified.status_code == 409
    assert (_error(verified.text) or "").startswith("Verification failed: cannot decrypt")

    # New credentials replace the unreadable ones whole; then the chat can change.
    replaced = await admin.post(
        f"/channels/{channel.id}/credentials", {"credentials.bot_token": BOT_TOKEN}
    )
    assert replaced.status_code == 303
    await db_session.refresh(channel)
    assert dispatcher.credentials_of(settings, channel) == {"bot_token": BOT_TOKEN}
    moved = await admin.post(
        f"/channels/{channel.id}/settings",
        {**base, "config.chat_id": "@acme_elsewhere", "limits.per_day": "4"},
    )
    assert moved.status_code == 303
    enabled = await admin.post(f"/channels/{channel.id}/enabled", {"enabled": "true"})
    assert enabled.status_code == 303
    await db_session.refresh(channel)
    assert (channel.config, channel.enabled) == ({"chat_id": "@acme_elsewhere"}, True)
    details = await _audit_details(db_session, channel.id)
    assert details[1:] == [
        "channel_updated {'fields': ['enabled']}",
        "channel_updated {'fields': ['limits']}",
        "channel_updated {'fields': ['credentials']}",
        "channel_updated {'fields': ['config']}",
        "channel_updated {'fields': ['enabled']}",
    ]
    admin.assert_no_secret()


# --- verifying -----------------------------------------------------------------------------------


async def test_a_file_channel_verifies_locally(
    admin: Browser, db_session: AsyncSession, settings: Settings
) -> None:
    channel = await _create(db_session, settings, "file", name=_name("outbox"))
    response = await admin.post(f"/channels/{channel.id}/verify")
    assert response.status_code == 303
    assert response.headers["location"] == f"/channels/{channel.id}?done=verified"
    await db_session.refresh(channel)
    assert channel.verified_at is not None
    outbox = str(settings.data_dir / "outbox" / f"{channel.name}.jsonl")
    assert channel.verified_identity == outbox
    shown = admin.seen[-1]
    assert "Verified: the platform accepted the credentials." in shown
    assert outbox in shown
    details = await _audit_details(db_session, channel.id)
    assert details[-1] == "channel_verified {'ok': True}"


async def test_a_webhook_verifies_against_a_local_receiver_and_a_wrong_secret_fails(
    admin: Browser, db_session: AsyncSession, settings: Settings
) -> None:
    with run_webhook_receiver(WEBHOOK_SECRET) as receiver:
        good = await _create(
            db_session,
            settings,
            "webhook",
            config={"url": receiver.url},
            credentials={"secret": WEBHOOK_SECRET},
        )
        wrong = await _create(
            db_session,
            settings,
            "webhook",
            config={"url": receiver.url},
            credentials={"secret": "another-secret-of-16+"},
        )
        response = await admin.post(f"/channels/{good.id}/verify")
        assert response.headers["location"].endswith("?done=verified")
        assert [event["type"] for event in receiver.events("ping")] == ["ping"]
        assert "127.0.0.1" in admin.seen[-1]

        response = await admin.post(f"/channels/{wrong.id}/verify")
        assert response.status_code == 303
        assert response.headers["location"].endswith("?done=verify_failed")
    await db_session.refresh(wrong)
    assert wrong.verified_at is None
    assert wrong.last_verify_error
    shown = admin.seen[-1]
    errors = [e for e in read(shown).all("p") if e.attrs.get("id") == "action-error"]
    assert errors
    assert "Verification failed:" in shown
    assert "401" in wrong.last_verify_error
    assert "another-secret-of-16+" not in shown
    admin.assert_no_secret()


async def test_telegram_verifies_against_a_local_fake_platform(
    admin: Browser, db_session: AsyncSession, settings: Settings
) -> None:
    with running_platform_server() as fake:
        settings.telegram_base_url = fake.base_url
        channel = await _create(
            db_session,
            settings,
            "telegram",
            config={"chat_id": "@acme_markets"},
            credentials={"bot_token": BOT_TOKEN},
        )
        response = await admin.post(f"/channels/{channel.id}/verify")
        assert response.headers["location"].endswith("?done=verified")
        fake.play(401, platform="telegram")
        await db_session.refresh(channel)
        first = channel.verified_at
        failed = await admin.post(f"/channels/{channel.id}/verify")
        assert failed.headers["location"].endswith("?done=verify_failed")
    await db_session.refresh(channel)
    assert BOT_USERNAME in (channel.verified_identity or "")
    assert channel.verified_at == first  # the last success stays, with the failure beside it
    assert channel.last_verify_error
    shown = admin.seen[-1]
    assert "last success" in shown
    admin.assert_no_secret()
