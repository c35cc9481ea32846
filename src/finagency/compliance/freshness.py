"""The freshness rule: the snapshot is recent enough for the content type, and every date the
text names is the trading date of the market it talks about.

Age. For each instrument that matters (those the text names — by name, symbol or alias —
or every instrument when it names none), the data's lag is measured against the freshest data
its market could offer at ``ctx.now``: ``now`` while it trades, its last close while it is shut
(weekends, holidays, nights; see ``finagency.market.calendars.freshest_possible``). The lag must
not exceed ``MAX_AGE`` for the content type:

    breaking_alert    15 minutes
    market_update      2 hours
    news_analysis      6 hours
    earnings_preview  24 hours
    sector_report     24 hours
    educational        7 days
    (any other type)   2 hours

So a market update written from the 16:00 close is fresh all night, over the weekend and on
holidays, and stale as soon as the next session opens (the data then lags by the whole gap).

The instrument's ``as_of`` is the data time (the snapshot's ``as_of`` when an entry has
none). The calendar comes from the catalog by symbol, else from the asset class and currency
(crypto 24/7, FX 24/5, INR equities and indices XBOM, USD ones XNYS); an instrument with no
known calendar is measured against ``now`` itself.

Dates. Every full date in the text must be the ``last_trading_date`` of an instrument that
matters; a date written without a year ("25 Nov") must agree on day and month; a year must be the
year of such a trading date. Numeric dates that could be read both ways (05/11/2026) and
impossible dates (31 February) block as ambiguous. Without a snapshot, every date blocks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from finagency.compliance.findings import CheckContext, Finding, Severity, SnapshotView
from finagency.compliance.numbers import ExtractedNumber, NumberKind, extract_numbers

RULE = "freshness"
MAX_AGE: dict[str, timedelta] = {
    "breaking_alert": timedelta(minutes=15),
    "market_update": timedelta(hours=2),
    "news_analysis": timedelta(hours=6),
    "earnings_preview": timedelta(hours=24),
    "sector_report": timedelta(hours=24),
    "educational": timedelta(days=7),
}
DEFAULT_MAX_AGE = timedelta(hours=2)

_SYMBOL_DECORATION = re.compile(r"^\^|[.=\-][A-Z]+$")


def _aliases(symbol: str, entry: dict[str, Any]) -> frozenset[str]:
    """Ways a text names an instrument: name, symbol, bare ticker, the first part of a pair,
    the first word of the name ("Nifty", "Bitcoin", "Reliance")."""
    name = str(entry.get("name") or "")
    words = name.split()
    aliases = {symbol, _SYMBOL_DECORATION.sub("", symbol), name, name.split(" / ")[0]}
    aliases.add(words[0] if words else "")
    return frozenset(alias.lower() for alias in aliases if len(alias) >= 3)


@lru_cache(maxsize=1024)
def _alias_pattern(aliases: frozenset[str]) -> re.Pattern[str]:
    ordered = sorted(aliases, key=len, reverse=True)
    return re.compile(
        r"(?<![\w^])(?:" + "|".join(re.escape(alias) for alias in ordered) + r")(?!\w)",
        re.IGNORECASE,
    )


def mentioned(text: str, snapshot: SnapshotView) -> dict[str, tuple[int, int]]:
    """{symbol: span of its first mention} for the snapshot's instruments the text names."""
    found: dict[str, tuple[int, int]] = {}
    for symbol, entry in snapshot.instruments.items():
        match = _alias_pattern(_aliases(symbol, entry)).search(text)
        if match:
            found[symbol] = match.span()
    return found


def _calendar(symbol: str, entry: dict[str, Any]) -> str | None:
    from finagency.market.catalog import DEFAULT_INSTRUMENTS

    for known in DEFAULT_INSTRUMENTS:
        if known.symbol == symbol:
            return known.calendar
    asset_class, currency = entry.get("asset_class"), entry.get("currency")
    if asset_class == "crypto":
        return "24/7"
    if asset_class == "fx":
        return "24/5"
    if asset_class in ("equity", "index", "stock_index"):
        return {"INR": "XBOM", "USD": "XNYS"}.get(str(currency))
    return None


def _lag(symbol: str, entry: dict[str, Any], data_time: datetime, now: datetime) -> timedelta:
    """How far the data lags the freshest its market could offer at `now`."""
    code = _calendar(symbol, entry)
    if code is None:
        return now - data_time
    from finagency.market import calendars  # heavy (pandas): only for the rare old snapshot

    return max(timedelta(0), calendars.freshest_possible(code, now) - data_time)


def _data_time(entry: dict[str, Any], snapshot: SnapshotView) -> datetime:
    raw = entry.get("as_of")
    return datetime.fromisoformat(raw) if raw else snapshot.as_of


def _age_findings(
    ctx: CheckContext, snapshot: SnapshotView, symbols: dict[str, tuple[int, int]]
) -> list[Finding]:
    allowed = MAX_AGE.get(ctx.content_type, DEFAULT_MAX_AGE)
    findings = []
    for symbol in symbols or snapshot.instruments:
        entry = snapshot.instruments[symbol]
        data_time = _data_time(entry, snapshot)
        if ctx.now - data_time <= allowed:  # the common case, without consulting a calendar
            continue
        lag = _lag(symbol, entry, data_time, ctx.now)
        if lag > allowed:
            start, end = symbols.get(symbol, (0, 0))
            findings.append(
                Finding(
                    RULE,
                    Severity.block,
                    f"snapshot {snapshot.id} is too old for a {ctx.content_type}: {symbol} data"
                    f" from {data_time.isoformat()} lags its market by {_hours(lag)}"
                    f" (at most {_hours(allowed)})",
                    start,
                    end,
                )
            )
    return findings


def _hours(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def _trading_dates(snapshot: SnapshotView, symbols: Iterable[str]) -> set[date]:
    dates = set()
    for symbol in symbols:
        raw = snapshot.instruments[symbol].get("last_trading_date")
        if raw:
            dates.add(date.fromisoformat(raw))
    return dates


def _date_problem(figure: ExtractedNumber, trading: set[date]) -> str | None:
    if figure.kind == NumberKind.year:
        if any(day.year == figure.value for day in trading):
            return None
        return f"year {figure.raw!r} is not the year of the snapshot's trading date"
    if figure.month_day is None:
        return (
            f"date {figure.raw!r} is ambiguous or impossible: write it as 25 November 2026"
            " or 2026-11-25"
        )
    if figure.date is not None:
        ok = figure.date in trading
    else:
        ok = any((day.month, day.day) == figure.month_day for day in trading)
    if ok:
        return None
    return f"date {figure.raw!r} is not the snapshot's trading date"


def check_figures(text: str, figures: list[ExtractedNumber], ctx: CheckContext) -> list[Finding]:
    """The freshness rule over already extracted figures."""
    snapshot = ctx.snapshot
    symbols = mentioned(text, snapshot) if snapshot else {}
    findings = _age_findings(ctx, snapshot, symbols) if snapshot else []
    trading = _trading_dates(snapshot, symbols or snapshot.instruments) if snapshot else set()
    expected = ", ".join(sorted(day.isoformat() for day in trading)) or "none: no snapshot"
    for figure in figures:
        if figure.kind not in (NumberKind.date, NumberKind.year):
            continue
        problem = _date_problem(figure, trading)
        if problem:
            message = f"{problem} (trading date: {expected})"
            findings.append(Finding(RULE, Severity.block, message, *figure.span))
    return findings


def freshness(ctx: CheckContext) -> list[Finding]:
    """Rule `freshness` (block): the data is recent enough and the dates are the trading date."""
    return check_figures(ctx.text, extract_numbers(ctx.text), ctx)
