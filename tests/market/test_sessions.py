"""The trading day of a bar: looking it up among the session opens answers as the calendar does."""

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import exchange_calendars as xcals
import pandas as pd
import pytest

from finagency.market import calendars
from finagency.market.catalog import DEFAULT_INSTRUMENTS

CALENDARS = sorted({entry.calendar for entry in DEFAULT_INSTRUMENTS})
FIRST, LAST = date(2025, 1, 1), date(2025, 12, 31)  # a year with every kind of holiday


def counted_search(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """The instants the calendar's own (slow) search is asked about from now on."""
    searched: list[datetime] = []
    real: Callable[[str, datetime], date] = calendars.last_session

    def search(code: str, at: datetime) -> date:
        searched.append(at)
        return real(code, at)

    monkeypatch.setattr(calendars, "last_session", search)
    return searched


def test_the_catalog_uses_every_kind_of_calendar() -> None:
    # Exchange hours, hours with an evening open the day before (CMES), and round-the-clock ones.
    assert {"XNYS", "XNAS", "XBOM", "CMES", "24/5", "24/7"} <= set(CALENDARS)


@pytest.mark.parametrize("code", CALENDARS)
def test_a_year_of_bars_at_the_open_gets_the_calendars_days_without_its_search(
    code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    days = calendars.sessions(code, FIRST, LAST)
    assert len(days) > 240
    opens = [calendars.session_bounds(code, day)[0] for day in days]
    slow = [calendars.last_session(code, at) for at in opens]
    # Stored bars come back from the database as datetime.UTC, not the calendar's own zone object.
    stored = [at.astimezone(UTC) for at in opens]
    searched = counted_search(monkeypatch)
    assert calendars.sessions_at(code, stored) == slow == days
    assert searched == []


@pytest.mark.parametrize("code", CALENDARS)
def test_a_year_of_bars_at_other_instants_gets_what_the_calendar_search_answers(
    code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    days = calendars.sessions(code, FIRST, LAST)
    # Finnhub stamps a day's bar at 00:00 UTC: before the open in Mumbai, inside the session
    # for CMES, at the open itself round the clock. An hour after the open is inside any session.
    midnights = [datetime(day.year, day.month, day.day, tzinfo=UTC) for day in days]
    later = [calendars.session_bounds(code, day)[0] + timedelta(hours=1) for day in days]
    instants = midnights + later
    slow = [calendars.last_session(code, at) for at in instants]
    searched = counted_search(monkeypatch)
    assert calendars.sessions_at(code, instants) == slow
    assert later[0] in searched  # no open there: the calendar answered, not the opens


@pytest.mark.parametrize("code", CALENDARS)
def test_open_and_trading_day_answer_as_the_calendars_minute_lookups(code: str) -> None:
    # The calendar's own lookups build an index of every trading minute (hundreds of MB over
    # the catalogue's history); ours bisect the sessions. A calendar of its own, one year long,
    # keeps the test's index small.
    own = xcals.get_calendar(code, start="2024-12-01", end="2026-01-31")
    instants = []
    for day in calendars.sessions(code, FIRST, LAST):
        opened, closed = calendars.session_bounds(code, day)
        second = timedelta(seconds=1)
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        instants += [opened - second, opened, opened + second, opened + (closed - opened) / 2]
        instants += [closed - second, closed, closed + second, midnight]
    for at in instants:
        minute = pd.Timestamp(at).floor("min")
        assert calendars.is_open(code, at) == own.is_open_on_minute(minute, ignore_breaks=True), at
        expected = own.minute_to_session(minute, direction="previous").date()
        assert calendars.last_session(code, at) == expected, at
