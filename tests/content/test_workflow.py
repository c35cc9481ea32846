"""The editorial workflow through the API: submit, edit (re-checked), approve, reject, override."""

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from finagency.accounts.models import AuditEvent
from finagency.accounts.permissions import Role
from tests.fixtures.accounts import UserRef, bearer, make_user


async def _draft(app: FastAPI, client: httpx.AsyncClient, author: UserRef) -> int:
    headers = bearer(app.state.settings, author)
    for _ in range(300):
        quotes = await client.get(
            "/api/v1/market/quotes", params={"symbols": "^GSPC"}, headers=headers
        )
        if quotes.status_code == 200:
            break
        await asyncio.sleep(0.05)
    created = await client.post(
        "/api/v1/content/requests",
        json={"type": "market_update", "symbols": ["^GSPC"], "channels": ["linkedin"]},
        headers=headers,
    )
    location = created.headers["location"]
    state: Any = None
    for _ in range(300):
        state = (await client.get(location, headers=headers)).json()
        if state["status"] == "done":
            return int(state["content_id"])
        await asyncio.sleep(0.05)
    raise AssertionError(state)


async def _people(app: FastAPI) -> dict[str, UserRef]:
    async with app.state.database.session() as session:
        return {
            "analyst": await make_user(session, app.state.settings, Role.analyst),
            "editor": await make_user(session, app.state.settings, Role.editor),
            "other_editor": await make_user(session, app.state.settings, Role.editor),
            "admin": await make_user(session, app.state.settings, Role.admin),
        }


async def test_submit_approve_and_an_edit_sends_it_back_to_review(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    settings = live_app.state.settings
    people = await _people(live_app)
    content_id = await _draft(live_app, live_client, people["analyst"])
    url = f"/api/v1/content/{content_id}"
    early = await live_client.post(f"{url}/approve", headers=bearer(settings, people["editor"]))
    assert early.status_code == 409  # a draft must be submitted first
    submitted = await live_client.post(f"{url}/submit", headers=bearer(settings, people["analyst"]))
    assert submitted.json()["status"] == "in_review"
    approved = await live_client.post(f"{url}/approve", headers=bearer(settings, people["editor"]))
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert approved.json()["approved_revision"] == 1

    text = approved.json()["revision"]["text"]
    edited = await live_client.patch(
        url,
        json={"text": text + "\n\nA guaranteed double your money trade."},
        headers=bearer(settings, people["editor"]),
    )
    assert edited.status_code == 200, edited.text
    body = edited.json()
    assert body["status"] == "in_review"  # approval was of revision 1 only
    assert body["approved_revision"] is None
    assert body["revision"]["number"] == 2
    rules = {f["rule"] for f in body["findings"] if f["severity"] == "block"}
    assert "promissory" in rules
    # Blocking findings stop approval; an admin may override with a reason.
    blocked = await live_client.post(
        f"{url}/approve", headers=bearer(settings, people["other_editor"])
    )
    assert blocked.status_code == 409
    assert blocked.json()["type"].endswith("blocking-findings")
    refused = await live_client.post(
        f"{url}/override",
        json={"reason": "Quoted from a regulator's warning."},
        headers=bearer(settings, people["editor"]),
    )
    assert refused.status_code == 403
    overridden = await live_client.post(
        f"{url}/override",
        json={"reason": "Quoted from a regulator's warning."},
        headers=bearer(settings, people["admin"]),
    )
    assert overridden.json()["status"] == "approved"
    assert overridden.json()["override_reason"] == "Quoted from a regulator's warning."
    revisions = (
        await live_client.get(f"{url}/revisions", headers=bearer(settings, people["analyst"]))
    ).json()
    assert [r["number"] for r in revisions] == [1, 2]
    assert revisions[1]["provenance"]["snapshot_id"] == revisions[0]["provenance"]["snapshot_id"]
    async with live_app.state.database.session() as session:
        actions = list(
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.target_id == str(content_id))
            )
        )
    assert actions == [
        "content_submitted",
        "content_approved",
        "content_edited",
        "content_overridden",
    ]


async def test_reject_needs_a_comment_and_self_approval_can_be_forbidden(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    settings = live_app.state.settings
    people = await _people(live_app)
    content_id = await _draft(live_app, live_client, people["analyst"])
    url = f"/api/v1/content/{content_id}"
    await live_client.post(f"{url}/submit", headers=bearer(settings, people["analyst"]))
    no_comment = await live_client.post(
        f"{url}/reject", json={}, headers=bearer(settings, people["editor"])
    )
    assert no_comment.status_code == 422
    rejected = await live_client.post(
        f"{url}/reject",
        json={"comment": "Lead with the Nifty."},
        headers=bearer(settings, people["editor"]),
    )
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["review_comment"] == "Lead with the Nifty."
    # The editor rewrites it, resubmits it, and may not approve their own revision.
    text = rejected.json()["revision"]["text"]
    await live_client.patch(url, json={"text": text}, headers=bearer(settings, people["editor"]))
    await live_client.post(f"{url}/submit", headers=bearer(settings, people["editor"]))
    settings.forbid_self_approval = True
    try:
        own = await live_client.post(f"{url}/approve", headers=bearer(settings, people["editor"]))
        assert own.status_code == 403
        other = await live_client.post(
            f"{url}/approve", headers=bearer(settings, people["other_editor"])
        )
        assert other.json()["status"] == "approved"
    finally:
        settings.forbid_self_approval = None
    viewer_refused = await live_client.patch(
        url, json={"text": "x"}, headers=bearer(settings, people["analyst"])
    )
    assert viewer_refused.status_code == 403
