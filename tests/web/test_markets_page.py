"""The Markets page: watchlists with last price, change, flags and sparklines; a chart per
instrument from its own JSON, with indicators and the bars as a table."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from finagency import tasks
from finagency.accounts.permissions import Role
from finagency.market import calendars
from finagency.market import service as market_service
from finagency.market.models import Bar, Instrument, MarketRefresh, MarketSnapshot
from finagency.market.providers.base import ProviderQuote
from finagency.settings import Settings
from finagency.web.market_charts import SPARK_DAYS, number, signed
from finagency.web.markets import FLAG_NOTES, NO_QUOTE
from tests.fixtures.market import simulated_history, simulated_snapshot
from tests.web.support import read, sign_in
from tests.web.test_security_and_assets import _inline_code

Queued = list[tuple[str, tuple[object, ...]]]


@pytest.fixture(autouse=True)
def fresh_quote_cache() -> Iterator[None]:
    """Rolled-back tests reuse snapshot ids (SQLite): the process cache of the latest quotes,
    keyed by snapshot id, must not carry one test's snapshot into another."""
    market_service._parsed.clear()
    yield
    market_service._parsed.clear()


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


def row_of(html: str, symbol: str) -> str:
    """The quotes table's row of one instrument."""
    start = html.index(f'<tr data-symbol="{symbol}">')
    return html[start : html.index("</tr>", start)]


def cells(row: str) -> list[str]:
    """The text of each cell of a row (header cell first), tags dropped."""
    found = re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.DOTALL)
    return [" ".join(unescape(re.sub(r"<[^>]+>", " ", cell)).split()) for cell in found]


def badges(html: str) -> list[tuple[str, str]]:
    """(label, title) of every flag badge."""
    return [
        (unescape(label), unescape(title))
        for title, label in re.findall(
            r'<span class="badge flag flag-[\w-]+" title="([^"]*)">([^<]*)</span>', html
        )
    ]


def symbols_shown(html: str) -> list[str]:
    return [unescape(s) for s in re.findall(r'<tr data-symbol="([^"]+)">', html)]


async def default_symbols(session: AsyncSession) -> list[str]:
    watchlists = list(await session.scalars(market_service.watchlists_query()))
    return await market_service.watchlist_symbols(session, watchlists[0].id)


async def test_without_market_data_the_page_says_so_and_what_to_run(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    await sign_in(client, db_session, settings, Role.viewer)
    response = await client.get("/markets")
    assert response.status_code == 200
    assert "No market data yet" in response.text
    assert "<code>finagency market backfill</code>" in response.text
    assert "POST /api/v1/market/refresh" in response.text
    # The watchlist is still listed, each instrument without a quote and without history.
    assert symbols_shown(response.text) == await default_symbols(db_session)
    spx = cells(row_of(response.text, "^GSPC"))
    assert "no quote" in spx[1]
    assert spx[2:5] == ["—", "—", "no history"]
    assert 'action="/markets/refresh"' not in response.text  # a viewer may not ask for one

    instrument = await client.get("/markets/%5EGSPC")
    assert instrument.status_code == 200
    assert "No market data yet" in instrument.text
    assert "finagency market backfill --symbol ^GSPC" in instrument.text
    assert "data-chart-url" not in instrument.text


async def test_the_default_watchlist_shows_price_change_age_and_a_sparkline(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    await simulated_history(db_session, settings, symbols=["^GSPC", "BTC-USD"])
    snapshot = await simulated_snapshot(db_session, settings)
    await sign_in(client, db_session, settings, Role.viewer)
    response = await client.get("/markets")
    assert response.status_code == 200, response.text
    html = response.text
    assert symbols_shown(html) == await default_symbols(db_session)
    assert f"snapshot #{snapshot.id}" in html
    assert re.search(r"Quotes as of <time datetime=\"[^\"]+\">[^<]+ UTC</time>", html)
    assert re.search(r"<strong>(\d+ s|\d+ min[^<]*) old</strong>", html)

    fields = snapshot.instruments["^GSPC"]["fields"]
    row = row_of(html, "^GSPC")
    name, last, change, change_pct, _, as_of = cells(row)
    assert name == "^GSPC simulated S&P 500"
    assert last == number(fields["last"]["value"], 2)
    assert change == signed(fields["change"]["value"], 2)
    assert change_pct == signed(fields["change_pct"]["value"], 2, " %")
    assert as_of.endswith(" ago")
    assert 'href="/markets/%5EGSPC"' in row
    trend = "up" if fields["change"]["value"] > 0 else "down"
    assert f'class="num trend-{trend}"' in row

    # The sparkline: one point per stored daily close of the last three months, in an SVG.
    since = datetime.now(UTC) - timedelta(days=SPARK_DAYS)
    closes = [
        bar
        for bar in await market_service.history(
            db_session, "^GSPC", since.date(), datetime.now(UTC).date()
        )
        if bar.start >= since
    ]
    points = re.search(r'<polyline points="([^"]+)"', row)
    assert points is not None
    assert len(points.group(1).split()) == len(closes) > 40
    assert re.search(r'<svg class="spark spark-(up|down|flat)"[^>]* role="img" aria-label="', row)
    assert "no history" in cells(row_of(html, "^NSEI"))[4]  # no bars stored for it

    # Simulated data says so, on the page and on each row, in words.
    assert "Simulated data." in html
    assert ("simulated", FLAG_NOTES["simulated"]) in badges(row)
    assert "<dd>" + FLAG_NOTES["simulated"] + "</dd>" in html  # the legend


async def flagged_snapshot(session: AsyncSession, settings: Settings) -> MarketSnapshot:
    """Two providers: one disagrees on ^GSPC, AAPL jumps 60 %, BTC-USD is three hours old."""
    now = datetime.now(UTC).replace(microsecond=0)
    old = now - timedelta(hours=3)

    def q(provider: str, symbol: str, price: float, previous: float, at: datetime) -> ProviderQuote:
        return ProviderQuote(symbol, provider, price, at, previous_close=previous, volume=1000)

    fetched = {
        "yahoo": {
            "^GSPC": q("yahoo", "^GSPC", 5000.0, 4950.0, now),
            "AAPL": q("yahoo", "AAPL", 320.0, 200.0, now),
            "BTC-USD": q("yahoo", "BTC-USD", 95000.0, 94000.0, old),
            "EURUSD=X": q("yahoo", "EURUSD=X", 1.0812, 1.0790, now),
        },
        "finnhub": {"^GSPC": q("finnhub", "^GSPC", 5200.0, 4950.0, now)},
    }
    two = settings.model_copy(update={"market_providers": ["yahoo", "finnhub"]})
    snapshot = await session.run_sync(
        lambda sync: market_service.build_snapshot(sync, two, fetched, {}, now)
    )
    await session.commit()
    return snapshot


async def test_flagged_fields_carry_a_labelled_badge_that_explains_itself(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    snapshot = await flagged_snapshot(db_session, settings)
    assert snapshot.instruments["^GSPC"]["fields"]["last"]["flags"] == ["unverified"]
    await sign_in(client, db_session, settings, Role.viewer)
    html = (await client.get("/markets?watchlist=all")).text

    gspc = row_of(html, "^GSPC")
    assert cells(gspc)[1] == "5,000.00 unverified"
    assert cells(gspc)[2] == "+50.00 unverified"  # derived from a flagged figure
    assert ("unverified", FLAG_NOTES["unverified"]) in badges(gspc)
    assert cells(gspc)[0] == "^GSPC S&P 500 from yahoo, finnhub"  # both providers answered
    assert '<td class="num flagged">' in gspc

    aapl = row_of(html, "AAPL")
    assert cells(aapl)[1] == "320.00 suspect"
    assert cells(aapl)[3] == "+60.00 % suspect"
    assert ("suspect", FLAG_NOTES["suspect"]) in badges(aapl)

    btc = row_of(html, "BTC-USD")
    assert [label for label, _ in badges(btc)] == ["stale", "stale", "stale"]
    assert "3 h ago" in cells(btc)[5]

    eur = row_of(html, "EURUSD=X")
    assert cells(eur)[1] == "1.0812"  # four places for small prices
    assert badges(eur) == []  # nothing flagged, nothing marked
    assert "flagged" not in eur

    # No simulated banner for real providers; the legend explains each flag that appears.
    assert "Simulated data." not in html
    for flag in ("unverified", "suspect", "stale"):
        assert f"<dd>{FLAG_NOTES[flag]}</dd>" in html
    assert f"<dd>{FLAG_NOTES['simulated']}</dd>" not in html
    # A watchlist instrument no provider answered for says so in words.
    nsei = row_of(html, "^NSEI")
    assert badges(nsei) == [("no quote", NO_QUOTE)]
    assert f"<dd>{NO_QUOTE}</dd>" in html

    # The instrument page marks the same fields in its latest figures.
    page = (await client.get("/markets/%5EGSPC")).text
    figures = page.split('id="latest-heading"', 1)[1].split("</section>", 1)[0]
    assert "5,000.00" in figures
    assert ("unverified", FLAG_NOTES["unverified"]) in badges(figures)
    assert "Previous close" in figures
    assert "from yahoo, finnhub" in figures


async def test_a_selector_chooses_among_the_watchlists(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    tech = await market_service.create_watchlist(db_session, "Tech", "", ["NVDA", "AAPL"], None)
    await db_session.commit()
    await sign_in(client, db_session, settings, Role.viewer)
    html = (await client.get("/markets")).text
    options = re.findall(r'<option value="([^"]+)"( selected)?>([^<]+)</option>', html)
    assert [(value, label) for value, _, label in options][-2:] == [
        (str(tech.id), "Tech"),
        ("all", "All instruments"),
    ]
    assert options[0][1] == " selected"  # the default watchlist comes first and is shown
    assert "(default)" in options[0][2]

    chosen = await client.get(f"/markets?watchlist={tech.id}")
    assert chosen.status_code == 200
    assert symbols_shown(chosen.text) == ["NVDA", "AAPL"]
    assert f'hx-get="/fragments/markets?watchlist={tech.id}"' in chosen.text
    everything = await client.get("/markets?watchlist=all")
    count = await db_session.scalar(select(func.count()).select_from(Instrument))
    assert len(symbols_shown(everything.text)) == count

    fragment = await client.get(f"/fragments/markets?watchlist={tech.id}")
    assert fragment.status_code == 200
    assert symbols_shown(fragment.text) == ["NVDA", "AAPL"]
    assert "<html" not in fragment.text

    missing = await client.get("/markets?watchlist=999999")
    assert missing.status_code == 404
    assert "No watchlist 999999" in missing.text
    malformed = await client.get("/markets?watchlist=tech")
    assert malformed.status_code == 422
    assert "Unknown watchlist &#39;tech&#39;" in malformed.text

    await market_service.update_watchlist(db_session, tech, None, None, [])
    await db_session.commit()
    empty = await client.get(f"/markets?watchlist={tech.id}")
    assert f"add symbols with <code>PATCH /api/v1/watchlists/{tech.id}</code>" in empty.text


async def test_the_instrument_page_has_a_chart_figures_indicators_and_the_bars(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    await simulated_history(db_session, settings, symbols=["^GSPC"])
    await simulated_snapshot(db_session, settings)
    await sign_in(client, db_session, settings, Role.viewer)
    response = await client.get("/markets/%5EGSPC")
    assert response.status_code == 200, response.text
    page = read(response.text)
    html = response.text
    assert '<h1>S&amp;P 500 <span class="muted">^GSPC</span></h1>' in html

    # The chart: drawn by markets.js from a URL in a data- attribute, never an inline script.
    charts = [e for e in page.all("div") if "data-chart-url" in e.attrs]
    assert len(charts) == 1
    today = datetime.now(UTC).date()
    year_ago = today - timedelta(days=365)
    assert charts[0].attrs["data-chart-url"] == (
        f"/markets/%5EGSPC/chart?interval=1d&start={year_ago}&end={today}"
    )
    assert charts[0].attrs["role"] == "img"
    sources = [e.attrs.get("src") or "" for e in page.all("script")]
    assert any(s.startswith("/static/markets.js?v=") for s in sources)
    assert any(s.startswith("/static/vendor/uPlot.iife.min.js?v=") for s in sources)
    assert not _inline_code(html)

    # The range links and the interval/date form.
    ranges = [e for e in page.all("a") if "range=" in (e.attrs.get("href") or "")]
    assert [e.text for e in ranges] == ["1M", "3M", "6M", "1Y", "2Y", "5Y", "10Y"]
    assert [e.text for e in ranges if e.attrs.get("aria-current")] == ["1Y"]
    assert re.search(r'<option value="1wk">Weekly</option>', html)
    assert f'name="start" value="{year_ago}"' in html

    # The indicator summary as a table, from the service.
    summary = await market_service.indicator_summary(db_session, "^GSPC")
    indicators = html.split('id="indicators-heading"', 1)[1].split("</section>", 1)[0]
    assert f"From {summary['bars']} daily bars up to {summary['as_of']}" in indicators
    assert f'<th scope="row">SMA 20</th><td class="num">{number(summary["sma_20"])}</td>' in (
        indicators
    )
    assert '<th scope="row">RSI 14</th>' in indicators

    # The bars, newest first, in a collapsed table.
    bars = await market_service.history(db_session, "^GSPC", year_ago, today)
    table = html.split("<details", 1)[1].split("</details>", 1)[0]
    assert f"The {len(bars)} daily bars as a table" in table
    rows = re.findall(r'<tr>\s*<th scope="row">(\d{4}-\d\d-\d\d)</th>', table)
    assert len(rows) == len(bars)
    newest = calendars.last_session("XNYS", bars[-1].start).isoformat()
    assert rows[0] == newest
    first_row = table.split("<tbody>", 1)[1].split("</tr>", 1)[0]
    assert cells(first_row)[:5] == [
        newest,
        *(number(value) for value in (bars[-1].open, bars[-1].high, bars[-1].low, bars[-1].close)),
    ]


async def test_unknown_symbols_bad_intervals_and_bad_dates_are_refused_on_the_page(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    await sign_in(client, db_session, settings, Role.viewer)
    missing = await client.get("/markets/NOPE")
    assert missing.status_code == 404
    assert "<h1>Not found</h1>" in missing.text
    assert "No instrument &#39;NOPE&#39;" in missing.text

    for query, message in [
        ("interval=5m", "Unknown interval &#39;5m&#39;: choose 1d (daily), 1wk (weekly), 1mo"),
        ("range=7y", "Unknown range &#39;7y&#39;"),
        ("start=2026-13-01", "From &#39;2026-13-01&#39; is not a date (YYYY-MM-DD)."),
        ("start=2026-03-01&end=2026-02-01", "From must not be after To."),
        ("start=2010-01-01&end=2026-01-01", "Choose at most 3660 days at once."),
    ]:
        response = await client.get(f"/markets/%5EGSPC?{query}")
        assert response.status_code == 422, query
        assert f'<p class="error" role="alert">{message}' in response.text, query
        assert "data-chart-url" not in response.text
        assert 'name="interval"' in response.text  # the form is there to put it right
    typed = await client.get("/markets/%5EGSPC?interval=5m")
    assert f'name="start" value="{datetime.now(UTC).date() - timedelta(days=365)}"' in typed.text

    chart = await client.get("/markets/%5EGSPC/chart", params={"interval": "5m"})
    assert chart.status_code == 422
    assert chart.json()["detail"].startswith("Unknown interval '5m'")
    assert (await client.get("/markets/NOPE/chart")).status_code == 404


async def test_the_chart_json_aggregates_weeks_and_warms_up_its_averages(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    await simulated_history(db_session, settings, symbols=["^GSPC"])
    await sign_in(client, db_session, settings, Role.viewer)
    today = datetime.now(UTC).date()
    everything = await market_service.history(
        db_session, "^GSPC", today - timedelta(days=400), today
    )
    days = [(calendars.last_session("XNYS", bar.start), bar) for bar in everything]

    daily = (await client.get("/markets/%5EGSPC/chart", params={"range": "3m"})).json()
    shown = [(d, b) for d, b in days if d >= today - timedelta(days=92)]
    assert len(daily["time"]) == len(shown)
    assert daily["close"] == [b.close for _, b in shown]
    assert daily["time"][0] == int(datetime(*shown[0][0].timetuple()[:3], tzinfo=UTC).timestamp())
    assert daily["sma_periods"] == [20, 50]
    # SMA 50 at the first bar shown is the mean of the 50 closes up to it, earlier ones included.
    first = days.index(shown[0])
    expected = sum(b.close for _, b in days[first - 49 : first + 1]) / 50
    assert daily["sma_50"][0] == pytest.approx(expected)

    weekly = (
        await client.get("/markets/%5EGSPC/chart", params={"interval": "1wk", "range": "6m"})
    ).json()
    assert weekly["interval"] == "1wk"
    weeks: dict[tuple[int, int], list[Bar]] = {}
    for day, bar in days:
        weeks.setdefault(day.isocalendar()[:2], []).append(bar)
    start = today - timedelta(days=183)
    expected_weeks = [
        bars for bars in weeks.values() if calendars.last_session("XNYS", bars[-1].start) >= start
    ]
    assert len(weekly["time"]) == len(expected_weeks)
    for index, bars in enumerate(expected_weeks):
        assert weekly["open"][index] == bars[0].open
        assert weekly["close"][index] == bars[-1].close
        assert weekly["high"][index] == max(b.high for b in bars)
        assert weekly["low"][index] == min(b.low for b in bars)
    assert all(len(weekly[key]) == len(weekly["time"]) for key in ("volume", "sma_20", "sma_50"))


async def test_an_editor_asks_for_fresh_quotes_and_a_viewer_may_not(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings, queued: Queued
) -> None:
    csrf = await sign_in(client, db_session, settings, Role.editor)
    page = (await client.get("/markets")).text
    assert 'action="/markets/refresh"' in page
    forged = await client.post("/markets/refresh", data={"csrf_token": "wrong"})
    assert forged.status_code == 403
    assert queued == []

    response = await client.post("/markets/refresh", data={"csrf_token": csrf})
    assert response.status_code == 303
    location = response.headers["location"]
    refresh_id = int(location.rsplit("refresh=", 1)[1])
    row = await db_session.get(MarketRefresh, refresh_id)
    assert row is not None
    assert row.status == "pending"
    assert queued == [("market.refresh", (refresh_id,))]
    shown = await client.get(location)
    assert f"Refresh #{refresh_id} is waiting for the worker" in shown.text
    row.status, row.error = "failed", "ProviderError: yahoo: timeout"
    await db_session.commit()
    failed = await client.get(location)
    assert f"Refresh #{refresh_id} failed: ProviderError: yahoo: timeout." in failed.text
    unknown = await client.get("/markets?refresh=999999")
    assert unknown.status_code == 200
    assert '<p class="error" role="alert">No refresh 999999</p>' in unknown.text

    client.cookies.clear()
    viewer_csrf = await sign_in(client, db_session, settings, Role.viewer)
    refused = await client.post("/markets/refresh", data={"csrf_token": viewer_csrf})
    assert refused.status_code == 403
    assert "does not allow this page (edit_content)" in refused.text
    assert len(queued) == 1


async def test_signed_out_visitors_go_to_login_and_the_pages_hold_no_inline_code(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    for path in ("/markets", "/markets/%5EGSPC", "/markets/%5EGSPC/chart"):
        response = await client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/login"
    await simulated_history(db_session, settings, symbols=["^GSPC"], days=60)
    await flagged_snapshot(db_session, settings)
    await sign_in(client, db_session, settings, Role.editor)
    for path in ("/markets", "/markets?watchlist=all", "/markets/%5EGSPC", "/markets/NOPE"):
        response = await client.get(path)
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert not _inline_code(response.text), (path, _inline_code(response.text))
