"""The Audit log and Users pages (admins): filters, pagination, export links; user actions."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts import passwords
from finagency.accounts.models import AuditEvent, User, WebSession
from finagency.accounts.permissions import Role
from finagency.accounts.protection import LoginGuard
from finagency.cache import Store
from finagency.db import utcnow
from finagency.settings import Settings
from tests.fixtures.accounts import PASSWORD, make_user
from tests.web.support import read, sign_in

NEW_PASSWORD = "a long enough passphrase 42"


async def me(session: AsyncSession, csrf: str) -> User:
    """The signed-in user of the session with this CSRF token."""
    user_id = await session.scalar(select(WebSession.user_id).where(WebSession.csrf_token == csrf))
    user = await session.get(User, user_id)
    assert user is not None
    return user


async def fresh(session: AsyncSession, user_id: int) -> User | None:
    user = await session.get(User, user_id)
    if user is not None:
        await session.refresh(user)
    return user


async def lock_out(app: FastAPI, settings: Settings, email: str) -> LoginGuard:
    """Lock the account out as failed logins do; the guard says how long it stays locked."""
    store: Store = app.state.store
    guard = LoginGuard(store, settings)
    for _ in range(settings.login_max_failures):
        await guard.record_failure(email, "198.51.100.7")
    return guard


async def add_event(
    session: AsyncSession,
    action: str,
    at: datetime,
    actor: User | None = None,
    target: tuple[str, str] | None = None,
    **detail: object,
) -> int:
    event = AuditEvent(
        action=action,
        occurred_at=at,
        actor_id=actor.id if actor else None,
        actor_email=actor.email if actor else None,
        target_type=target[0] if target else None,
        target_id=target[1] if target else None,
        ip="203.0.113.9" if actor else None,
        detail=detail,
    )
    session.add(event)
    await session.flush()
    return event.id


def event_ids(html: str) -> list[int]:
    return [
        int(e.attrs["data-event"] or 0) for e in read(html).all("tr") if "data-event" in e.attrs
    ]


def row_of(html: str, event_id: int) -> str:
    return html.split(f'id="event-{event_id}"', 1)[1].split("</tr>", 1)[0]


# --- the audit log ----------------------------------------------------------------------------


async def test_the_audit_log_is_for_admins_only(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    for role in (Role.viewer, Role.editor):
        await sign_in(client, db_session, settings, role)
        response = await client.get("/audit")
        assert response.status_code == 403
        assert "read_audit" in response.text


async def test_newest_first_with_who_what_where_and_keyset_pages(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    csrf = await sign_in(client, db_session, settings, Role.admin)
    admin = await me(db_session, csrf)
    start = utcnow() - timedelta(hours=3)
    system = await add_event(db_session, "audit_pruned", start, removed=12)
    short = await add_event(
        db_session, "role_changed", start + timedelta(hours=1), admin, ("user", "7"), new="editor"
    )
    long = await add_event(
        db_session,
        "settings_changed",
        start + timedelta(hours=2),
        admin,
        ("settings", "compliance"),
        changes={f"rule_{n}": "a fairly long value that goes on" for n in range(6)},
    )
    await db_session.commit()

    response = await client.get("/audit", params={"limit": "2"})
    assert response.status_code == 200
    html = response.text
    assert event_ids(html)[:2] == [long, short]
    row = row_of(html, short)
    assert admin.email in row
    assert 'href="/audit?actor=' in row
    assert "role_changed" in row
    assert "user 7" in row
    assert "203.0.113.9" in row
    assert "2 h ago" in row
    assert "UTC" in row
    assert "<details>" not in row
    assert "&#34;new&#34;: &#34;editor&#34;" in row
    assert "<details>" in row_of(html, long)  # long JSON folds away
    older = next(a.attrs["href"] for a in read(html).all("a") if a.attrs.get("rel") == "next")
    assert parse_qs(urlsplit(older or "").query)["limit"] == ["2"]

    second = await client.get(older or "")
    assert event_ids(second.text)[0] == system
    assert "system" in row_of(second.text, system)
    assert "Newest" in second.text


async def test_filters_by_actor_action_target_and_time(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    csrf = await sign_in(client, db_session, settings, Role.admin)
    admin = await me(db_session, csrf)
    other_ref = await make_user(db_session, settings, Role.editor)
    other = await db_session.get(User, other_ref.id)
    assert other is not None
    base = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    mine = await add_event(db_session, "user_created", base, admin, ("user", "41"))
    theirs = await add_event(db_session, "content_approved", base, other, ("content", "5"))
    later = await add_event(
        db_session, "user_created", base + timedelta(days=2), admin, ("user", "42")
    )
    await db_session.commit()

    async def shown(**params: str) -> list[int]:
        response = await client.get("/audit", params=params)
        assert response.status_code == 200, response.text
        return [i for i in event_ids(response.text) if i in {mine, theirs, later}]

    assert await shown(actor=other.email.upper()) == [theirs]
    assert await shown(actor=str(admin.id), action="user_created") == [later, mine]
    assert await shown(target_type="user", target_id="42") == [later]
    assert await shown(since="2026-03-01T00:00", until="2026-03-02T00:00") == [theirs, mine]
    assert await shown(since="2026-03-02T00:00:00Z") == [later]

    nobody = await client.get("/audit", params={"actor": "nobody@example.com"})
    assert nobody.status_code == 200
    assert "No user has the address nobody@example.com" in nobody.text
    assert event_ids(nobody.text) == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "yesterday"}, "is not a date and time"),
        ({"since": "2026-03-02T00:00", "until": "2026-03-01T00:00"}, "until must be after since"),
        ({"before_id": "abc"}, "before_id must be an event id"),
        ({"before_id": "²"}, "before_id must be an event id"),
        ({"before_id": str(2**64)}, "before_id must be an event id"),
        ({"actor": str(2**64)}, "No user id is as large as"),
        ({"since": "0001-01-01T00:00+05:00"}, "is not a date and time"),
        ({"limit": "0"}, "Show 1 to 500 events"),
        ({"actor": "not an address"}, "Name the actor by e-mail address or user id"),
        ({"action": "x" * 65}, "action has at most 64 characters"),
    ],
)
async def test_bad_filters_are_a_422_page_with_the_reason(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    settings: Settings,
    params: dict[str, str],
    message: str,
) -> None:
    await sign_in(client, db_session, settings, Role.admin)
    response = await client.get("/audit", params=params)
    assert response.status_code == 422
    assert message in response.text
    assert event_ids(response.text) == []


async def test_the_export_links_carry_the_filters_and_work_with_the_browser_session(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    csrf = await sign_in(client, db_session, settings, Role.admin)
    admin = await me(db_session, csrf)
    await add_event(db_session, "user_created", datetime(2026, 3, 1, 12, tzinfo=UTC), admin)
    await db_session.commit()
    html = (
        await client.get(
            "/audit",
            params={
                "action": "user_created",
                "since": "2026-03-01T00:00",
                "until": "2026-03-02T00:00",
            },
        )
    ).text
    links = {
        a.text.strip(): a.attrs["href"] or ""
        for a in read(html).all("a")
        if (a.attrs.get("href") or "").startswith("/api/v1/audit/export")
    }
    assert set(links) == {"CSV", "JSON Lines"}
    query = parse_qs(urlsplit(links["CSV"]).query)
    assert query == {
        "since": ["2026-03-01T00:00:00Z"],
        "until": ["2026-03-02T00:00:00Z"],
        "action": ["user_created"],
        "format": ["csv"],
    }
    exported = await client.get(links["CSV"])
    assert exported.status_code == 200
    lines = exported.text.strip().splitlines()
    assert lines[0].startswith("id,occurred_at,action")
    assert len(lines) == 2
    assert "user_created" in lines[1]
    jsonl = await client.get(links["JSON Lines"])
    assert jsonl.status_code == 200
    assert '"action":"user_created"' in jsonl.text

    # Without a range the links cover the last 30 days.
    unfiltered = (await client.get("/audit")).text
    href = next(
        a.attrs["href"] or ""
        for a in read(unfiltered).all("a")
        if (a.attrs.get("href") or "").startswith("/api/v1/audit/export")
    )
    query = parse_qs(urlsplit(href).query)
    since = datetime.fromisoformat(query["since"][0])
    assert timedelta(days=30) <= utcnow() - since <= timedelta(days=31)


# --- users ------------------------------------------------------------------------------------


async def test_the_users_page_is_for_admins_only_and_so_are_its_actions(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    target = await make_user(db_session, settings, Role.viewer)
    csrf = await sign_in(client, db_session, settings, Role.editor)
    assert (await client.get("/users")).status_code == 403
    for path, data in (
        ("/users", {"email": "x@example.com", "display_name": "X", "role": "admin"}),
        (f"/users/{target.id}/role", {"role": "admin"}),
        (f"/users/{target.id}/disable", {}),
        (f"/users/{target.id}/delete", {}),
    ):
        response = await client.post(path, data={"csrf_token": csrf, **data})
        assert response.status_code == 403, path
    user = await fresh(db_session, target.id)
    assert user is not None
    assert (user.role, user.is_active) == ("viewer", True)
    assert await db_session.scalar(select(User).where(User.email == "x@example.com")) is None


async def test_bad_ids_are_refused_with_422_not_an_overflow(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    csrf = await sign_in(client, db_session, settings, Role.admin)
    for after_id in ("²", "-1", str(2**64)):
        response = await client.get("/users", params={"after_id": after_id})
        assert response.status_code == 422
        assert "after_id must be a user id" in response.text
    huge = await client.post(f"/users/{2**64}/disable", data={"csrf_token": csrf})
    assert huge.status_code == 422


async def test_administrators_need_a_second_factor_when_the_platform_says_so(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    settings.require_admin_totp = True
    await sign_in(client, db_session, settings, Role.admin)
    response = await client.get("/users")
    assert response.status_code == 403
    assert "second factor" in response.text


async def test_people_with_role_state_second_factor_lockout_and_last_sign_in(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    locked = await make_user(db_session, settings, Role.analyst)
    disabled = await make_user(db_session, settings, Role.viewer, is_active=False)
    enrolled_ref = await make_user(db_session, settings, Role.editor)
    enrolled = await db_session.get(User, enrolled_ref.id)
    assert enrolled is not None
    enrolled.totp_enabled = True
    enrolled.last_login_at = utcnow() - timedelta(minutes=5)
    await db_session.commit()
    await lock_out(app, settings, locked.email)
    csrf = await sign_in(client, db_session, settings, Role.admin)

    html = (await client.get("/users")).text
    rows = {
        int(e.attrs["data-user"] or 0): html.split(f'id="user-{e.attrs["data-user"]}"', 1)[1].split(
            "</tr>", 1
        )[0]
        for e in read(html).all("tr")
        if "data-user" in e.attrs
    }
    # The guard's lockout (15 minutes by default), as long as it has left.
    assert re.search(r"locked out for 1[45] min", rows[locked.id])
    assert f"/users/{locked.id}/unlock" in rows[locked.id]
    assert f"/users/{enrolled.id}/unlock" not in rows[enrolled.id]
    assert "disabled" in rows[disabled.id]
    assert f"/users/{disabled.id}/enable" in rows[disabled.id]
    assert "enrolled" in rows[enrolled.id]
    assert f"/users/{enrolled.id}/reset-totp" in rows[enrolled.id]
    assert "5 min ago" in rows[enrolled.id]
    assert "never" in rows[locked.id]
    mine = rows[(await me(db_session, csrf)).id]
    assert "you" in mine
    assert "/role" not in mine
    assert "/disable" not in mine
    assert "/delete" not in mine


async def test_create_a_user_with_a_password_or_by_invitation(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    csrf = await sign_in(client, db_session, settings, Role.admin)
    response = await client.post(
        "/users",
        data={
            "csrf_token": csrf,
            "email": "New.Analyst@Example.com",
            "display_name": "  New Analyst ",
            "role": "analyst",
            "password": NEW_PASSWORD,
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/users?done=created"
    user = await db_session.scalar(select(User).where(User.email == "new.analyst@example.com"))
    assert user is not None
    assert (user.display_name, user.role, user.is_active) == ("New Analyst", "analyst", True)
    assert passwords.verify_password(settings, user.password_hash, NEW_PASSWORD)
    shown = (await client.get(response.headers["location"])).text
    assert "User created with the password you set" in shown
    assert NEW_PASSWORD not in shown

    invited = await client.post(
        "/users",
        data={"csrf_token": csrf, "email": "guest@example.com", "display_name": "Guest"},
    )
    assert invited.headers["location"] == "/users?done=invited"
    guest = await db_session.scalar(select(User).where(User.email == "guest@example.com"))
    assert guest is not None
    assert guest.role == "viewer"
    assert guest.password_hash.startswith("!")  # nobody can sign in until they choose one


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"email": "not-an-address"}, 422, "Enter the new user&#39;s e-mail address"),
        ({"display_name": "   "}, 422, "display name needs 1 to 100 characters"),
        ({"role": "owner"}, 422, "Unknown role &#39;owner&#39;"),
        ({"password": "short"}, 422, "at least 12 characters"),
        ({"email": "taken@example.com"}, 409, "already exists"),
    ],
)
async def test_refused_creations_show_the_reason_keep_what_was_typed_but_never_the_password(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    settings: Settings,
    fields: dict[str, str],
    status: int,
    message: str,
) -> None:
    await make_user(db_session, settings, Role.viewer, email="taken@example.com")
    csrf = await sign_in(client, db_session, settings, Role.admin)
    before = len(list(await db_session.scalars(select(User.id))))
    typed = {
        "email": "someone@example.com",
        "display_name": "Some One",
        "role": "editor",
        "password": "secret-but-typed-here-9",
        **fields,
    }
    response = await client.post("/users", data={"csrf_token": csrf, **typed})
    assert response.status_code == status
    assert message in response.text
    assert 'id="action-error"' in response.text
    assert typed["password"] not in response.text
    inputs = {e.attrs.get("name"): e.attrs for e in read(response.text).all("input")}
    assert "value" not in inputs["password"]
    if fields.get("display_name") is None:
        assert inputs["display_name"]["value"] == "Some One"
    assert len(list(await db_session.scalars(select(User.id)))) == before


async def test_change_role_disable_enable_and_delete(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    target = await make_user(db_session, settings, Role.viewer)
    csrf = await sign_in(client, db_session, settings, Role.admin)

    async def post(action: str, **data: str) -> httpx.Response:
        response = await client.post(
            f"/users/{target.id}/{action}", data={"csrf_token": csrf, **data}
        )
        assert response.status_code == 303, response.text
        return response

    changed = await post("role", role="editor")
    assert changed.headers["location"] == f"/users?done=role#user-{target.id}"
    user = await fresh(db_session, target.id)
    assert user is not None
    assert user.role == "editor"
    assert "Role changed" in (await client.get(changed.headers["location"])).text

    await post("disable")
    user = await fresh(db_session, target.id)
    assert user is not None
    assert not user.is_active
    await post("enable")
    user = await fresh(db_session, target.id)
    assert user is not None
    assert user.is_active

    await post("delete")
    assert await fresh(db_session, target.id) is None
    actions = list(
        await db_session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.target_type == "user", AuditEvent.target_id == str(target.id))
            .order_by(AuditEvent.id)
        )
    )
    assert actions == [
        "role_changed",
        "user_deactivated",
        "user_reactivated",
        "user_deleted",
    ]

    bad = await client.post(f"/users/{target.id}/role", data={"csrf_token": csrf, "role": "x"})
    assert bad.status_code == 404  # deleted: no user to change
    assert f"No user {target.id}" in bad.text


async def test_an_unknown_role_is_a_422_and_changes_nothing(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    target = await make_user(db_session, settings, Role.viewer)
    csrf = await sign_in(client, db_session, settings, Role.admin)
    response = await client.post(
        f"/users/{target.id}/role", data={"csrf_token": csrf, "role": "superuser"}
    )
    assert response.status_code == 422
    assert "Unknown role" in response.text
    user = await fresh(db_session, target.id)
    assert user is not None
    assert user.role == "viewer"


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        ("role", {"role": "editor"}, "cannot demote or deactivate themselves"),
        ("disable", {}, "cannot demote or deactivate themselves"),
        ("delete", {}, "cannot delete themselves"),
        ("reset-totp", {}, "cannot reset their own second factor here"),
    ],
)
async def test_an_admin_cannot_lock_themselves_out(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    settings: Settings,
    action: str,
    data: dict[str, str],
    message: str,
) -> None:
    csrf = await sign_in(client, db_session, settings, Role.admin)
    admin = await me(db_session, csrf)
    admin.totp_enabled = True
    await db_session.commit()
    response = await client.post(f"/users/{admin.id}/{action}", data={"csrf_token": csrf, **data})
    assert response.status_code == 409
    assert message in response.text
    assert 'id="action-error"' in response.text
    user = await fresh(db_session, admin.id)
    assert user is not None
    assert (user.role, user.is_active, user.totp_enabled) == ("admin", True, True)
    assert (await client.get("/users")).status_code == 200  # still signed in


async def test_unlock_lifts_a_lockout_and_is_audited(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    target = await make_user(db_session, settings, Role.editor)
    guard = await lock_out(app, settings, target.email)
    assert await guard.locked_for(target.email) is not None
    csrf = await sign_in(client, db_session, settings, Role.admin)
    response = await client.post(f"/users/{target.id}/unlock", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert await guard.locked_for(target.email) is None
    assert "locked out" not in (await client.get("/users")).text
    event = await db_session.scalar(
        select(AuditEvent).where(AuditEvent.action == "account_unlocked")
    )
    assert event is not None
    assert event.target_id == str(target.id)


async def test_reset_second_factor_removes_it_and_ends_their_sessions(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    target_ref = await make_user(db_session, settings, Role.editor)
    target = await db_session.get(User, target_ref.id)
    assert target is not None
    target.totp_enabled, target.totp_secret = True, "not-really-a-secret"
    await db_session.commit()
    before = target.tokens_valid_after
    csrf = await sign_in(client, db_session, settings, Role.admin)
    response = await client.post(f"/users/{target.id}/reset-totp", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert response.headers["location"] == f"/users?done=totp#user-{target.id}"
    user = await fresh(db_session, target.id)
    assert user is not None
    assert (user.totp_enabled, user.totp_secret) == (False, None)
    assert user.tokens_valid_after > before


async def test_a_missing_or_wrong_csrf_token_is_refused_and_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    target = await make_user(db_session, settings, Role.viewer)
    guard = await lock_out(app, settings, target.email)
    csrf = await sign_in(client, db_session, settings, Role.admin)
    wrong = csrf[:-1] + ("x" if csrf[-1] != "x" else "y")
    for token in (None, "", wrong):
        for path, data in (
            ("/users", {"email": "sneaky@example.com", "display_name": "S", "password": PASSWORD}),
            (f"/users/{target.id}/role", {"role": "admin"}),
            (f"/users/{target.id}/disable", {}),
            (f"/users/{target.id}/delete", {}),
            (f"/users/{target.id}/unlock", {}),
        ):
            sent = data if token is None else {**data, "csrf_token": token}
            response = await client.post(path, data=sent)
            assert response.status_code == 403, path
            assert "reload the page" in response.text
    user = await fresh(db_session, target.id)
    assert user is not None
    assert (user.role, user.is_active) == ("viewer", True)
    assert await db_session.scalar(select(User).where(User.email == "sneaky@example.com")) is None
    assert await guard.locked_for(target.email) is not None
    assert (
        await db_session.scalar(select(AuditEvent).where(AuditEvent.target_type == "user")) is None
    )
