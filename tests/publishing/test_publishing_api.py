"""Publishing through the API in embedded mode: an approved draft goes out once to the file
channel at its time; duplicates, simulated data, pause, cancel, resolve and retry."""

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from finagency.accounts.permissions import Role
from finagency.publishing.models import Publication
from tests.fixtures.accounts import UserRef, bearer, make_user

PUBLISHED_FILE = 'finagency_posts_total{channel="file",status="published"}'


def _sample(metrics: str, series: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{series} is not exported")


async def _people(app: FastAPI) -> dict[str, dict[str, str]]:
    settings = app.state.settings
    async with app.state.database.session() as session:
        users: dict[str, UserRef] = {
            role.value: await make_user(session, settings, role) for role in Role
        }
    return {name: bearer(settings, user) for name, user in users.items()}


async def _until(call: Any, done: Any, timeout: float = 15.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    value = None
    while asyncio.get_running_loop().time() < deadline:
        value = await call()
        if done(value):
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"not reached in {timeout}s: {value}")


async def _approved(
    client: httpx.AsyncClient,
    people: dict[str, dict[str, str]],
    symbols: list[str],
    channels: list[str] | None = None,
) -> dict[str, Any]:
    await _until(
        lambda: client.get(
            "/api/v1/market/quotes", params={"symbols": "^GSPC"}, headers=people["viewer"]
        ),
        lambda r: r.status_code == 200,
    )
    body = {"type": "market_update", "symbols": symbols, "channels": channels or ["file"]}
    created = await client.post("/api/v1/content/requests", json=body, headers=people["analyst"])
    location = created.headers["location"]
    state = await _until(
        lambda: client.get(location, headers=people["analyst"]),
        lambda r: r.json()["status"] in {"done", "failed"},
    )
    content_id = state.json()["content_id"]
    url = f"/api/v1/content/{content_id}"
    await client.post(f"{url}/submit", headers=people["analyst"])
    approved = await client.post(f"{url}/approve", headers=people["editor"])
    assert approved.status_code == 200, approved.text
    return dict(approved.json())


async def _channel(
    client: httpx.AsyncClient, people: dict[str, dict[str, str]], **body: Any
) -> dict[str, Any]:
    created = await client.post("/api/v1/channels", json=body, headers=people["admin"])
    assert created.status_code == 201, created.text
    return dict(created.json())


def _outbox(app: FastAPI, name: str) -> list[dict[str, Any]]:
    path = Path(app.state.settings.data_dir) / "outbox" / f"{name}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def test_an_approved_draft_goes_out_once_to_the_file_channel(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    people = await _people(live_app)
    content = await _approved(live_client, people, ["^GSPC"])
    desk = await _channel(live_client, people, type="file", name="desk")
    published_before = _sample((await live_client.get("/metrics")).text, PUBLISHED_FILE)
    scheduled = await live_client.post(
        "/api/v1/publications",
        json={
            "content_id": content["id"],
            "channel_ids": [desk["id"]],
            "scheduled_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        },
        headers=people["editor"],
    )
    assert scheduled.status_code == 201, scheduled.text
    [publication] = scheduled.json()
    url = f"/api/v1/publications/{publication['id']}"
    done = await _until(
        lambda: live_client.get(url, headers=people["viewer"]),
        lambda r: r.json()["status"] not in {"scheduled", "sending"},
    )
    detail = done.json()
    assert detail["status"] == "published", detail
    assert [a["outcome"] for a in detail["history"]] == ["published"]
    lines = _outbox(live_app, "desk")
    assert [line["publication_id"] for line in lines] == [publication["id"]]
    assert lines[0]["idempotency_key"]
    assert "Market update" in lines[0]["text"]

    again = await live_client.post(
        "/api/v1/publications",
        json={
            "content_id": content["id"],
            "channel_ids": [desk["id"]],
            "scheduled_at": datetime.now(UTC).isoformat(),
        },
        headers=people["editor"],
    )
    assert again.status_code == 409
    assert "already scheduled" in again.json()["detail"]
    assert (
        await live_client.get(f"/api/v1/content/{content['id']}", headers=people["viewer"])
    ).json()["status"] == "scheduled"
    metrics = (await live_client.get("/metrics")).text
    assert _sample(metrics, PUBLISHED_FILE) == published_before + 1
    assert "finagency_publishing_paused 0.0" in metrics
    await asyncio.sleep(0.5)
    assert len(_outbox(live_app, "desk")) == 1  # nothing delivered twice


async def test_a_future_publication_waits_for_its_time_and_then_goes_out_promptly(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    people = await _people(live_app)
    content = await _approved(live_client, people, ["^NSEI"])
    desk = await _channel(live_client, people, type="file", name="later")
    at = datetime.now(UTC) + timedelta(seconds=3)
    scheduled = await live_client.post(
        "/api/v1/publications",
        json={
            "content_id": content["id"],
            "channel_ids": [desk["id"]],
            "scheduled_at": at.isoformat(),
        },
        headers=people["editor"],
    )
    [publication] = scheduled.json()
    await asyncio.sleep(1.5)
    early = await live_client.get(
        f"/api/v1/publications/{publication['id']}", headers=people["viewer"]
    )
    assert early.json()["status"] == "scheduled"
    assert _outbox(live_app, "later") == []
    done = await _until(
        lambda: live_client.get(
            f"/api/v1/publications/{publication['id']}", headers=people["viewer"]
        ),
        lambda r: r.json()["status"] == "published",
    )
    published_at = datetime.fromisoformat(done.json()["published_at"])
    lag = (published_at - at).total_seconds()
    assert 0 <= lag < 2.5, lag


async def test_the_kill_switch_holds_everything_and_resume_sends_it(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    people = await _people(live_app)
    content = await _approved(live_client, people, ["^GSPC"])
    desk = await _channel(live_client, people, type="file", name="paused")
    refused = await live_client.post("/api/v1/publishing/pause", headers=people["editor"])
    assert refused.status_code == 403
    paused = await live_client.post(
        "/api/v1/publishing/pause", json={"reason": "market holiday"}, headers=people["admin"]
    )
    assert paused.json()["paused"] is True
    assert paused.json()["reason"] == "market holiday"
    scheduled = await live_client.post(
        "/api/v1/publications",
        json={
            "content_id": content["id"],
            "channel_ids": [desk["id"]],
            "scheduled_at": datetime.now(UTC).isoformat(),
        },
        headers=people["editor"],
    )
    [publication] = scheduled.json()
    await asyncio.sleep(2.5)
    assert _outbox(live_app, "paused") == []
    status = (await live_client.get("/api/v1/publishing/status", headers=people["viewer"])).json()
    assert status["paused"] is True
    assert status["queue_depth"]["file"] == 1
    assert status["oldest_due_seconds"] > 1
    assert "finagency_publishing_paused 1.0" in (await live_client.get("/metrics")).text

    resumed = await live_client.post("/api/v1/publishing/resume", headers=people["admin"])
    assert resumed.json()["paused"] is False
    await _until(
        lambda: live_client.get(
            f"/api/v1/publications/{publication['id']}", headers=people["viewer"]
        ),
        lambda r: r.json()["status"] == "published",
    )
    assert len(_outbox(live_app, "paused")) == 1


async def test_cancel_reschedule_resolve_and_retry(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    people = await _people(live_app)
    content = await _approved(live_client, people, ["^GSPC"])
    desk = await _channel(live_client, people, type="file", name="life")
    later = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    [publication] = (
        await live_client.post(
            "/api/v1/publications",
            json={"content_id": content["id"], "channel_ids": [desk["id"]], "scheduled_at": later},
            headers=people["editor"],
        )
    ).json()
    url = f"/api/v1/publications/{publication['id']}"
    cancelled = await live_client.post(f"{url}/cancel", headers=people["editor"])
    assert cancelled.json()["status"] == "cancelled"
    # Nothing else on its way: the content is approved again (and can be edited).
    content_url = f"/api/v1/content/{content['id']}"
    assert (await live_client.get(content_url, headers=people["viewer"])).json()[
        "status"
    ] == "approved"
    assert (await live_client.post(f"{url}/cancel", headers=people["editor"])).status_code == 409
    naive = await live_client.patch(
        url, json={"scheduled_at": "2026-12-01T09:00:00"}, headers=people["editor"]
    )
    assert naive.status_code == 422
    moved = await live_client.patch(url, json={"scheduled_at": later}, headers=people["editor"])
    assert moved.json()["status"] == "scheduled"
    assert (await live_client.get(content_url, headers=people["viewer"])).json()[
        "status"
    ] == "scheduled"

    # An unknown send is resolved by a person; a failed one is retried.
    async with live_app.state.database.session() as session:
        await session.execute(
            update(Publication).where(Publication.id == publication["id"]).values(status="unknown")
        )
        await session.commit()
    not_unknown = await live_client.post(f"{url}/retry", headers=people["editor"])
    assert not_unknown.status_code == 409
    resolved = await live_client.post(
        f"{url}/resolve",
        json={
            "outcome": "published",
            "note": "Seen on the desk feed.",
            "post_url": "https://example.com/p/1",
        },
        headers=people["editor"],
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["status"] == "published"
    assert resolved.json()["resolution"] == "Seen on the desk feed."
    again = await live_client.post(
        f"{url}/resolve", json={"outcome": "cancel", "note": "twice"}, headers=people["editor"]
    )
    assert again.status_code == 409

    async with live_app.state.database.session() as session:
        await session.execute(
            update(Publication).where(Publication.id == publication["id"]).values(status="failed")
        )
        await session.commit()
    retried = await live_client.post(f"{url}/retry", headers=people["editor"])
    assert retried.json()["status"] == "retry"
    await _until(
        lambda: live_client.get(url, headers=people["viewer"]),
        lambda r: r.json()["status"] == "published" and r.json()["attempts"] == 1,
    )
    assert len(_outbox(live_app, "life")) == 1


async def test_bad_scheduling_is_refused_and_changes_nothing(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    people = await _people(live_app)
    content = await _approved(live_client, people, ["^GSPC"], ["file", "x"])
    desk = await _channel(live_client, people, type="file", name="strict")
    hook = await _channel(
        live_client,
        people,
        type="webhook",
        name="partner",
        config={"url": "http://127.0.0.1:9/hook"},
        credentials={"secret": "a-long-enough-shared-secret"},
    )
    assert hook["credentials"] == {"secret": "••••cret"}
    assert "a-long-enough" not in json.dumps(hook)
    now = datetime.now(UTC).isoformat()

    async def schedule(**body: Any) -> httpx.Response:
        payload = {"content_id": content["id"], "channel_ids": [desk["id"]], "scheduled_at": now}
        return await live_client.post(
            "/api/v1/publications", json={**payload, **body}, headers=people["editor"]
        )

    cases = [
        (schedule(scheduled_at="2026-12-01T09:00:00"), 422, "time zone"),
        (schedule(channel_ids=[999999]), 404, "999999"),
        (schedule(content_id=999999), 404, "999999"),
        (schedule(channel_ids=[hook["id"]]), 422, "not rendered for webhook"),
    ]
    for call, code, named in cases:
        answer = await call
        assert answer.status_code == code, answer.text
        assert named in answer.json()["detail"]
    draft = await live_client.post(
        "/api/v1/content/requests",
        json={"type": "market_update", "symbols": ["^GSPC"], "channels": ["file"]},
        headers=people["analyst"],
    )
    assert draft.status_code == 202
    listed = await live_client.get("/api/v1/publications", headers=people["viewer"])
    assert listed.json()["items"] == []
    bad_filter = await live_client.get(
        "/api/v1/publications", params={"status": "lost"}, headers=people["viewer"]
    )
    assert bad_filter.status_code == 422

    bad_channels = [
        ({"type": "file", "name": "../etc"}, 422),
        ({"type": "pigeon", "name": "coop"}, 422),
        ({"type": "file", "name": "strict"}, 409),
        ({"type": "file", "name": "capped", "limits": {"per_hour": 0}}, 422),
        (
            {
                "type": "file",
                "name": "windowed",
                "posting_window": {"timezone": "Nowhere/City", "start": "09:00", "end": "17:00"},
            },
            422,
        ),
        ({"type": "webhook", "name": "nohook", "config": {}, "credentials": {}}, 422),
    ]
    for body, code in bad_channels:
        answer = await live_client.post("/api/v1/channels", json=body, headers=people["admin"])
        assert answer.status_code == code, (body, answer.text)
    names = [
        c["name"]
        for c in (await live_client.get("/api/v1/channels", headers=people["viewer"])).json()
    ]
    assert names == ["strict", "partner"]


async def test_simulated_content_goes_only_to_file_and_webhook_unless_an_admin_allows_it(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    people = await _people(live_app)
    content = await _approved(live_client, people, ["^GSPC"], ["file", "email"])
    assert content["simulated"] is True  # the embedded market feed is simulated
    mail = await _channel(
        live_client,
        people,
        type="email",
        name="subscribers",
        config={"recipients": ["list@example.com"], "host": "127.0.0.1", "port": 2525},
    )
    body = {
        "content_id": content["id"],
        "channel_ids": [mail["id"]],
        "scheduled_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
    }
    refused = await live_client.post("/api/v1/publications", json=body, headers=people["editor"])
    assert refused.status_code == 409
    assert "simulated" in refused.json()["detail"]
    not_admin = await live_client.post(
        "/api/v1/publications", json={**body, "allow_simulated": True}, headers=people["editor"]
    )
    assert not_admin.status_code == 403
    allowed = await live_client.post(
        "/api/v1/publications", json={**body, "allow_simulated": True}, headers=people["admin"]
    )
    assert allowed.status_code == 201, allowed.text


async def test_nearly_the_same_text_to_the_same_channel_needs_an_editor_to_force_it(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    people = await _people(live_app)
    first = await _approved(live_client, people, ["^GSPC"])
    second = await _approved(live_client, people, ["^NSEI"])
    # An editor rewrites the second into nearly the first (compliance flags it; an admin
    # overrides, so that the publisher's own guard is what is tested here).
    url = f"/api/v1/content/{second['id']}"
    text = first["revision"]["text"].replace("Market update", "Market update, once more")
    edited = await live_client.patch(url, json={"text": text}, headers=people["editor"])
    assert any(f["rule"] == "near_duplicate" for f in edited.json()["findings"])
    override = {"reason": "A deliberate twin for the duplicate guard."}
    second = (
        await live_client.post(f"{url}/override", json=override, headers=people["admin"])
    ).json()
    assert second["status"] == "approved"
    desk = await _channel(live_client, people, type="file", name="twins")
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()

    async def schedule(content: dict[str, Any], **extra: Any) -> httpx.Response:
        body = {"content_id": content["id"], "channel_ids": [desk["id"]], "scheduled_at": later}
        return await live_client.post(
            "/api/v1/publications", json={**body, **extra}, headers=people["editor"]
        )

    assert (await schedule(first)).status_code == 201
    twin = await schedule(second)
    assert twin.status_code == 409, twin.text
    assert twin.json()["type"].endswith("duplicate-content")
    forced = await schedule(second, force_duplicate=True)
    assert forced.status_code == 201, forced.text


async def test_a_published_post_is_retracted_or_corrected(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    people = await _people(live_app)
    content = await _approved(live_client, people, ["^GSPC"])
    desk = await _channel(live_client, people, type="file", name="wire")
    [publication] = (
        await live_client.post(
            "/api/v1/publications",
            json={
                "content_id": content["id"],
                "channel_ids": [desk["id"]],
                "scheduled_at": datetime.now(UTC).isoformat(),
            },
            headers=people["editor"],
        )
    ).json()
    url = f"/api/v1/publications/{publication['id']}"
    await _until(
        lambda: live_client.get(url, headers=people["viewer"]),
        lambda r: r.json()["status"] == "published",
    )
    retracted = await live_client.post(
        f"{url}/retract", json={"reason": "The close was misquoted."}, headers=people["editor"]
    )
    assert retracted.status_code == 200, retracted.text
    assert retracted.json()["done"] == "deleted"
    assert retracted.json()["publication"]["retracted_at"]
    lines = _outbox(live_app, "wire")
    assert [line.get("retraction") for line in lines] == [None, publication["id"]]
    detail = (await live_client.get(url, headers=people["viewer"])).json()
    assert [a["outcome"] for a in detail["history"]] == ["published", "retracted"]
    twice = await live_client.post(
        f"{url}/retract", json={"reason": "Again."}, headers=people["editor"]
    )
    assert twice.status_code == 409


async def test_verify_asks_the_platform_and_records_the_answer(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    people = await _people(live_app)
    desk = await _channel(live_client, people, type="file", name="verified")
    verified = await live_client.post(
        f"/api/v1/channels/{desk['id']}/verify", headers=people["admin"]
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["ok"] is True
    assert verified.json()["identity"].endswith("outbox/verified.jsonl")
    shown = (
        await live_client.get(f"/api/v1/channels/{desk['id']}", headers=people["viewer"])
    ).json()
    assert shown["verified_at"]
    assert shown["verified_identity"] == verified.json()["identity"]

    gone = await _channel(
        live_client,
        people,
        type="webhook",
        name="gone",
        config={"url": "http://127.0.0.1:9/hook"},  # the discard port: nobody answers
        credentials={"secret": "a-long-enough-shared-secret"},
    )
    refused = await live_client.post(
        f"/api/v1/channels/{gone['id']}/verify", headers=people["admin"]
    )
    assert refused.status_code == 200
    assert refused.json()["ok"] is False
    assert refused.json()["error"]
    shown = (
        await live_client.get(f"/api/v1/channels/{gone['id']}", headers=people["viewer"])
    ).json()
    assert shown["verified_at"] is None
    assert shown["last_verify_error"] == refused.json()["error"]
    editor = await live_client.post(
        f"/api/v1/channels/{gone['id']}/verify", headers=people["editor"]
    )
    assert editor.status_code == 403


async def test_where_a_post_cannot_be_deleted_a_linked_correction_is_sent(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    from tests.fixtures.webhook_receiver import Fault, run_webhook_receiver

    people = await _people(live_app)
    content = await _approved(live_client, people, ["^GSPC"], ["webhook"])
    with run_webhook_receiver("a-long-enough-shared-secret") as receiver:
        hook = await _channel(
            live_client,
            people,
            type="webhook",
            name="partner-feed",
            config={"url": receiver.url},
            credentials={"secret": "a-long-enough-shared-secret"},
        )
        [publication] = (
            await live_client.post(
                "/api/v1/publications",
                json={
                    "content_id": content["id"],
                    "channel_ids": [hook["id"]],
                    "scheduled_at": datetime.now(UTC).isoformat(),
                },
                headers=people["editor"],
            )
        ).json()
        url = f"/api/v1/publications/{publication['id']}"
        await _until(
            lambda: live_client.get(url, headers=people["viewer"]),
            lambda r: r.json()["status"] == "published",
        )
        receiver.play(Fault.answer(410))  # the partner cannot take the post back
        retracted = await live_client.post(
            f"{url}/retract", json={"reason": "The close was misquoted."}, headers=people["editor"]
        )
        assert retracted.status_code == 200, retracted.text
        assert retracted.json()["done"] == "corrected"
        [original, correction] = receiver.events()
        assert original["publication_id"] == publication["id"]
        assert correction["title"].startswith("Correction: ")
        assert "The close was misquoted." in correction["text"]
        assert correction["idempotency_key"] == f"{original['idempotency_key']}-correction"
    detail = (await live_client.get(url, headers=people["viewer"])).json()
    assert [a["outcome"] for a in detail["history"]] == ["published", "corrected"]


async def test_a_channel_patch_with_null_config_or_enabled_is_refused(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    people = await _people(live_app)
    desk = await _channel(live_client, people, type="file", name="desk-null")
    url = f"/api/v1/channels/{desk['id']}"
    for body, field in (({"config": None}, "config"), ({"enabled": None}, "enabled")):
        refused = await live_client.patch(url, json=body, headers=people["admin"])
        assert refused.status_code == 422, refused.text
        assert f"{field} cannot be null" in refused.text
    after = (await live_client.get(url, headers=people["admin"])).json()
    assert (after["enabled"], after["config"]) == (True, desk["config"])
    # Null still means "none" for the posting window.
    cleared = await live_client.patch(url, json={"posting_window": None}, headers=people["admin"])
    assert cleared.status_code == 200, cleared.text
