"""The Research page: ideas by score and urgency, keywords, drafting from an idea, dismissing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from finagency import tasks
from finagency.accounts.models import AuditEvent
from finagency.accounts.permissions import Role
from finagency.content.models import ContentRequest
from finagency.db import utcnow
from finagency.research.models import ContentIdea, Feed, NewsItem, content_idea_news_items
from finagency.research.scoring import title_hash
from finagency.settings import Settings
from tests.web.support import make_channel, read, sign_in

Queued = list[tuple[str, tuple[object, ...]]]


@pytest.fixture
def queued() -> Iterator[Queued]:
    """The tasks enqueued after each commit (instead of the app's own queue)."""
    jobs: Queued = []

    class Recorder:
        def enqueue(self, name: str, *args: object) -> None:
            jobs.append((name, args))

    previous = tasks._current_queue
    tasks.use_task_queue(Recorder())
    yield jobs
    tasks.use_task_queue(previous)


async def make_item(
    session: AsyncSession,
    title: str,
    hours_ago: float = 1,
    keywords: list[str] | None = None,
    feed: Feed | None = None,
    url: str | None = None,
) -> NewsItem:
    item = NewsItem(
        feed_id=feed.id if feed else None,
        canonical_url=url or f"https://news.example.com/{title_hash(title)[:12]}",
        title=title,
        normalized_title_hash=title_hash(title),
        published_at=utcnow() - timedelta(hours=hours_ago),
        keywords=keywords or [],
        symbols=[],
        score=1.0,
    )
    session.add(item)
    await session.flush()
    return item


async def make_idea(
    session: AsyncSession,
    title: str,
    score: float,
    urgency: str = "normal",
    status: str = "new",
    symbols: list[str] | None = None,
    content_type: str = "news_analysis",
    items: list[NewsItem] | None = None,
    hours_ago: float = 2,
) -> int:
    idea = ContentIdea(
        title=title,
        score=score,
        urgency=urgency,
        content_type=content_type,
        status=status,
        symbols=["^GSPC"] if symbols is None else symbols,
        reasons=["source +2.0"],
        created_at=utcnow() - timedelta(hours=hours_ago),
    )
    session.add(idea)
    await session.flush()
    for item in items or []:
        await session.execute(
            content_idea_news_items.insert().values(content_idea_id=idea.id, news_item_id=item.id)
        )
    await session.commit()
    return idea.id


def idea_html(html: str, idea_id: int) -> str:
    """The markup of one idea of the list."""
    rest = html.split(f'id="idea-{idea_id}"', 1)[1]
    return rest.split('<li class="idea"', 1)[0].split("</ol>", 1)[0]


def idea_ids(html: str) -> list[int]:
    return [int(e.attrs["data-idea"] or 0) for e in read(html).all("li") if "data-idea" in e.attrs]


async def request_count(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(ContentRequest)) or 0)


async def idea_status(session: AsyncSession, idea_id: int) -> str:
    idea = await session.get(ContentIdea, idea_id)
    assert idea is not None
    await session.refresh(idea)
    return idea.status


async def test_open_ideas_by_score_then_urgency_with_their_sources_and_the_keywords(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    feed = Feed(url="https://wire.example.com/rss", name="Example Wire")
    db_session.add(feed)
    await db_session.flush()
    story = await make_item(db_session, "Fed holds rates", keywords=["fed", "rates"], feed=feed)
    odd = await make_item(db_session, "Odd link", url="ftp://files.example.com/odd")
    await make_item(db_session, "Rates again", keywords=["rates"])
    await make_item(db_session, "Old rates story", hours_ago=60, keywords=["rates"])
    low = await make_idea(db_session, "Low", 9.0, "low", hours_ago=30)
    breaking = await make_idea(
        db_session, "Breaking", 12.0, "breaking", symbols=["^GSPC", "^NSEI"], items=[story, odd]
    )
    high = await make_idea(db_session, "High", 12.0, "high")
    top = await make_idea(db_session, "Top", 20.0, "normal")
    dismissed = await make_idea(db_session, "Old news", 30.0, status="dismissed")
    await sign_in(client, db_session, settings, Role.viewer)

    response = await client.get("/research")
    assert response.status_code == 200
    html = response.text
    assert idea_ids(html) == [top, breaking, high, low]  # open ones only, by default
    page = read(html)
    shown = idea_html(html, breaking)
    assert "urgency-breaking" in shown
    assert "12.00" in shown
    assert "news analysis" in shown
    assert "^GSPC" in shown
    assert "^NSEI" in shown
    assert "Example Wire" in shown
    # A stored news item links to its address; only http(s) addresses become links.
    links = {a.text.strip(): a.attrs for a in page.all("a")}
    assert links["Fed holds rates"]["href"] == story.canonical_url
    assert "Odd link" not in links
    assert "Odd link" in shown
    assert "2 h ago" in shown
    assert "1 d 6 h ago" in html  # the low idea, 30 hours old

    keywords = [e.attrs["data-keyword"] for e in page.all("li") if "data-keyword" in e.attrs]
    assert keywords[:2] == ["rates", "fed"]  # two stories today beat one
    rates = html.split('data-keyword="rates"', 1)[1].split("</li>", 1)[0]
    assert "2 <span" in rates

    everything = await client.get("/research", params={"status": "any"})
    assert idea_ids(everything.text) == [dismissed, top, breaking, high, low]
    best = await client.get("/research", params={"min_score": "12", "limit": "2"})
    assert idea_ids(best.text) == [top, breaking]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"status": "open-ish"}, "Unknown status &#39;open-ish&#39;"),
        ({"min_score": "-1"}, "minimum score must be a number of 0 or more"),
        ({"min_score": "nan"}, "minimum score must be a number of 0 or more"),
        ({"limit": "0"}, "Show 1 to 200 ideas"),
        ({"limit": "lots"}, "Show 1 to 200 ideas"),
        ({"limit": "²"}, "Show 1 to 200 ideas"),
    ],
)
async def test_bad_filters_are_a_422_page_with_the_reason(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    settings: Settings,
    params: dict[str, str],
    message: str,
) -> None:
    await make_idea(db_session, "Anything", 10.0)
    await sign_in(client, db_session, settings, Role.viewer)
    response = await client.get("/research", params=params)
    assert response.status_code == 422
    assert message in response.text
    assert idea_ids(response.text) == []


async def test_actions_are_shown_only_to_roles_that_may_take_them_and_refused_otherwise(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, queued: Queued
) -> None:
    idea = await make_idea(db_session, "Rates on hold", 10.0)
    draft, dismiss = f"/research/ideas/{idea}/draft", f"/research/ideas/{idea}/dismiss"

    csrf = await sign_in(client, db_session, settings, Role.viewer)
    html = (await client.get("/research")).text
    assert f'action="{draft}"' not in html
    assert f'action="{dismiss}"' not in html
    for path in (draft, dismiss):
        refused = await client.post(path, data={"csrf_token": csrf, "channels": "x"})
        assert refused.status_code == 403
        assert "does not allow" in refused.text

    csrf = await sign_in(client, db_session, settings, Role.analyst)
    html = (await client.get("/research")).text
    assert f'action="{draft}"' in html
    assert f'action="{dismiss}"' not in html
    refused = await client.post(dismiss, data={"csrf_token": csrf})
    assert refused.status_code == 403

    await sign_in(client, db_session, settings, Role.editor)
    html = (await client.get("/research")).text
    assert f'action="{draft}"' in html
    assert f'action="{dismiss}"' in html

    assert await request_count(db_session) == 0
    assert await idea_status(db_session, idea) == "new"
    assert queued == []


async def test_a_missing_or_wrong_csrf_token_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, queued: Queued
) -> None:
    idea = await make_idea(db_session, "Rates on hold", 10.0)
    csrf = await sign_in(client, db_session, settings, Role.editor)
    for token in (None, "", csrf[:-1] + ("x" if csrf[-1] != "x" else "y")):
        for action in ("draft", "dismiss"):
            data = {"channels": "x"} if token is None else {"channels": "x", "csrf_token": token}
            response = await client.post(f"/research/ideas/{idea}/{action}", data=data)
            assert response.status_code == 403
            assert "reload the page" in response.text
    assert await request_count(db_session) == 0
    assert await idea_status(db_session, idea) == "new"
    assert queued == []


async def test_an_analyst_drafts_from_an_idea_as_the_api_does(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, queued: Queued
) -> None:
    await make_channel(db_session, "telegram")
    await make_channel(db_session, "file")
    await db_session.commit()
    idea = await make_idea(db_session, "Nifty at a record", 14.0, symbols=["^NSEI", "^GSPC"])
    csrf = await sign_in(client, db_session, settings, Role.analyst)
    html = (await client.get("/research")).text
    form = html.split(f'action="/research/ideas/{idea}/draft"', 1)[1].split("</form>", 1)[0]
    checked = [
        e.attrs["value"] for e in read(form).all("input") if "checked" in e.attrs
    ]  # the enabled channels' types are the default
    assert checked == ["telegram", "file"]
    key = next(
        e.attrs["value"] for e in read(form).all("input") if e.attrs["name"] == "request_key"
    )
    assert key

    data = {
        "csrf_token": csrf,
        "request_key": key,
        "content_type": "news_analysis",
        "channels": ["telegram", "file"],
    }
    response = await client.post(f"/research/ideas/{idea}/draft", data=data)
    assert response.status_code == 303
    # Drafting uses the idea: the browser goes back to the used ideas, where it is.
    assert response.headers["location"] == f"/research?status=used&done=drafted#idea-{idea}"
    rows = list(await db_session.scalars(select(ContentRequest)))
    assert [(r.type, r.idea_id, r.symbols, r.channels, r.status) for r in rows] == [
        ("news_analysis", idea, ["^NSEI", "^GSPC"], ["telegram", "file"], "pending")
    ]
    assert queued == [("content.generate", (rows[0].id,))]
    assert await idea_status(db_session, idea) == "used"

    # The same form sent twice (a double click, a reload) stores one request, as the
    # API's Idempotency-Key does.
    again = await client.post(f"/research/ideas/{idea}/draft", data=data)
    assert again.status_code == 303
    assert await request_count(db_session) == 1
    assert len(queued) == 1

    shown = await client.get(response.headers["location"])
    assert 'id="action-notice"' in shown.text
    assert idea_ids(shown.text) == [idea]
    requests = idea_html(shown.text, idea)
    assert "idea-status-used" in requests
    assert f"Request #{rows[0].id}" in requests
    assert "pending" in requests
    # No longer offered as an open idea, nor to be dismissed.
    assert idea not in idea_ids((await client.get("/research")).text)
    assert f"/research/ideas/{idea}/dismiss" not in requests

    # Once a worker has written it, the idea links the draft.
    rows[0].status, rows[0].content_id = "done", 4321
    await db_session.commit()
    shown = await client.get("/research", params={"status": "used"})
    assert 'href="/content/4321"' in idea_html(shown.text, idea)


async def test_an_educational_piece_is_about_the_ideas_headline(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, queued: Queued
) -> None:
    idea = await make_idea(db_session, "What a rate hold means", 8.0, content_type="educational")
    csrf = await sign_in(client, db_session, settings, Role.analyst)
    response = await client.post(
        f"/research/ideas/{idea}/draft",
        data={"csrf_token": csrf, "content_type": "educational", "channels": "x"},
    )
    assert response.status_code == 303
    row = await db_session.scalar(select(ContentRequest))
    assert row is not None
    assert (row.type, row.topic, row.idea_id) == ("educational", "What a rate hold means", idea)


@pytest.mark.parametrize(
    ("symbols", "fields", "status", "message"),
    [
        ([], {"channels": "x"}, 422, "Name at least one symbol"),
        (None, {}, 422, "Choose at least one channel type"),
        (None, {"channels": "fax"}, 422, "Unknown channel type"),
        (None, {"channels": "x", "content_type": "haiku"}, 422, "Unknown content type"),
        ([], {"channels": "x", "symbols": "^GSPC, NOPE"}, 404, "Unknown symbol(s): NOPE"),
    ],
)
async def test_refused_drafts_show_the_reason_and_store_nothing(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    settings: Settings,
    queued: Queued,
    symbols: list[str] | None,
    fields: dict[str, str],
    status: int,
    message: str,
) -> None:
    idea = await make_idea(db_session, "Something happened", 10.0, symbols=symbols)
    csrf = await sign_in(client, db_session, settings, Role.analyst)
    response = await client.post(
        f"/research/ideas/{idea}/draft", data={"csrf_token": csrf, **fields}
    )
    assert response.status_code == status
    assert message in response.text
    assert 'id="action-error"' in response.text
    assert idea_ids(response.text) == [idea]  # the page again, with its ideas
    assert await request_count(db_session) == 0
    assert await idea_status(db_session, idea) == "new"  # still open: nothing was requested
    assert queued == []


async def test_symbols_typed_for_an_idea_that_names_none_are_used(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, queued: Queued
) -> None:
    idea = await make_idea(db_session, "Markets mixed", 10.0, symbols=[])
    csrf = await sign_in(client, db_session, settings, Role.analyst)
    html = (await client.get("/research")).text
    form = html.split(f'action="/research/ideas/{idea}/draft"', 1)[1].split("</form>", 1)[0]
    assert 'name="symbols"' in form
    response = await client.post(
        f"/research/ideas/{idea}/draft",
        data={"csrf_token": csrf, "channels": "x", "symbols": "^GSPC ^NSEI,^GSPC"},
    )
    assert response.status_code == 303
    row = await db_session.scalar(select(ContentRequest))
    assert row is not None
    assert row.symbols == ["^GSPC", "^NSEI"]


async def test_an_unknown_idea_is_a_404_with_the_message(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, queued: Queued
) -> None:
    csrf = await sign_in(client, db_session, settings, Role.editor)
    for action in ("draft", "dismiss"):
        response = await client.post(
            f"/research/ideas/999999/{action}", data={"csrf_token": csrf, "channels": "x"}
        )
        assert response.status_code == 404
        assert "idea 999999" in response.text
    assert await request_count(db_session) == 0


async def test_an_idea_id_too_large_for_the_database_is_a_422(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    csrf = await sign_in(client, db_session, settings, Role.editor)
    for action in ("draft", "dismiss"):
        response = await client.post(f"/research/ideas/{2**64}/{action}", data={"csrf_token": csrf})
        assert response.status_code == 422


async def test_an_editor_dismisses_an_idea_and_never_a_used_one(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    idea = await make_idea(db_session, "Worth a look", 10.0)
    used = await make_idea(db_session, "Already written", 10.0, status="used")
    csrf = await sign_in(client, db_session, settings, Role.editor)
    response = await client.post(f"/research/ideas/{idea}/dismiss", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert response.headers["location"] == f"/research?done=dismissed#idea-{idea}"
    assert await idea_status(db_session, idea) == "dismissed"
    shown = await client.get(response.headers["location"])
    assert "Idea dismissed." in shown.text
    assert idea not in idea_ids(shown.text)
    events = list(
        await db_session.scalars(
            select(AuditEvent.target_id).where(AuditEvent.action == "content_idea_dismissed")
        )
    )
    assert events == [str(idea)]

    refused = await client.post(f"/research/ideas/{used}/dismiss", data={"csrf_token": csrf})
    assert refused.status_code == 409
    assert "already been used" in refused.text
    assert await idea_status(db_session, used) == "used"
