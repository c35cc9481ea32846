"""Uploading, serving and attaching media through the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts.models import AuditEvent
from finagency.accounts.permissions import Role
from finagency.content.models import Content
from finagency.media.models import ContentMedia, Media
from finagency.settings import Settings
from tests.fixtures.accounts import bearer, make_user
from tests.media.images import MAX_BYTES, image_bytes, noise_png, stored_files

UPLOAD = "/api/v1/media"


@pytest.fixture
async def analyst(db_session: AsyncSession, settings: Settings) -> dict[str, str]:
    return bearer(settings, await make_user(db_session, settings, Role.analyst))


@pytest.fixture
async def editor(db_session: AsyncSession, settings: Settings) -> dict[str, str]:
    return bearer(settings, await make_user(db_session, settings, Role.editor))


async def _content(db_session: AsyncSession) -> int:
    content = Content(type="market_update")
    db_session.add(content)
    await db_session.commit()
    return content.id


def _file(data: bytes, filename: str, content_type: str = "application/octet-stream") -> Any:
    return {"file": (filename, data, content_type)}


async def _count(db_session: AsyncSession, model: type[Any]) -> int:
    return int(await db_session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")],
)
async def test_an_image_is_stored_by_content_hash_and_served(
    client: httpx.AsyncClient,
    settings: Settings,
    analyst: dict[str, str],
    fmt: str,
    content_type: str,
) -> None:
    data = image_bytes(fmt, (64, 48))
    created = await client.post(UPLOAD, files=_file(data, "picture"), headers=analyst)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["content_type"] == content_type
    assert (body["width"], body["height"], body["size"]) == (64, 48, len(data))
    assert body["name"] == f"{body['sha256']}.{body['name'].rpartition('.')[2]}"
    assert body["url"] == f"/media/{body['name']}"
    assert stored_files(settings.effective_media_dir) == [body["name"]]

    served = await client.get(body["url"])  # no credentials: published posts embed the URL
    assert served.status_code == 200
    assert served.content == data
    assert served.headers["content-type"] == content_type
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"

    read = await client.get(f"{UPLOAD}/{body['id']}", headers=analyst)
    assert read.json() == body


async def test_the_type_comes_from_the_bytes_not_the_name(
    client: httpx.AsyncClient, analyst: dict[str, str]
) -> None:
    png = await client.post(
        UPLOAD, files=_file(image_bytes("PNG"), "photo.jpg", "image/jpeg"), headers=analyst
    )
    assert png.status_code == 201
    assert png.json()["content_type"] == "image/png"
    assert png.json()["name"].endswith(".png")


@pytest.mark.parametrize(
    ("data", "filename", "detected"),
    [
        (b"hello, I am text\n", "notes.png", "text/plain"),
        (image_bytes("GIF"), "animation.png", "image/gif"),
    ],
)
async def test_other_types_are_415_and_store_nothing(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    settings: Settings,
    analyst: dict[str, str],
    data: bytes,
    filename: str,
    detected: str,
) -> None:
    refused = await client.post(UPLOAD, files=_file(data, filename, "image/png"), headers=analyst)
    assert refused.status_code == 415
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["detected"] == detected
    assert problem["accepted"] == ["image/png", "image/jpeg", "image/webp"]
    assert detected in problem["detail"]
    assert await _count(db_session, Media) == 0
    assert stored_files(settings.effective_media_dir) == []


async def test_oversize_is_413_and_stores_nothing(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, analyst: dict[str, str]
) -> None:
    just_over = b"\x89PNG\r\n\x1a\n" + bytes(MAX_BYTES - 7)  # within the form allowance
    far_over = noise_png(400)  # refused from its Content-Length, before it is read
    assert len(far_over) > 2 * MAX_BYTES
    for data in (just_over, far_over):
        refused = await client.post(UPLOAD, files=_file(data, "big.png"), headers=analyst)
        assert refused.status_code == 413, refused.text
        assert refused.json()["type"].endswith("/payload-too-large")
    assert await _count(db_session, Media) == 0
    assert stored_files(settings.effective_media_dir) == []


async def test_a_streamed_upload_is_cut_off_at_the_limit(
    client: httpx.AsyncClient, db_session: AsyncSession, analyst: dict[str, str]
) -> None:
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        # No Content-Length: only counting the body as it arrives can stop it.
        nonlocal sent
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
        for _ in range(100):
            sent += 1
            yield b"\0" * 65536
        yield b"\r\n--b--\r\n"

    refused = await client.post(
        UPLOAD,
        content=body(),
        headers={**analyst, "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert refused.status_code == 413
    assert sent < 10  # of 100 chunks (6.4 MB)
    assert await _count(db_session, Media) == 0


async def test_empty_is_422(client: httpx.AsyncClient, analyst: dict[str, str]) -> None:
    empty = await client.post(UPLOAD, files=_file(b"", "empty.png"), headers=analyst)
    assert empty.status_code == 422
    assert empty.json()["type"].endswith("/empty-file")
    missing = await client.post(UPLOAD, json={}, headers=analyst)
    assert missing.status_code == 422


async def test_the_same_bytes_twice_are_one_row_and_one_file(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, analyst: dict[str, str]
) -> None:
    data = image_bytes("PNG")
    first = await client.post(UPLOAD, files=_file(data, "a.png"), headers=analyst)
    second = await client.post(UPLOAD, files=_file(data, "b.png"), headers=analyst)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    assert stored_files(settings.effective_media_dir) == [first.json()["name"]]
    assert await _count(db_session, Media) == 1
    events = await db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "media_uploaded").order_by(AuditEvent.id)
    )
    assert [event.detail["new"] for event in events] == [True, False]


async def test_only_content_addressed_names_are_served(
    client: httpx.AsyncClient, settings: Settings, analyst: dict[str, str]
) -> None:
    stored = await client.post(UPLOAD, files=_file(image_bytes("PNG"), "a.png"), headers=analyst)
    name = stored.json()["name"]
    (settings.effective_media_dir / "secret.txt").write_text("not for you")
    (settings.effective_media_dir.parent / "outside.png").write_bytes(image_bytes("PNG"))
    for path in [
        "/media/secret.txt",
        "/media/..%2Foutside.png",
        "/media/%2e%2e%2foutside.png",
        "/media/%2E%2E/outside.png",
        f"/media/{name.upper()}",
        f"/media/{name}.txt",
        f"/media/{name[:-4]}.gif",
        f"/media/{'0' * 64}.png",  # the right shape, but never stored
        "/media/",
    ]:
        response = await client.get(path)
        assert response.status_code == 404, path
        assert b"not for you" not in response.content


async def test_a_viewer_cannot_upload(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    viewer = bearer(settings, await make_user(db_session, settings, Role.viewer))
    refused = await client.post(UPLOAD, files=_file(image_bytes("PNG"), "a.png"), headers=viewer)
    assert refused.status_code == 403
    anonymous = await client.post(UPLOAD, files=_file(image_bytes("PNG"), "a.png"))
    assert anonymous.status_code == 401
    assert stored_files(settings.effective_media_dir) == []


async def test_attach_list_and_detach(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    analyst: dict[str, str],
    editor: dict[str, str],
) -> None:
    content_id = await _content(db_session)
    attachments = f"/api/v1/content/{content_id}/media"
    uploaded = await client.post(
        UPLOAD,
        files=_file(image_bytes("PNG"), "a.png"),
        data={"content_id": str(content_id), "alt_text": "A blue square"},
        headers=analyst,
    )
    assert uploaded.status_code == 201, uploaded.text
    other = await client.post(UPLOAD, files=_file(image_bytes("JPEG"), "b.jpg"), headers=analyst)
    first_id, other_id = uploaded.json()["id"], other.json()["id"]

    attached = await client.post(
        attachments, json={"media_id": other_id, "alt_text": "A photo"}, headers=analyst
    )
    assert attached.status_code == 201, attached.text
    assert attached.json()["media"] == other.json()
    again = await client.post(
        attachments, json={"media_id": other_id, "alt_text": "Better words"}, headers=analyst
    )
    assert again.status_code == 200
    listed = (await client.get(attachments, headers=analyst)).json()
    assert [(row["media_id"], row["alt_text"]) for row in listed] == [
        (first_id, "A blue square"),
        (other_id, "Better words"),
    ]
    assert listed[0]["media"]["url"] == uploaded.json()["url"]

    # Detaching is an editor's call.
    refused = await client.delete(f"{attachments}/{first_id}", headers=analyst)
    assert refused.status_code == 403
    detached = await client.delete(f"{attachments}/{first_id}", headers=editor)
    assert detached.status_code == 204
    assert (await client.delete(f"{attachments}/{first_id}", headers=editor)).status_code == 404
    listed = (await client.get(attachments, headers=analyst)).json()
    assert [row["media_id"] for row in listed] == [other_id]
    # The image itself stays: other content may use it.
    assert (await client.get(f"{UPLOAD}/{first_id}", headers=analyst)).status_code == 200

    actions = list(
        await db_session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.action.like("media_%"))
            .order_by(AuditEvent.id)
        )
    )
    assert actions == [
        "media_uploaded",
        "media_attached",
        "media_uploaded",
        "media_attached",
        "media_attached",
        "media_detached",
    ]


async def test_unknown_content_or_media_is_404_and_changes_nothing(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    settings: Settings,
    analyst: dict[str, str],
    editor: dict[str, str],
) -> None:
    content_id = await _content(db_session)
    upload = await client.post(
        UPLOAD,
        files=_file(image_bytes("PNG"), "a.png"),
        data={"content_id": "999999"},
        headers=analyst,
    )
    assert upload.status_code == 404
    assert stored_files(settings.effective_media_dir) == []
    assert await _count(db_session, Media) == 0
    for response in [
        await client.get(f"{UPLOAD}/999999", headers=analyst),
        await client.get("/api/v1/content/999999/media", headers=analyst),
        await client.post("/api/v1/content/999999/media", json={"media_id": 1}, headers=analyst),
        await client.post(
            f"/api/v1/content/{content_id}/media", json={"media_id": 999999}, headers=analyst
        ),
        await client.delete(f"/api/v1/content/{content_id}/media/999999", headers=editor),
    ]:
        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == "application/problem+json"
    assert await _count(db_session, ContentMedia) == 0


async def test_images_of_approved_content_are_frozen_with_it(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    analyst: dict[str, str],
    editor: dict[str, str],
) -> None:
    content_id = await _content(db_session)
    attachments = f"/api/v1/content/{content_id}/media"
    uploaded = await client.post(
        UPLOAD,
        files=_file(image_bytes("PNG"), "a.png"),
        data={"content_id": str(content_id)},
        headers=analyst,
    )
    media_id = uploaded.json()["id"]
    content = await db_session.get(Content, content_id)
    assert content is not None
    content.status = "approved"
    await db_session.commit()
    other = await client.post(UPLOAD, files=_file(image_bytes("JPEG"), "b.jpg"), headers=analyst)
    for response in [
        await client.post(attachments, json={"media_id": other.json()["id"]}, headers=analyst),
        await client.delete(f"{attachments}/{media_id}", headers=editor),
        await client.post(
            UPLOAD,
            files=_file(image_bytes("WEBP"), "c.webp"),
            data={"content_id": str(content_id)},
            headers=analyst,
        ),
    ]:
        assert response.status_code == 409, response.text
        assert "approved" in response.json()["detail"]
    listed = (await client.get(attachments, headers=analyst)).json()
    assert [row["media_id"] for row in listed] == [media_id]
