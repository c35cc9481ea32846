"""Chart images from stored daily bars: rendered headless, stored and attached as media."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta

import httpx
import numpy
import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from finagency.accounts.models import AuditEvent
from finagency.accounts.permissions import Role
from finagency.content.models import Content
from finagency.errors import FinagencyError, NotFound
from finagency.media import charts
from finagency.media.models import ContentMedia, Media
from finagency.settings import Settings
from tests.fixtures.accounts import bearer, make_user
from tests.fixtures.market import simulated_history
from tests.media.images import stored_files

SYMBOL = "^GSPC"


def _reddish(png: bytes) -> int:
    """Pixels of the watermark's colour (the price line is blue, the text black)."""
    with Image.open(io.BytesIO(png)) as image:
        pixels = numpy.asarray(image.convert("RGB")).astype(int)
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    return int(((red > 200) & (red - blue > 25) & (red - green > 25)).sum())


async def _history(db_session: AsyncSession, settings: Settings) -> charts.PriceHistory:
    await simulated_history(db_session, settings, days=200, symbols=[SYMBOL])
    return await db_session.run_sync(
        lambda session: charts.price_history(session, SYMBOL, date.today())
    )


async def test_a_chart_is_a_png_of_the_last_90_closes_marked_simulated(
    db_session: AsyncSession, settings: Settings
) -> None:
    history = await _history(db_session, settings)
    assert len(history.closes) == charts.CHART_DAYS
    assert history.simulated
    days = [day for day, _ in history.closes]
    assert days == sorted(days)
    assert days[-1] <= date.today()

    png = charts.render_price_chart(history)
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        assert image.size == charts.CHART_SIZE
        metadata = dict(image.info)
    assert metadata["Title"] == f"{SYMBOL} daily close as of {history.as_of.isoformat()}"
    assert "SIMULATED DATA" in metadata["Warning"]
    assert "Software" not in metadata
    assert charts.render_price_chart(history) == png  # same history, same bytes

    real = charts.render_price_chart(replace(history, simulated=False))
    assert "Warning" not in Image.open(io.BytesIO(real)).info
    assert _reddish(png) > 5000
    assert _reddish(real) == 0


async def test_the_window_ends_at_the_trading_date_asked_for(
    db_session: AsyncSession, settings: Settings
) -> None:
    history = await _history(db_session, settings)
    until = history.closes[-10][0]
    earlier = await db_session.run_sync(
        lambda session: charts.price_history(session, SYMBOL, until, days=30)
    )
    assert earlier.as_of == until
    assert list(earlier.closes) == list(history.closes[-39:-9])
    weekend = until + timedelta(days=(5 - until.weekday()) % 7 or 7)  # the Saturday after
    on_weekend = await db_session.run_sync(
        lambda session: charts.price_history(session, SYMBOL, weekend, days=5)
    )
    assert on_weekend.as_of <= weekend
    assert on_weekend.as_of.weekday() < 5


async def test_attach_chart_stores_and_attaches_it_once(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    history = await _history(db_session, settings)
    content = Content(type="market_update", simulated=True)
    db_session.add(content)
    await db_session.commit()
    content_id = content.id

    def attach(session: Session) -> Media:
        return charts.attach_chart(session, settings, content_id, SYMBOL, date.today())

    media = await db_session.run_sync(attach)
    again = await db_session.run_sync(attach)
    await db_session.commit()
    assert again.id == media.id
    assert media.origin == "chart"
    assert media.content_type == "image/png"
    assert (media.width, media.height) == charts.CHART_SIZE
    path = settings.effective_media_dir / media.name
    assert path.read_bytes() == charts.render_price_chart(history)
    assert stored_files(settings.effective_media_dir) == [media.name]

    attachments = list(await db_session.scalars(select(ContentMedia)))
    assert [(a.content_id, a.media_id) for a in attachments] == [(content_id, media.id)]
    assert attachments[0].alt_text == charts.alt_text(history)
    assert "S&P 500" in (attachments[0].alt_text or "")
    assert "Simulated data" in (attachments[0].alt_text or "")
    actions = set(await db_session.scalars(select(AuditEvent.action)))
    assert {"chart_rendered", "media_attached"} <= actions

    viewer = bearer(settings, await make_user(db_session, settings, Role.viewer))
    listed = await client.get(f"/api/v1/content/{content_id}/media", headers=viewer)
    assert [row["media"]["origin"] for row in listed.json()] == ["chart"]
    served = await client.get(listed.json()[0]["media"]["url"])
    assert served.headers["content-type"] == "image/png"


async def test_no_chart_without_a_symbol_or_its_history(
    db_session: AsyncSession, settings: Settings
) -> None:
    await _history(db_session, settings)  # bars for ^GSPC only
    content = Content(type="market_update")
    db_session.add(content)
    await db_session.commit()
    content_id = content.id

    def attach(symbol: str, until: date) -> Callable[[Session], Media]:
        return lambda session: charts.attach_chart(session, settings, content_id, symbol, until)

    with pytest.raises(NotFound):
        await db_session.run_sync(attach("NOPE", date.today()))
    for symbol, until in [("^NSEI", date.today()), (SYMBOL, date(2000, 1, 1))]:
        with pytest.raises(FinagencyError) as missing:
            await db_session.run_sync(attach(symbol, until))
        assert missing.value.type == "no-market-history"
    assert stored_files(settings.effective_media_dir) == []
