"""Content under the stored compliance policy (profiles per channel, banned phrases, auto-approval,
near-duplicates of what was approved), failed requests retried, and the record-keeping export."""

import asyncio
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from finagency.accounts.models import AuditEvent
from finagency.accounts.permissions import Role
from finagency.compliance.models import ComplianceSettingsVersion
from finagency.compliance.profiles import IN_DISCLAIMER, US_DISCLAIMER
from finagency.content.models import ContentRequest
from finagency.content.renderings import escape_markdown_v2
from tests.fixtures.accounts import UserRef, bearer, make_user


async def _people(app: FastAPI) -> dict[str, UserRef]:
    async with app.state.database.session() as session:
        return {
            role.value: await make_user(session, app.state.settings, role)
            for role in (Role.analyst, Role.editor, Role.admin)
        }


async def _store_policy(app: FastAPI, **values: Any) -> None:
    row = {
        "default_profile": "us",
        "profile_by_channel": {},
        "disclaimers": {},
        "extra_banned_phrases": [],
        "registered_adviser": False,
        "auto_approve_types": [],
        "near_duplicate_days": 14,
        "reason": "test policy",
        **values,
    }
    async with app.state.database.session() as session:
        session.add(ComplianceSettingsVersion(**row))
        await session.commit()


async def _wait_for_market(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    for _ in range(300):
        quotes = await client.get(
            "/api/v1/market/quotes", params={"symbols": "^GSPC"}, headers=headers
        )
        if quotes.status_code == 200:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("no market snapshot")


async def _finished(client: httpx.AsyncClient, location: str, headers: dict[str, str]) -> Any:
    state: Any = None
    for _ in range(300):
        state = (await client.get(location, headers=headers)).json()
        if state["status"] in {"done", "failed"}:
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"request never finished: {state}")


async def _content(
    client: httpx.AsyncClient, headers: dict[str, str], channels: list[str], **extra: Any
) -> Any:
    await _wait_for_market(client, headers)
    body = {"type": "market_update", "symbols": ["^GSPC"], "channels": channels, **extra}
    created = await client.post("/api/v1/content/requests", json=body, headers=headers)
    assert created.status_code == 202, created.text
    state = await _finished(client, created.headers["location"], headers)
    assert state["status"] == "done", state
    return (await client.get(f"/api/v1/content/{state['content_id']}", headers=headers)).json()


async def test_each_channel_gets_its_profiles_disclaimer_and_the_text_carries_both(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    people = await _people(live_app)
    await _store_policy(live_app, profile_by_channel={"telegram": "in"})
    headers = bearer(live_app.state.settings, people["analyst"])
    content = await _content(live_client, headers, ["linkedin", "telegram"])
    revision = content["revision"]
    assert US_DISCLAIMER in revision["text"]
    assert IN_DISCLAIMER in revision["text"]
    linkedin = revision["renderings"]["linkedin"]["text"]
    assert US_DISCLAIMER in linkedin
    assert "SEBI" not in linkedin
    telegram = revision["renderings"]["telegram"]["text"]
    assert escape_markdown_v2(IN_DISCLAIMER) in telegram
    assert escape_markdown_v2(US_DISCLAIMER) not in telegram
    assert not [f for f in content["findings"] if f["rule"] == "disclaimer"]
    assert revision["provenance"]["compliance_version"] == 1


async def test_stored_banned_phrases_and_a_removed_disclaimer_are_found_on_edit(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    people = await _people(live_app)
    await _store_policy(live_app, extra_banned_phrases=["to the moon"])
    settings = live_app.state.settings
    content = await _content(live_client, bearer(settings, people["analyst"]), ["linkedin"])
    text = content["revision"]["text"]
    edited = await live_client.patch(
        f"/api/v1/content/{content['id']}",
        json={"text": text.replace(US_DISCLAIMER, "") + "\n\nThis one is going to the moon."},
        headers=bearer(settings, people["editor"]),
    )
    assert edited.status_code == 200, edited.text
    found = {(f["rule"], f["severity"]) for f in edited.json()["findings"]}
    assert ("promissory", "block") in found
    assert any(rule == "disclaimer" for rule, _ in found)
    # The rendering does not invent the disclaimer the editor deleted.
    assert US_DISCLAIMER not in edited.json()["revision"]["renderings"]["linkedin"]["text"]


async def test_auto_approval_is_off_by_default_and_on_per_type(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    people = await _people(live_app)
    headers = bearer(live_app.state.settings, people["analyst"])
    first = await _content(live_client, headers, ["file"])
    assert first["status"] == "draft"
    await _store_policy(live_app, auto_approve_types=["market_update"])
    second = await _content(live_client, headers, ["file"], symbols=["^NSEI"])
    assert not [f for f in second["findings"] if f["severity"] == "block"], second["findings"]
    assert second["status"] == "approved"
    assert second["approved_revision"] == 1
    async with live_app.state.database.session() as session:
        actions = list(
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.target_id == str(second["id"]))
            )
        )
    assert actions == ["content_auto_approved"]


async def test_a_text_too_close_to_an_approved_one_is_a_near_duplicate(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    people = await _people(live_app)
    settings = live_app.state.settings
    analyst, editor = bearer(settings, people["analyst"]), bearer(settings, people["editor"])
    first = await _content(live_client, analyst, ["linkedin"])
    url = f"/api/v1/content/{first['id']}"
    await live_client.post(f"{url}/submit", headers=analyst)
    approved = await live_client.post(f"{url}/approve", headers=editor)
    assert approved.status_code == 200, approved.text

    second = await _content(live_client, analyst, ["linkedin"], symbols=["^NSEI"])
    assert not [f for f in second["findings"] if f["rule"] == "near_duplicate"]
    copied = await live_client.patch(
        f"/api/v1/content/{second['id']}",
        json={"text": first["revision"]["text"]},
        headers=editor,
    )
    assert copied.status_code == 200, copied.text
    assert [f for f in copied.json()["findings"] if f["rule"] == "near_duplicate"]
    # The same text for another channel type is not a duplicate of the LinkedIn post.
    other = await _content(live_client, analyst, ["telegram"], symbols=["^NSEI"])
    retold = await live_client.patch(
        f"/api/v1/content/{other['id']}", json={"text": first["revision"]["text"]}, headers=editor
    )
    assert not [f for f in retold.json()["findings"] if f["rule"] == "near_duplicate"]


async def test_a_failed_request_can_be_retried_and_a_done_one_cannot(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    people = await _people(live_app)
    headers = bearer(live_app.state.settings, people["analyst"])
    await _wait_for_market(live_client, headers)
    async with live_app.state.database.session() as session:
        failed = ContentRequest(
            type="market_update",
            symbols=["^GSPC"],
            channels=["file"],
            status="failed",
            error="the model server answered 503",
            requested_by=people["analyst"].id,
        )
        session.add(failed)
        await session.commit()
        request_id = failed.id
    url = f"/api/v1/content/requests/{request_id}"
    retried = await live_client.post(f"{url}/retry", headers=headers)
    assert retried.status_code == 202, retried.text
    assert retried.json()["status"] == "pending"
    assert retried.json()["error"] is None
    state = await _finished(live_client, url, headers)
    assert state["status"] == "done"
    assert state["content_id"]
    again = await live_client.post(f"{url}/retry", headers=headers)
    assert again.status_code == 409
    assert "only a failed one" in again.json()["detail"]
    missing = await live_client.post("/api/v1/content/requests/999999/retry", headers=headers)
    assert missing.status_code == 404


async def test_requests_that_lack_what_their_type_needs_are_refused(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    people = await _people(live_app)
    headers = bearer(live_app.state.settings, people["analyst"])
    cases = [
        ({"type": "news_analysis", "symbols": ["^GSPC"], "channels": ["x"]}, "idea_id"),
        ({"type": "breaking_alert", "symbols": ["^GSPC"], "channels": ["x"]}, "idea_id"),
        ({"type": "educational", "symbols": ["^GSPC"], "channels": ["x"]}, "topic"),
        ({"type": "market_update", "symbols": [], "channels": ["x"]}, "symbol"),
        ({"type": "news_analysis", "idea_id": 424242, "channels": ["x"]}, "424242"),
        (
            {"type": "market_update", "symbols": ["^GSPC"], "channels": ["x"], "tone": "hype"},
            "tone",
        ),
        (
            {"type": "market_update", "symbols": ["^GSPC"], "channels": ["x"], "audience": "kids"},
            "audience",
        ),
    ]
    for body, named in cases:
        answer = await live_client.post("/api/v1/content/requests", json=body, headers=headers)
        assert answer.status_code in {404, 422}, (body, answer.text)
        assert named in answer.json()["detail"], answer.json()
    async with live_app.state.database.session() as session:
        assert not list(await session.scalars(select(ContentRequest.id)))


async def test_the_export_has_every_revision_its_findings_and_the_decisions(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    people = await _people(live_app)
    settings = live_app.state.settings
    analyst, editor = bearer(settings, people["analyst"]), bearer(settings, people["editor"])
    admin = bearer(settings, people["admin"])
    content = await _content(live_client, analyst, ["linkedin"])
    url = f"/api/v1/content/{content['id']}"
    await live_client.patch(
        url, json={"text": content["revision"]["text"] + "\n\nRisk-free gains."}, headers=editor
    )
    await live_client.post(f"{url}/submit", headers=analyst)
    await live_client.post(f"{url}/reject", json={"comment": "no promises"}, headers=editor)

    now = datetime.now(UTC)
    window = {"since": (now - timedelta(hours=1)).isoformat(), "until": now.isoformat()}
    window["until"] = (now + timedelta(minutes=1)).isoformat()
    lines = await live_client.get("/api/v1/content/export", params=window, headers=admin)
    assert lines.status_code == 200, lines.text
    assert lines.headers["content-type"].startswith("application/x-ndjson")
    records = [json.loads(line) for line in lines.text.splitlines()]
    assert [r["id"] for r in records] == [content["id"]]
    record = records[0]
    assert [r["number"] for r in record["revisions"]] == [1, 2]
    assert record["revisions"][0]["provenance"]["snapshot_id"]
    assert any(f["rule"] == "promissory" for f in record["revisions"][1]["findings"])
    assert [d["action"] for d in record["decisions"]] == [
        "content_edited",
        "content_submitted",
        "content_rejected",
    ]
    assert record["decisions"][-1]["actor_id"] == people["editor"].id

    table = await live_client.get(
        "/api/v1/content/export", params={**window, "format": "csv"}, headers=admin
    )
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert [row["revision"] for row in rows] == ["1", "2"]
    assert rows[1]["finding_rules"].split().count("promissory") == 1
    assert int(rows[1]["blocking_findings"]) >= 1
    assert rows[1]["review_comment"] == "no promises"

    earlier = {
        "since": (now - timedelta(days=3)).isoformat(),
        "until": (now - timedelta(days=2)).isoformat(),
    }
    empty = await live_client.get("/api/v1/content/export", params=earlier, headers=admin)
    assert empty.status_code == 200
    assert empty.text == ""
    backwards = {"since": window["until"], "until": window["since"]}
    refused = await live_client.get("/api/v1/content/export", params=backwards, headers=admin)
    assert refused.status_code == 422
    naive = {"since": "2026-11-01T00:00:00", "until": "2026-11-02T00:00:00"}
    refused = await live_client.get("/api/v1/content/export", params=naive, headers=admin)
    assert refused.status_code == 422
    assert "time zone" in refused.json()["detail"]
    forbidden = await live_client.get("/api/v1/content/export", params=window, headers=editor)
    assert forbidden.status_code == 403


async def test_a_market_update_can_carry_a_chart_of_its_first_symbol(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    people = await _people(live_app)
    headers = bearer(live_app.state.settings, people["analyst"])
    content = await _content(live_client, headers, ["file"], symbols=["^NSEI"], chart=True)
    attached = await live_client.get(f"/api/v1/content/{content['id']}/media", headers=headers)
    assert attached.status_code == 200, attached.text
    [chart] = attached.json()
    image = await live_client.get(chart["url"] if "url" in chart else chart["media"]["url"])
    assert image.status_code == 200
    assert image.content.startswith(b"\x89PNG\r\n\x1a\n")
    plain = await _content(live_client, headers, ["file"], symbols=["^NSEI"])
    nothing = await live_client.get(f"/api/v1/content/{plain['id']}/media", headers=headers)
    assert nothing.json() == []
