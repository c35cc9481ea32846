"""Trading days, hours and holidays from exchange_calendars (never a hand-written list)."""

from __future__ import annotations

import bisect
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import exchange_calendars as xcals
import pandas as pd

FIRST_DAY = date(2018, 1, 1)

# exchange-calendars 4.13 on pandas 3.1 warns on every call; the results are right.
warnings.filterwarnings("ignore", message=".*values returning an ndarray that drops timezone")


@lru_cache(maxsize=32)
def calendar(code: str) -> xcals.ExchangeCalendar:
    # Built once per process: a calendar takes ~0.2 s to construct.
    today = datetime.now(UTC).date()
    try:
        return xcals.get_calendar(code, start=FIRST_DAY, end=today + timedelta(days=400))
    except ValueError:
        # Some calendars (XBOM) record holidays only to the end of the current year: use
        # as far as the library knows. Keep exchange-calendars up to date for the next year.
        return xcals.get_calendar(code, start=FIRST_DAY)


def is_open(code: str, at: datetime) -> bool:
    """Whether `at` falls between a session's open and its close (lunch breaks count as open)."""
    index = _session_index(code, at)
    return index >= 0 and at < _ordered(code).closes[index]


def sessions(code: str, start: date, end: date) -> list[date]:
    """Trading days from start to end (inclusive)."""
    cal = calendar(code)
    first, last = cal.first_session.date(), cal.last_session.date()
    start, end = max(start, first), min(end, last)
    if start > end:
        return []
    days = cal.sessions_in_range(pd.Timestamp(start), pd.Timestamp(end))
    return [day.date() for day in days]


def last_session(code: str, at: datetime) -> date:
    """The trading day that `at` falls in, or the last one before it when the market is shut."""
    index = _session_index(code, at)
    if index < 0:
        raise ValueError(f"{at.isoformat()} is before the first session of {code}")
    return _ordered(code).days[index]


@lru_cache(maxsize=32)
def _bounds(code: str) -> dict[date, tuple[datetime, datetime]]:
    """Every session's (open, close) instants, built once per calendar: history loops need them
    per bar, and the calendar's own lookups cost tens of microseconds each."""
    schedule = calendar(code).schedule
    return {
        day.date(): (opened.to_pydatetime(), closed.to_pydatetime())
        for day, opened, closed in zip(
            schedule.index, schedule["open"], schedule["close"], strict=True
        )
    }


@dataclass(frozen=True)
class _Ordered:
    """The sessions in order, with their opens and closes, for bisecting."""

    days: list[date]
    opens: list[datetime]
    closes: list[datetime]


@lru_cache(maxsize=32)
def _ordered(code: str) -> _Ordered:
    # The calendar's own minute lookups (is_open_on_minute, minute_to_session) build an index of
    # every trading minute since FIRST_DAY: about 280 MB for the catalogue's six calendars, held
    # by every worker process. A bisect over the sessions answers the same from a few hundred KB.
    bounds = _bounds(code)
    return _Ordered(
        days=list(bounds),
        opens=[opened for opened, _ in bounds.values()],
        closes=[closed for _, closed in bounds.values()],
    )


def _session_index(code: str, at: datetime) -> int:
    """The index of the last session that opened at or before `at`; -1 if none did."""
    return bisect.bisect_right(_ordered(code).opens, at.astimezone(UTC)) - 1


@lru_cache(maxsize=32)
def _sessions_by_open(code: str) -> dict[datetime, date]:
    return {opened: day for day, (opened, _) in _bounds(code).items()}


def sessions_at(code: str, instants: Iterable[datetime]) -> list[date]:
    """The trading day of each instant, as `last_session` answers it, but fast for bars.

    Stored bars start at their session's open, so a dictionary of the opens answers; the
    calendar's own search (0.05–0.5 ms a call, thousands of bars a chart) runs only for an
    instant that is not an open.
    """
    by_open = _sessions_by_open(code)
    return [by_open.get(at) or last_session(code, at) for at in instants]


def session_bounds(code: str, session: date) -> tuple[datetime, datetime]:
    """(open, close) of a session, as aware UTC datetimes."""
    return _bounds(code)[session]


def session_close(code: str, session: date) -> datetime:
    close = calendar(code).session_close(pd.Timestamp(session))
    return close.to_pydatetime().astimezone(UTC)


def session_open(code: str, session: date) -> datetime:
    opened = calendar(code).session_open(pd.Timestamp(session))
    return opened.to_pydatetime().astimezone(UTC)


def freshest_possible(code: str, at: datetime) -> datetime:
    """The newest moment data can be from: now while the market trades, else its last close."""
    if is_open(code, at):
        return at
    last = last_session(code, at)
    close = session_close(code, last)
    return min(close, at)


def timezone(code: str) -> str:
    return str(calendar(code).tz)
