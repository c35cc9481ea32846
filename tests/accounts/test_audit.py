import csv
import io
import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import delete, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts import audit
from finagency.accounts.audit import Actor
from finagency.accounts.models import AuditEvent
from finagency.accounts.permissions import Role
from finagency.settings import Settings
from tests.fixtures.accounts import PASSWORD, bearer, make_user


async def test_security_events_carry_who_where_and_the_request_id(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    admin = await make_user(db_session, settings, Role.admin)
    user = await make_user(db_session, settings, Role.viewer)
    await client.post(
        "/api/v1/auth/login",
        json={"email": user.email, "password": PASSWORD},
        headers={"X-Request-ID": "login-req-1"},
    )
    await client.patch(
        f"/api/v1/users/{user.id}",
        json={"role": "analyst"},
        headers={**bearer(settings, admin), "X-Request-ID": "role-req-1"},
    )
    events = {
        e.action: e for e in await db_session.scalars(select(AuditEvent).order_by(AuditEvent.id))
    }
    login = events["login"]
    assert (login.actor_id, login.ip, login.request_id) == (user.id, "127.0.0.1", "login-req-1")
    change = events["role_changed"]
    assert change.actor_id == admin.id
    assert change.target_id == str(user.id)
    assert change.detail == {"old": "viewer", "new": "analyst"}
    assert change.request_id == "role-req-1"


async def _events(db_session: AsyncSession, count: int) -> None:
    for n in range(count):
        audit.record(db_session, "test_event", Actor(n, f"u{n}@example.com", "10.0.0.1"), n=n)
    await db_session.commit()


async def test_the_list_filters_and_pages_by_keyset(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    admin = await make_user(db_session, settings, Role.admin)
    await _events(db_session, 25)
    headers = bearer(settings, admin)
    seen: list[int] = []
    before: int | None = None
    while True:
        params: dict[str, str | int] = {"action": "test_event", "limit": 10}
        if before is not None:
            params["before_id"] = before
        page = (await client.get("/api/v1/audit", params=params, headers=headers)).json()
        seen.extend(item["id"] for item in page["items"])
        before = page["next_before_id"]
        if before is None:
            break
    assert len(seen) == 25
    assert seen == sorted(seen, reverse=True)
    one = (await client.get("/api/v1/audit", params={"actor_id": 3}, headers=headers)).json()[
        "items"
    ]
    assert [item["detail"] for item in one] == [{"n": 3}]


async def test_naive_times_are_refused(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    admin = await make_user(db_session, settings, Role.admin)
    response = await client.get(
        "/api/v1/audit", params={"since": "2026-01-01T00:00:00"}, headers=bearer(settings, admin)
    )
    assert response.status_code == 422


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
async def test_export_a_date_range(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, fmt: str
) -> None:
    admin = await make_user(db_session, settings, Role.admin)
    await _events(db_session, 3)
    audit.record(db_session, "=cmd|' /C calc'!A0", Actor(None, None, "10.0.0.2"))
    await db_session.commit()
    now = datetime.now(UTC)
    response = await client.get(
        "/api/v1/audit/export",
        params={
            "since": (now - timedelta(hours=1)).isoformat(),
            "until": (now + timedelta(hours=1)).isoformat(),
            "format": fmt,
        },
        headers=bearer(settings, admin),
    )
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    if fmt == "jsonl":
        rows = [json.loads(line) for line in response.text.splitlines()]
        actions = [row["action"] for row in rows]
    else:
        rows = list(csv.DictReader(io.StringIO(response.text)))
        actions = [row["action"] for row in rows]
        assert "'=cmd|' /C calc'!A0" in actions  # a formula is made inert
    assert actions.count("test_event") == 3
    ids = [int(row["id"]) for row in rows]
    assert ids == sorted(ids)


async def test_export_needs_a_range(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    admin = await make_user(db_session, settings, Role.admin)
    response = await client.get("/api/v1/audit/export", headers=bearer(settings, admin))
    assert response.status_code == 422


async def test_the_database_refuses_to_change_or_drop_young_events(
    db_session: AsyncSession,
) -> None:
    await _events(db_session, 1)
    with pytest.raises(DBAPIError, match="append-only"):
        async with db_session.begin_nested():
            await db_session.execute(update(AuditEvent).values(action="rewritten"))
    with pytest.raises(DBAPIError, match="cannot be deleted"):
        async with db_session.begin_nested():
            await db_session.execute(delete(AuditEvent))
    assert await db_session.scalar(text("SELECT count(*) FROM audit_events")) == 1


async def test_pruning_removes_only_events_older_than_the_retention(
    db_session: AsyncSession, settings: Settings
) -> None:
    old = AuditEvent(action="ancient", occurred_at=datetime.now(UTC) - timedelta(days=4 * 365))
    recent = AuditEvent(action="recent", occurred_at=datetime.now(UTC) - timedelta(days=2 * 365))
    db_session.add_all([old, recent])
    await db_session.commit()
    removed = await db_session.run_sync(lambda s: audit.prune(s, settings.audit_retention_days))
    assert removed == 1
    left = list(await db_session.scalars(select(AuditEvent.action)))
    assert left == ["recent"]
