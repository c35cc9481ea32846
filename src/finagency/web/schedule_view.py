"""What the Schedule page and a publication's page show: the window and filters asked for, the
publications in that window and what needs a person, and the pages rendered from them (the
timeline's geometry is schedule_timeline.py's).

The routes are in schedule.py (pages) and schedule_actions.py (forms); both render through here.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import Request
from fastapi.responses import Response
from markupsafe import Markup
from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts.permissions import Permission
from finagency.analytics import service as analytics_service
from finagency.content.models import Revision
from finagency.db import utcnow
from finagency.errors import NotFound
from finagency.publishing import service as publishing_service
from finagency.publishing import state
from finagency.publishing.models import STATUSES, Channel, Publication
from finagency.web import actions
from finagency.web.guard import Visitor
from finagency.web.rendering import page, templates
from finagency.web.schedule_timeline import STATUS_LABELS, Row, layout

# Windows around now: (how far back, how far ahead).
WINDOWS = {
    "day": (timedelta(hours=24), timedelta(hours=24)),
    "week": (timedelta(hours=24), timedelta(days=7)),
    "month": (timedelta(days=7), timedelta(days=30)),
}
WINDOW_LABELS = {
    "day": "Day: 24 h back, 24 h ahead",
    "week": "Week: 24 h back, 7 days ahead",
    "month": "Month: 7 days back, 30 days ahead",
}
DEFAULT_WINDOW = "week"
MAX_SPAN = timedelta(days=93)
EARLIEST, LATEST = 2000, 2200
# The timeline draws up to MAX_ROWS publications; more is a narrower window or a filter away.
# The table lists them TABLE_ROWS at a time: a person reads 50 rows, and drawing all 200 as
# rows with their forms made the page four times heavier (260 KB) and slower than the rest.
MAX_ROWS = 200
TABLE_ROWS = 50
TABLE_PAGES = MAX_ROWS // TABLE_ROWS
TYPED = "%Y-%m-%dT%H:%M"  # a datetime-local field's value
# What a page says after each action; the query string carries only the key, never free text.
NOTICES = {
    "cancelled": "Cancelled: it will not go out (reschedule it to send it after all).",
    "retried": "Retrying now: the publication has a fresh round of attempts.",
    "rescheduled": "Rescheduled (inside the channel's posting window).",
    "resolved": "Resolved: your note is kept with the publication and in the audit log.",
    "deleted": "Retracted: the post is deleted from the platform.",
    "corrected": "Retracted: the platform keeps posts, so a linked correction went out.",
    "paused": "You paused publishing.",
    "resumed": "Publishing resumed: waiting publications go out now.",
}
FILTER_KEYS = ("window", "from", "to", "status", "channel", "page")
PUBLICATION_ID = re.compile(r"[0-9]{1,18}")


@dataclass(frozen=True)
class Asked:
    """The filters as typed: the page's query string, or a form's `back` field carrying it."""

    window: str = ""
    start: str = ""
    end: str = ""
    statuses: tuple[str, ...] = ()
    channel: str = ""
    page: str = ""  # of the table

    @classmethod
    def from_query(cls, query: str) -> Asked:
        """Known keys only, so that a form's `back` can never send the browser elsewhere."""
        values: dict[str, list[str]] = {key: [] for key in FILTER_KEYS}
        for key, value in parse_qsl(query, keep_blank_values=False)[:40]:
            if key in values:
                values[key].append(value.strip()[:40])
        first = {key: (found[0] if found else "") for key, found in values.items()}
        return cls(
            window=first["window"],
            start=first["from"],
            end=first["to"],
            statuses=tuple(dict.fromkeys(values["status"])),
            channel=first["channel"],
            page=first["page"],
        )

    def query(self, **extra: str) -> str:
        pairs = [("window", self.window), ("from", self.start), ("to", self.end)]
        pairs += [("status", s) for s in self.statuses]
        pairs += [("channel", self.channel), ("page", self.page), *extra.items()]
        return urlencode([(key, value) for key, value in pairs if value])


@dataclass(frozen=True)
class Filters:
    """The window and filters once checked."""

    asked: Asked
    start: datetime
    end: datetime
    statuses: tuple[str, ...]
    channel_id: int | None
    page: int = 1

    @property
    def custom(self) -> bool:
        return bool(self.asked.start or self.asked.end)

    def shifted(self, direction: int) -> str:
        """The query of the window just before (-1) or after (+1) this one."""
        span = (self.end - self.start) * direction
        moved = Asked(
            start=(self.start + span).strftime(TYPED),
            end=(self.end + span).strftime(TYPED),
            statuses=self.asked.statuses,
            channel=self.asked.channel,
        )
        return moved.query()

    def around_now(self) -> str:
        return replace(self.asked, start="", end="", page="").query()

    def table_page(self, number: int) -> str:
        """The query of another page of the table, in the same window and filters."""
        return replace(self.asked, page=str(number) if number > 1 else "").query()


def _moment(text: str, name: str, problems: list[str]) -> datetime | None:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        problems.append(f"{name} {text!r} is not a date or a date and time (UTC).")
        return None
    if not EARLIEST <= value.year <= LATEST:
        # Far from both ends of what a datetime holds, so that moving the window cannot overflow.
        problems.append(f"{name} must fall between the years {EARLIEST} and {LATEST}.")
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def check(asked: Asked, channels: Sequence[Channel], now: datetime) -> tuple[Filters, list[str]]:
    """The filters, and what is wrong with them (the page answers 422 when anything is)."""
    problems: list[str] = []
    window = asked.window or DEFAULT_WINDOW
    if window not in WINDOWS:
        problems.append(f"Unknown window {asked.window!r}; choose day, week or month.")
        window = DEFAULT_WINDOW
    back, ahead = WINDOWS[window]
    start, end = now - back, now + ahead
    if asked.start or asked.end:
        if not (asked.start and asked.end):
            problems.append("Give both ends of the period (from and to), or neither.")
        else:
            first = _moment(asked.start, "From", problems)
            last = _moment(asked.end, "To", problems)
            if first and last and first >= last:
                problems.append("The period must end after it starts.")
            elif first and last and last - first > MAX_SPAN:
                problems.append(f"Choose at most {MAX_SPAN.days} days at once.")
            elif first and last:
                start, end = first, last
    unknown = [s for s in asked.statuses if s not in STATUSES]
    if unknown:
        problems.append(f"Unknown status {unknown[0]!r}; known: {', '.join(STATUSES)}.")
    channel_id = None
    if asked.channel:
        known = {str(c.id): c.id for c in channels}
        channel_id = known.get(asked.channel)
        if channel_id is None:
            problems.append(f"Unknown channel {asked.channel!r}.")
    statuses = tuple(s for s in asked.statuses if s in STATUSES)
    page = 1
    if asked.page:
        if asked.page.isdigit() and 1 <= int(asked.page) <= TABLE_PAGES:
            page = int(asked.page)
        else:
            problems.append(f"The table's page must be a whole number from 1 to {TABLE_PAGES}.")
    return Filters(asked, start, end, statuses, channel_id, page), problems


# --- reading the publications ------------------------------------------------------------------


# What the lists show of a publication, read as plain columns: ORM objects would cost more and
# would stay half-loaded in the session's identity map.
LISTED = (
    Publication.id,
    Publication.content_id,
    Publication.revision_number,
    Publication.channel_id,
    Publication.status,
    Publication.scheduled_at,
    Publication.published_at,
    Publication.due_at,
    Publication.attempts,
    Publication.last_error,
    Publication.platform_url,
    Publication.deferred_reason,
)


def _with_titles() -> Any:
    # The title of the revision that goes out, not of a later edit.
    return select(*LISTED, Revision.title).outerjoin(
        Revision,
        and_(
            Revision.content_id == Publication.content_id,
            Revision.number == Publication.revision_number,
        ),
    )


def _rows(found: Sequence[Any], channels: dict[int, Channel]) -> list[Row]:
    return [
        Row(listed, channels[listed.channel_id], listed.title or "(untitled)")
        for listed in found
        if listed.channel_id in channels
    ]


async def in_window(
    session: AsyncSession, filters: Filters, channels: dict[int, Channel]
) -> list[Row]:
    """Up to MAX_ROWS + 1 publications whose moment falls in the window, in time order."""
    went_out = and_(Publication.status == "published", Publication.published_at.is_not(None))
    moment = case((went_out, Publication.published_at), else_=Publication.scheduled_at)
    query = (
        _with_titles()
        .where(
            or_(
                and_(went_out, Publication.published_at.between(filters.start, filters.end)),
                and_(~went_out, Publication.scheduled_at.between(filters.start, filters.end)),
            )
        )
        .order_by(moment, Publication.id)
        .limit(MAX_ROWS + 1)
    )
    if filters.statuses:
        query = query.where(Publication.status.in_(filters.statuses))
    if filters.channel_id is not None:
        query = query.where(Publication.channel_id == filters.channel_id)
    return _rows((await session.execute(query)).all(), channels)


@dataclass(frozen=True)
class Attention:
    """Publications that wait for a person, wherever they are in time."""

    counts: dict[str, int]
    newest: list[Row]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


async def attention(session: AsyncSession, channels: dict[int, Channel]) -> Attention:
    counted = await session.execute(
        select(Publication.status, func.count())
        .where(Publication.status.in_(analytics_service.NEEDS_ATTENTION))
        .group_by(Publication.status)
    )
    found: dict[str, int] = {status: count for status, count in counted.all()}
    counts = dict.fromkeys(analytics_service.NEEDS_ATTENTION, 0) | found
    newest = await session.execute(
        _with_titles()
        .where(Publication.status.in_(analytics_service.NEEDS_ATTENTION))
        .order_by(Publication.updated_at.desc(), Publication.id.desc())
        .limit(10)
    )
    return Attention(counts, _rows(newest.all(), channels))


# --- the pages ---------------------------------------------------------------------------------


@cache
def _marks() -> dict[str, dict[str, Markup]]:
    """Each status's marker shape and badge, drawn once from _schedule_marks.html: a macro call
    per row was most of the time a long table took."""
    macros = templates.get_template("_schedule_marks.html").module
    return {
        # A macro called from Python returns Markup already (the environment autoescapes).
        "shapes": {s: macros.shape(s) for s in STATUSES},  # type: ignore[attr-defined]
        "badges": {
            s: macros.badge(s, STATUS_LABELS[s])  # type: ignore[attr-defined]
            for s in STATUSES
        },
    }


def _fragment(name: str, **context: Any) -> Markup:
    # Rendered by the autoescaping environment: every value in it is escaped already.
    return Markup(templates.get_template(name).render(context))  # nosec B704


@dataclass(frozen=True)
class Board:
    """What the Schedule page shows, read but not yet drawn, and a digest of it."""

    context: dict[str, Any]
    attention: Attention
    rows: list[Row] | None  # None when the filters are bad
    problems: list[str]
    digest: str


def _shown(row: Row) -> tuple[Any, ...]:
    p = row.publication
    return (
        p.id,
        p.status,
        p.scheduled_at,
        p.published_at,
        p.due_at,
        p.attempts,
        p.last_error,
        p.platform_url,
        p.deferred_reason,
        p.channel_id,
        row.title,
    )


async def _read(session: AsyncSession, visitor: Visitor, asked: Asked) -> Board:
    now = utcnow().replace(second=0, microsecond=0)  # the drawing changes once a minute at most
    channel_list = await publishing_service.list_channels(session)
    channels = {c.id: c for c in channel_list}
    filters, problems = check(asked, channel_list, now)
    paused = await state.status(session)
    needing = await attention(session, channels)
    rows = None if problems else await in_window(session, filters, channels)
    # Everything drawn comes from these facts: the same facts, the same HTML.
    facts = (
        now,
        filters.page,
        visitor.role,
        sorted(paused.items()),
        [(c.id, c.name, c.type, c.enabled) for c in channel_list],
        needing.counts,
        [_shown(r) for r in needing.newest],
        [_shown(r) for r in rows or []],
    )
    context: dict[str, Any] = {
        "visitor": visitor,
        "filters": filters,
        "channels": channel_list,
        "paused": paused,
        "paused_since": _when(paused.get("changed_at")),
        "statuses": STATUSES,
        "labels": STATUS_LABELS,
        "windows": WINDOW_LABELS,
        "now": now,
        "back": asked.query(),
        "may_publish": visitor.may(Permission.publish),
        "may_pause": visitor.may(Permission.manage_settings),
        **_marks(),
    }
    digest = hashlib.sha256(repr(facts).encode()).hexdigest()[:16]
    return Board(context, needing, rows, problems, digest)


def _draw(board: Board) -> dict[str, Any]:
    """The board's context with the status above the timeline and the polled region drawn."""
    context = board.context
    live = None
    if board.rows is not None:
        filters: Filters = context["filters"]
        rows = board.rows[:MAX_ROWS]
        shown = [c for c in context["channels"] if filters.channel_id in (None, c.id)]
        timeline = layout(rows, shown, filters.start, filters.end, context["now"])
        first = (filters.page - 1) * TABLE_ROWS
        live = _fragment(
            "_schedule_live.html",
            rows=rows[first : first + TABLE_ROWS],
            first=first,
            table_rows=TABLE_ROWS,
            total=len(rows),
            pages=-(-len(rows) // TABLE_ROWS),
            more=len(board.rows) > MAX_ROWS,
            timeline=timeline,
            **context,
        )
    status = _fragment("_schedule_status.html", attention=board.attention, **context)
    return {**context, "status": status, "live": live, "problems": board.problems}


def _when(text: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text)) if text else None
    except ValueError:
        return None


def poll_url(asked: Asked, digest: str) -> str:
    return "/fragments/schedule?" + asked.query(seen=digest)


async def render_schedule(
    request: Request,
    session: AsyncSession,
    visitor: Visitor,
    asked: Asked,
    status_code: int = 200,
    error: str | None = None,
    notice: str | None = None,
) -> Response:
    board = await _read(session, visitor, asked)
    if board.problems and status_code < 400:
        status_code = 422
    return page(
        request,
        "schedule.html",
        status_code,
        error=error,
        notice=notice,
        poll=poll_url(asked, board.digest),
        **_draw(board),
    )


async def render_fragment(
    request: Request, session: AsyncSession, visitor: Visitor, asked: Asked, seen: str
) -> Response:
    """The polled region and the status above it (out of band). While nothing changed it is a
    204 and nothing is drawn: htmx swaps nothing and keyboard focus stays where it was."""
    board = await _read(session, visitor, asked)
    if board.problems:
        return page(request, "_problem.html", 422, message=" ".join(board.problems))
    if seen and seen == board.digest:
        return Response(status_code=204, headers={"Cache-Control": "no-store"})
    return page(
        request, "_schedule_fragment.html", poll=poll_url(asked, board.digest), **_draw(board)
    )


async def find_publication(session: AsyncSession, raw: str) -> Publication:
    if not PUBLICATION_ID.fullmatch(raw):
        raise NotFound(f"No publication {raw!r}")
    return await publishing_service.get_publication(session, int(raw))


async def render_publication(
    request: Request,
    session: AsyncSession,
    visitor: Visitor,
    raw_id: str,
    asked: Asked,
    status_code: int = 200,
    error: str | None = None,
    notice: str | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    """One publication with its attempts and the forms its status allows."""
    try:
        publication = await find_publication(session, raw_id)
    except NotFound as missing:
        return page(request, "not_found.html", 404, visitor=visitor, message=missing.message)
    channel = await publishing_service.get_channel(session, publication.channel_id)
    title = await session.scalar(
        select(Revision.title).where(
            Revision.content_id == publication.content_id,
            Revision.number == publication.revision_number,
        )
    )
    row = Row(publication, channel, title or "(untitled)")
    scheduled = publication.scheduled_at.astimezone(UTC).strftime(TYPED)
    return page(
        request,
        "schedule_publication.html",
        status_code,
        visitor=visitor,
        row=row,
        publication=publication,
        attempts=await publishing_service.attempts(session, publication.id),
        labels=STATUS_LABELS,
        back=asked.query(),
        may_publish=visitor.may(Permission.publish),
        timezones=actions.TIMEZONES,
        resolutions=publishing_service.RESOLUTIONS,
        error=error,
        notice=notice,
        typed={"scheduled_at": scheduled, "timezone": "UTC", **(typed or {})},
    )


def back_to_schedule(asked: Asked, done: str, publication_id: int | None = None) -> str:
    anchor = f"#publication-{publication_id}" if publication_id is not None else ""
    return f"/schedule?{asked.query(done=done)}{anchor}"
