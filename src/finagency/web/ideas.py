"""The Research page: ideas by score and urgency, trending keywords, drafting from an idea.

"Draft from this idea" stores a content request exactly as `POST /api/v1/content/requests`
does with an `idea_id` (same service call, same generate task after the commit). The draft
does not exist yet when the browser comes back: a worker writes it. Storing the request marks
the idea used (it leaves the open ideas), so the browser returns to the used ideas with a
notice; each idea lists the requests made from it, linking the draft once it is written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Form, Path, Query, Request, status
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from finagency import tasks
from finagency.accounts.dependencies import SettingsDep, actor_of
from finagency.accounts.permissions import Permission
from finagency.accounts.tokens import new_secret
from finagency.content import service as content_service
from finagency.content.renderings import CHANNEL_TYPES
from finagency.db import SessionDep, utcnow
from finagency.errors import FinagencyError
from finagency.publishing import service as publishing_service
from finagency.research import service as research_service
from finagency.research.models import ContentIdea, NewsItem
from finagency.web.actions import BadInput, CsrfField
from finagency.web.audit import LARGEST_ID, ago, whole_number
from finagency.web.guard import Visitor, admit, admit_form
from finagency.web.rendering import page

router = APIRouter(include_in_schema=False)

NOTICES = {
    "drafted": "Content requested from the idea, now a used one: a worker writes the draft, "
    "which then appears under the idea and in Content.",
    "dismissed": "Idea dismissed.",
}
# The status filter's choices: open ideas by default, "any" for all of them.
STATUS_CHOICES = ("new", "used", "dismissed", "any")
DEFAULT_LIMIT = 50
KEYWORD_LIMIT = 25
MAX_SYMBOLS = 50
IdeaId = Annotated[int, Path(ge=1, le=LARGEST_ID)]


@dataclass(frozen=True)
class IdeaFilters:
    status: str = "new"
    min_score: float | None = None
    limit: int = DEFAULT_LIMIT
    problems: list[str] = field(default_factory=list)

    @property
    def query(self) -> dict[str, str]:
        """The filters as the page's own query string (defaults left out)."""
        values = {}
        if self.status != "new":
            values["status"] = self.status
        if self.min_score is not None:
            values["min_score"] = f"{self.min_score:g}"
        if self.limit != DEFAULT_LIMIT:
            values["limit"] = str(self.limit)
        return values


def read_filters(idea_status: str, min_score: str, limit: str) -> IdeaFilters:
    """The filters as typed; what cannot be used is named in `problems` (a 422 page)."""
    problems = []
    if idea_status not in STATUS_CHOICES:
        choices = ", ".join(STATUS_CHOICES)
        problems.append(f"Unknown status {idea_status!r}; choose one of {choices}.")
    score: float | None = None
    if min_score.strip():
        try:
            score = float(min_score)
        except ValueError:
            score = None
        if score is None or not math.isfinite(score) or score < 0:
            problems.append(f"The minimum score must be a number of 0 or more, not {min_score!r}.")
            score = None
    count = DEFAULT_LIMIT
    if limit.strip():
        chosen = whole_number(limit, 1, 200)
        if chosen is None:
            problems.append(f"Show 1 to 200 ideas, not {limit!r}.")
        else:
            count = chosen
    return IdeaFilters(idea_status, score, count, problems)


@dataclass(frozen=True)
class Source:
    """A news item behind an idea, with a link only when its address is http(s)."""

    title: str
    url: str | None
    name: str
    item: NewsItem


def sources_of(idea: ContentIdea) -> list[Source]:
    sources = []
    for item in idea.news_items:
        parts = urlsplit(item.canonical_url)
        link = item.canonical_url if parts.scheme in ("http", "https") else None
        name = item.feed.name if item.feed is not None else (parts.hostname or "a news source")
        sources.append(Source(item.title, link, name, item))
    return sources


async def default_channel_types(session: AsyncSession) -> list[str]:
    """The types of the enabled channels: what a new draft is rendered for unless changed."""
    enabled = {c.type for c in await publishing_service.list_channels(session) if c.enabled}
    return [kind for kind in CHANNEL_TYPES if kind in enabled]


async def render_research(
    request: Request,
    session: AsyncSession,
    visitor: Visitor,
    filters: IdeaFilters | None = None,
    status_code: int = 200,
    error: str | None = None,
    notice: str | None = None,
) -> Response:
    filters = filters or IdeaFilters()
    ideas: list[ContentIdea] = []
    if not filters.problems:
        ideas = await research_service.list_ideas(
            session,
            None if filters.status == "any" else filters.status,
            filters.min_score,
            filters.limit,
        )
    now = utcnow()
    keywords = await research_service.trending_keywords(session, now, KEYWORD_LIMIT, 1)
    return page(
        request,
        "research.html",
        422 if filters.problems and status_code == 200 else status_code,
        visitor=visitor,
        ideas=ideas,
        sources={idea.id: sources_of(idea) for idea in ideas},
        requests=await content_service.requests_for_ideas(session, [idea.id for idea in ideas]),
        keywords=keywords,
        window_hours=int(research_service.TRENDING_WINDOW.total_seconds() // 3600),
        baseline_days=research_service.TRENDING_BASELINE_DAYS,
        filters=filters,
        status_choices=STATUS_CHOICES,
        content_types=content_service.CONTENT_TYPES,
        channel_types=CHANNEL_TYPES,
        default_channels=await default_channel_types(session),
        # One key per rendering: a double-clicked form stores one request, as with the API's
        # Idempotency-Key header.
        request_key=new_secret(nbytes=16),
        may_draft=visitor.may(Permission.request_content),
        may_dismiss=visitor.may(Permission.edit_content),
        now=now,
        ago=ago,
        error=error,
        notice=notice,
    )


@router.get("/research")
async def research_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    idea_status: Annotated[str, Query(alias="status", max_length=200)] = "new",
    min_score: Annotated[str, Query(max_length=200)] = "",
    limit: Annotated[str, Query(max_length=200)] = "",
    done: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    visitor = await admit(request, session, settings, Permission.read, "/research")
    if not isinstance(visitor, Visitor):
        return visitor
    filters = read_filters(idea_status, min_score, limit)
    return await render_research(request, session, visitor, filters, notice=NOTICES.get(done))


def symbols_of(typed: str) -> list[str]:
    """Comma- or space-separated symbols, each once, in the order typed."""
    symbols = list(dict.fromkeys(s for s in typed.replace(",", " ").split() if s))
    if len(symbols) > MAX_SYMBOLS:
        raise BadInput(f"At most {MAX_SYMBOLS} symbols.")
    if any(len(s) > 32 for s in symbols):
        raise BadInput("A symbol has at most 32 characters.")
    return symbols


def channel_types_of(values: list[str]) -> list[str]:
    chosen = list(dict.fromkeys(values))
    if not chosen:
        raise BadInput("Choose at least one channel type to write the draft for.")
    unknown = [v for v in chosen if v not in CHANNEL_TYPES]
    if unknown:
        raise BadInput(f"Unknown channel type {unknown[0][:32]!r}; reload the page.")
    return chosen


def _back(notice: str, idea_id: int, shown: dict[str, str] | None = None) -> Response:
    query = urlencode({**(shown or {}), "done": notice})
    return RedirectResponse(
        f"/research?{query}#idea-{idea_id}", status_code=status.HTTP_303_SEE_OTHER
    )


@router.post("/research/ideas/{idea_id}/draft")
async def draft_from_idea(
    idea_id: IdeaId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf_token: CsrfField = "",
    content_type: Annotated[str, Form(max_length=200)] = "",
    channels: Annotated[list[str] | None, Form()] = None,
    symbols: Annotated[str, Form(max_length=4000)] = "",
    request_key: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    visitor = await admit_form(
        request, session, settings, Permission.request_content, "/research", csrf_token
    )
    if not isinstance(visitor, Visitor):
        return visitor
    try:
        # A savepoint: whatever the service did before refusing is undone.
        async with session.begin_nested():
            idea = await research_service.get_idea(session, idea_id)
            kind = content_type or idea.content_type
            spec = content_service.RequestSpec(
                type=kind,
                # Empty: the idea's symbols, as the API does.
                symbols=symbols_of(symbols),
                channels=channel_types_of(channels or []),
                # A piece about a topic (educational) is about the idea's headline.
                topic=idea.title if kind in content_service.FROM_TOPIC else None,
                idea_id=idea.id,
            )
            row, created = await content_service.create_request(
                session, settings, spec, visitor.user.id, request_key.strip() or None
            )
    except FinagencyError as error:
        return await render_research(
            request, session, visitor, status_code=error.status_code, error=error.message
        )
    if created:
        tasks.enqueue_after_commit(session, content_service.GENERATE_TASK, row.id)
    # The idea is used now: back to the used ideas, where it lists its requests.
    return _back("drafted", idea_id, {"status": "used"})


@router.post("/research/ideas/{idea_id}/dismiss")
async def dismiss_idea(
    idea_id: IdeaId,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf_token: CsrfField = "",
) -> Response:
    # The API's permission for dismissing (editors and admins).
    visitor = await admit_form(
        request, session, settings, Permission.edit_content, "/research", csrf_token
    )
    if not isinstance(visitor, Visitor):
        return visitor
    try:
        async with session.begin_nested():
            await research_service.dismiss_idea(
                session, actor_of(request, visitor.principal), idea_id
            )
    except FinagencyError as error:
        return await render_research(
            request, session, visitor, status_code=error.status_code, error=error.message
        )
    return _back("dismissed", idea_id)
