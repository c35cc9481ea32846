"""A content request through the API becomes a checked draft (embedded: the in-process worker)."""

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI

from finagency.accounts.permissions import Role
from tests.fixtures.accounts import bearer, make_user


async def _wait_done(client: httpx.AsyncClient, location: str, headers: dict[str, str]) -> Any:
    state: Any = None
    for _ in range(300):
        state = (await client.get(location, headers=headers)).json()
        if state["status"] in {"done", "failed"}:
            return state
        await asyncio.sleep(0.05)
    raise AssertionError(f"request never finished: {state}")


async def _wait_for_market(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    for _ in range(300):
        quotes = await client.get(
            "/api/v1/market/quotes", params={"symbols": "^GSPC"}, headers=headers
        )
        if quotes.status_code == 200:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("no market snapshot")


async def test_a_request_becomes_a_checked_draft_with_provenance(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    settings = live_app.state.settings
    async with live_app.state.database.session() as session:
        analyst = await make_user(session, settings, Role.analyst)
    headers = bearer(settings, analyst)
    await _wait_for_market(live_client, headers)
    body = {
        "type": "market_update",
        "symbols": ["^GSPC", "^NSEI"],
        "channels": ["x", "telegram", "email", "file"],
    }
    created = await live_client.post(
        "/api/v1/content/requests", json=body, headers={**headers, "Idempotency-Key": "k-1"}
    )
    assert created.status_code == 202, created.text
    location = created.headers["location"]
    # A retried request with the same key is the same request.
    retried = await live_client.post(
        "/api/v1/content/requests", json=body, headers={**headers, "Idempotency-Key": "k-1"}
    )
    assert retried.json()["id"] == created.json()["id"]
    state = await _wait_done(live_client, location, headers)
    assert state["status"] == "done", state
    content = (
        await live_client.get(f"/api/v1/content/{state['content_id']}", headers=headers)
    ).json()
    assert content["status"] == "draft"
    assert content["simulated"] is True
    revision = content["revision"]
    assert revision["provenance"]["writer"] == "template"
    assert isinstance(revision["provenance"]["snapshot_id"], int)
    assert set(revision["renderings"]) == {"x", "telegram", "email", "file"}
    assert all(len(post) <= 280 for post in revision["renderings"]["x"]["posts"])
    # Every figure came from the snapshot, the disclaimer and the simulated mark are there,
    # the X thread fits: nothing blocks.
    assert [f for f in content["findings"] if f["severity"] == "block"] == []
    findings = await live_client.get(
        f"/api/v1/content/{state['content_id']}/findings", headers=headers
    )
    assert findings.json() == content["findings"]
    listed = (await live_client.get("/api/v1/content", headers=headers)).json()
    assert [item["id"] for item in listed["items"]] == [state["content_id"]]


async def test_bad_requests_are_refused_and_change_nothing(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    settings = live_app.state.settings
    async with live_app.state.database.session() as session:
        analyst = await make_user(session, settings, Role.analyst)
        viewer = await make_user(session, settings, Role.viewer)
    headers = bearer(settings, analyst)
    base = {"type": "market_update", "symbols": ["^GSPC"], "channels": ["x"]}
    cases = [
        ({**base, "type": "horoscope"}, 422),
        ({**base, "symbols": ["NOPE"]}, 404),
        ({**base, "channels": ["fax"]}, 422),
        ({**base, "idea_id": 999999}, 404),
        ({**base, "symbols": []}, 422),
        ({"type": "market_update"}, 422),
    ]
    for body, expected in cases:
        response = await live_client.post("/api/v1/content/requests", json=body, headers=headers)
        assert response.status_code == expected, (body, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    refused = await live_client.post(
        "/api/v1/content/requests", json=base, headers=bearer(settings, viewer)
    )
    assert refused.status_code == 403
    listed = (await live_client.get("/api/v1/content", headers=headers)).json()
    assert listed["items"] == []
    missing = await live_client.get("/api/v1/content/requests/999999", headers=headers)
    assert missing.status_code == 404
