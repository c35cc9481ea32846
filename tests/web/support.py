"""Builders and readers for the dashboard tests: signed-in browsers, drafts, publications."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts import sessions
from finagency.accounts.dependencies import SESSION_COOKIE
from finagency.accounts.models import User
from finagency.accounts.permissions import Role
from finagency.content.models import Content, ContentRequest, FindingRecord, Revision
from finagency.publishing.models import Channel, Publication
from finagency.settings import Settings
from tests.fixtures.accounts import make_user


async def sign_in(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, role: Role
) -> str:
    """A browser session for a new user of `role`, set on the client; its CSRF token."""
    ref = await make_user(session, settings, role)
    user = await session.get(User, ref.id)
    assert user is not None
    cookie, web_session = await sessions.start_web_session(session, settings, user)
    await session.commit()
    client.cookies.set(SESSION_COOKIE, cookie)
    return web_session.csrf_token


async def make_draft(
    session: AsyncSession,
    text: str,
    findings: Sequence[tuple[str, str, str, int, int]] = (),
    status: str = "in_review",
    content_type: str = "market_update",
    renderings: dict[str, Any] | None = None,
) -> Content:
    content = Content(type=content_type, status=status)
    session.add(content)
    await session.flush()
    revision = Revision(
        content_id=content.id,
        number=1,
        title=text.partition("\n")[0],
        text=text,
        renderings=renderings or {"x": {"posts": [text[:200]]}},
        provenance={"snapshot_id": 7, "writer": "template", "template_version": "t1"},
    )
    session.add(revision)
    await session.flush()
    session.add_all(
        FindingRecord(revision_id=revision.id, rule=r, severity=s, message=m, start=start, end=end)
        for r, s, m, start, end in findings
    )
    await session.commit()
    return content


async def make_request(session: AsyncSession, created_at: datetime) -> None:
    session.add(
        ContentRequest(
            type="market_update", symbols=["^GSPC"], channels=["x"], created_at=created_at
        )
    )
    await session.flush()


async def make_channel(session: AsyncSession, kind: str) -> Channel:
    channel = Channel(type=kind, name=f"{kind}-{uuid.uuid4().hex[:6]}", config={})
    session.add(channel)
    await session.flush()
    return channel


async def make_publication(
    session: AsyncSession,
    content: Content,
    channel_type: str,
    status: str,
    scheduled_at: datetime,
    published_at: datetime | None = None,
    updated_at: datetime | None = None,
) -> Publication:
    # A channel of its own: the same revision goes to the same channel only once.
    channel = await make_channel(session, channel_type)
    publication = Publication(
        content_id=content.id,
        revision_number=1,
        channel_id=channel.id,
        idempotency_key=uuid.uuid4().hex,
        status=status,
        scheduled_at=scheduled_at,
        requested_at=scheduled_at,
        due_at=scheduled_at,
        published_at=published_at,
        created_at=scheduled_at,
        updated_at=updated_at or published_at or scheduled_at,
    )
    session.add(publication)
    await session.flush()
    return publication


@dataclass
class Element:
    tag: str
    attrs: dict[str, str | None]
    text: str = ""


class PageReader(HTMLParser):
    """Every element with its attributes, and the text inside <script>, <style>, <mark>, <a>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self._open: list[Element] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, dict(attrs))
        self.elements.append(element)
        if tag in {"script", "style", "mark", "a"}:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index].tag == tag:
                del self._open[index:]
                break

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element.text += data

    def all(self, tag: str) -> list[Element]:
        return [e for e in self.elements if e.tag == tag]


def read(html: str) -> PageReader:
    reader = PageReader()
    reader.feed(html)
    reader.close()
    return reader
