"""Chart images rendered from stored daily bars, stored and attached like any other media.

matplotlib is used through its object API (a Figure on its own Agg canvas), never pyplot: pyplot
keeps global state and is not safe in the API's threads or in workers.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from finagency.accounts.audit import Actor
from finagency.errors import FinagencyError, NotFound
from finagency.market.models import Bar, Instrument
from finagency.media import service
from finagency.media.models import Media
from finagency.settings import Settings

DAILY = "1d"
# Trading days shown: about four months, enough to see a trend next to the day's move.
CHART_DAYS = 90
# 16:9 at 100 dpi: what X, LinkedIn and Telegram show without cropping.
CHART_SIZE = (1200, 675)
DPI = 100
SIMULATED_MARK = "SIMULATED DATA"
LINE_COLOUR = "#1f5fa8"
MARK_COLOUR = "#c0392b"


@dataclass(frozen=True)
class PriceHistory:
    """Daily closes of one instrument, oldest first, as the chart shows them."""

    symbol: str
    name: str
    currency: str
    closes: Sequence[tuple[date, float]]
    simulated: bool

    @property
    def as_of(self) -> date:
        return self.closes[-1][0]


def render_price_chart(history: PriceHistory, size: tuple[int, int] = CHART_SIZE) -> bytes:
    """A PNG line chart of the daily closes; the same history always gives the same bytes."""
    # Imported here, not at the top: matplotlib costs seconds of start-up and tens of MB in
    # every API process, and only the few requests that ask for a chart need it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
    from matplotlib.figure import Figure
    from matplotlib.ticker import StrMethodFormatter

    if len(history.closes) < 2:
        raise FinagencyError(
            f"Not enough history to chart {history.symbol}: at least two daily closes are needed.",
            409,
            "no-market-history",
        )
    width, height = size
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)  # the figure's own canvas: no global backend is touched
    axes = figure.add_subplot()
    days = date2num([day for day, _ in history.closes])
    axes.plot(days, [close for _, close in history.closes], color=LINE_COLOUR, linewidth=2)
    locator = AutoDateLocator()
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes.yaxis.set_major_formatter(StrMethodFormatter("{x:,.2f}"))
    axes.set_ylabel(f"Close ({history.currency})")
    axes.grid(True, alpha=0.3)
    axes.set_title(
        f"{history.name} ({history.symbol}) - daily close in {history.currency}, "
        f"as of {history.as_of.isoformat()}",
        loc="left",
    )
    if history.simulated:
        # On the image itself, so that it survives being copied away from its post.
        axes.text(
            0.5,
            0.5,
            SIMULATED_MARK,
            transform=axes.transAxes,
            fontsize=56,
            fontweight="bold",
            color=MARK_COLOUR,
            alpha=0.3,
            rotation=20,
            ha="center",
            va="center",
        )
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata=_metadata(history))
    return buffer.getvalue()


def _metadata(history: PriceHistory) -> dict[str, str | None]:
    # No "Software" (matplotlib's version) entry: identical charts stay byte-identical.
    metadata: dict[str, str | None] = {
        "Software": None,
        "Title": f"{history.symbol} daily close as of {history.as_of.isoformat()}",
    }
    if history.simulated:
        metadata["Warning"] = f"{SIMULATED_MARK}: not real market prices"
    return metadata


def price_history(
    session: Session, symbol: str, until: date, days: int = CHART_DAYS
) -> PriceHistory:
    """The last `days` daily closes up to and including the trading date `until`."""
    instrument = session.scalar(select(Instrument).where(Instrument.symbol == symbol))
    if instrument is None:
        raise NotFound(f"Unknown symbol {symbol!r}")
    zone = ZoneInfo(instrument.timezone)
    # A bar starts at its session's opening instant, which may fall on the day before in UTC.
    horizon = datetime(until.year, until.month, until.day, tzinfo=UTC) + timedelta(days=2)
    bars = session.execute(
        select(Bar.start, Bar.close, Bar.provider)
        .where(Bar.instrument_id == instrument.id, Bar.interval == DAILY, Bar.start < horizon)
        .order_by(Bar.start.desc())
        .limit(days + 2)
    ).all()
    rows = [(start.astimezone(zone).date(), close, provider) for start, close, provider in bars]
    rows = [row for row in rows if row[0] <= until][:days]
    rows.reverse()
    return PriceHistory(
        symbol=instrument.symbol,
        name=instrument.name,
        currency=instrument.currency,
        closes=[(day, close) for day, close, _ in rows],
        simulated=any(provider == "simulated" for _, _, provider in rows),
    )


def alt_text(history: PriceHistory) -> str:
    text = (
        f"Line chart of the daily closing price of {history.name} ({history.symbol}) "
        f"in {history.currency}, as of {history.as_of.isoformat()}."
    )
    if history.simulated:
        text += " Simulated data, not real market prices."
    return text


def attach_chart(
    session: Session,
    settings: Settings,
    content_id: int,
    symbol: str,
    until: date,
    *,
    days: int = CHART_DAYS,
    actor: Actor | None = None,
) -> Media:
    """Render `symbol`'s closes up to `until` (the snapshot's trading date), store the PNG and
    attach it to the content (origin "chart", with alt text). Flushes; the caller commits.

    Raises NotFound (unknown symbol or content) and FinagencyError "no-market-history" (fewer
    than two daily bars). The same history twice gives the same image, attached once.
    """
    history = price_history(session, symbol, until, days)
    if not history.closes:
        raise FinagencyError(
            f"No daily bars for {symbol} up to {until.isoformat()}.", 409, "no-market-history"
        )
    media, _ = service.store(
        session, settings, render_price_chart(history), origin="chart", actor=actor
    )
    service.attach(session, content_id, media.id, alt_text(history), actor or Actor())
    return media
