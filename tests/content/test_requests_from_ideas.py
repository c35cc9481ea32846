"""Content requested from a research idea uses the idea (both backends), and the requests made
from a set of ideas are found for the Research page."""

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.analytics import service as analytics_service
from finagency.content import service as content_service
from finagency.content.models import ContentRequest
from finagency.db import utcnow
from finagency.errors import NotFound
from finagency.research import service as research_service
from finagency.research.models import ContentIdea
from finagency.settings import Settings


async def _idea(session: AsyncSession, title: str, status: str = "new") -> ContentIdea:
    idea = ContentIdea(
        title=title,
        score=10.0,
        urgency="normal",
        content_type="news_analysis",
        status=status,
        symbols=["^GSPC"],
        reasons=["source +2.0"],
        created_at=utcnow() - timedelta(hours=1),
    )
    session.add(idea)
    await session.flush()
    return idea


def _spec(
    idea: ContentIdea | None, symbols: list[str] | None = None
) -> content_service.RequestSpec:
    return content_service.RequestSpec(
        type="news_analysis" if idea is not None else "market_update",
        symbols=symbols or [],
        channels=["file"],
        idea_id=idea.id if idea is not None else None,
    )


async def _status(session: AsyncSession, idea: ContentIdea) -> str:
    await session.refresh(idea)
    return idea.status


async def test_a_request_made_from_an_idea_uses_it(
    db_session: AsyncSession, settings: Settings
) -> None:
    idea = await _idea(db_session, "Fed holds rates")
    other = await _idea(db_session, "Nifty at a record")
    row, created = await content_service.create_request(
        db_session, settings, _spec(idea), None, None
    )
    assert created
    assert row.symbols == ["^GSPC"]  # the idea's
    assert await _status(db_session, idea) == "used"
    # No longer offered as new: not among the open ideas, nor the overview's latest.
    open_ideas = await research_service.list_ideas(db_session, "new", None, 50)
    assert [i.id for i in open_ideas] == [other.id]
    assert [i.id for i in await analytics_service.latest_ideas(db_session)] == [other.id]
    assert [i.id for i in await research_service.list_ideas(db_session, "used", None, 50)] == [
        idea.id
    ]


async def test_a_dismissed_idea_drafted_anyway_is_used(
    db_session: AsyncSession, settings: Settings
) -> None:
    idea = await _idea(db_session, "Old news", status="dismissed")
    await content_service.create_request(db_session, settings, _spec(idea), None, None)
    assert await _status(db_session, idea) == "used"


async def test_a_refused_request_leaves_the_idea_open(
    db_session: AsyncSession, settings: Settings
) -> None:
    idea = await _idea(db_session, "Markets mixed")
    with pytest.raises(NotFound, match="NOPE"):
        await content_service.create_request(
            db_session, settings, _spec(idea, ["^GSPC", "NOPE"]), None, None
        )
    # Refused before anything was stored, even within the same transaction.
    assert await _status(db_session, idea) == "new"


async def test_a_repeated_idempotency_key_returns_the_request_and_uses_no_other_idea(
    db_session: AsyncSession, settings: Settings
) -> None:
    first = await _idea(db_session, "Fed holds rates")
    second = await _idea(db_session, "Nifty at a record")
    row, created = await content_service.create_request(
        db_session, settings, _spec(first), None, "key-1"
    )
    assert created
    # The same key again (with another body): the stored request, nothing new made or used.
    again, created_again = await content_service.create_request(
        db_session, settings, _spec(second), None, "key-1"
    )
    assert (again.id, created_again) == (row.id, False)
    assert await _status(db_session, first) == "used"
    assert await _status(db_session, second) == "new"


async def test_the_requests_made_from_ideas_newest_first(
    db_session: AsyncSession, settings: Settings
) -> None:
    first = await _idea(db_session, "Fed holds rates")
    second = await _idea(db_session, "Nifty at a record")
    untouched = await _idea(db_session, "Gold flat")
    made = []
    for idea in (first, second, first):
        row, _ = await content_service.create_request(db_session, settings, _spec(idea), None, None)
        made.append(row.id)
    # Not from an idea: never listed under one.
    await content_service.create_request(db_session, settings, _spec(None, ["^GSPC"]), None, None)

    found = await content_service.requests_for_ideas(
        db_session, [first.id, second.id, untouched.id]
    )
    assert {idea_id: [r.id for r in rows] for idea_id, rows in found.items()} == {
        first.id: [made[2], made[0]],
        second.id: [made[1]],
    }
    assert all(isinstance(r, ContentRequest) for rows in found.values() for r in rows)
    assert list(await content_service.requests_for_ideas(db_session, [second.id])) == [second.id]
    assert await content_service.requests_for_ideas(db_session, []) == {}
