"""earnings_preview: where a company's stock stands going into its results, and what investors
typically look at in results, in general words. No forecast and no figure the snapshot lacks:
no estimate, no expected move, no results date. A professional reader is spared the list of
what results are read for."""

from __future__ import annotations

from finagency.content.renderings import Draft
from finagency.content.writers import Brief, WriterError
from finagency.content.writers.templates import news, phrases
from finagency.content.writers.templates import voice as voices
from finagency.content.writers.templates.common import (
    assemble,
    day_text,
    is_equity,
    name_of,
    pick,
    present,
    quote_data,
    trading_day,
)

TEMPLATE_VERSION = "earnings_preview/2"
_WATCH = (
    "revenue and how it grew against the same quarter a year earlier",
    "profit margins, and whether costs grew faster than sales",
    "earnings per share compared with what analysts had estimated",
    "management's outlook for the coming quarters",
    "cash flow and the state of the balance sheet",
)
_WATCH_LEADS = (
    "In a results release, investors typically look at several things: {}.",
    "What usually draws attention in results: {}.",
    "Results are commonly read for the following: {}.",
)
_FORMAL_WATCH_LEADS = (_WATCH_LEADS[0], _WATCH_LEADS[2])  # complete sentences
_CAVEAT = (
    "This preview makes no forecast of the results or of the share price; shares can move "
    "sharply in either direction when results are published.",
    "Nothing here predicts the results or the share price's reaction to them, which can be "
    "large in either direction.",
)


def _company(brief: Brief) -> str:
    """The first company (equity) among the requested symbols, then the idea's."""
    idea_symbols = brief.idea.symbols if brief.idea else ()
    found = present(brief.snapshot, brief.symbols, idea_symbols)
    for symbol in found:
        if is_equity(brief.snapshot.instruments[symbol]):
            return symbol
    raise WriterError(
        f"an earnings preview is about a company; none of {', '.join(found)} is a company's stock"
    )


def _watch_list(seed: int) -> str:
    """Three of the general points in a seeded order, so previews read apart and each sentence
    fits one X post."""
    order = sorted(_WATCH, key=lambda point: pick(("0", "1", "2", "3", "4"), seed, point))
    return f"{order[0]}; {order[1]}; and {order[2]}"


def write(brief: Brief) -> Draft:
    snapshot, seed, voice = brief.snapshot, brief.seed, voices.of(brief)
    symbol = _company(brief)
    entry = snapshot.instruments[symbol]
    name = name_of(symbol, entry)
    day = trading_day(entry)
    standing = phrases.move(symbol, entry, seed, voice)
    if day is not None and phrases.usable_quote(entry):
        lead = pick(("Going into its results", "Ahead of its results"), seed)
        standing = f"{lead}, as of {day_text(day)}: {standing}"
    paragraphs = [standing, phrases.range_context(symbol, entry, seed, voice) or ""]
    if brief.idea is not None and brief.idea.headlines:
        paragraphs.append(news.news(brief.idea, snapshot, seed, [name], most=1).text)
    if not voice.professional:
        leads = _FORMAL_WATCH_LEADS if voice.formal else _WATCH_LEADS
        paragraphs.append(pick(leads, seed, "watch").format(_watch_list(seed)))
    paragraphs.append(voices.choose(voice, _CAVEAT, seed, "caveat"))
    paragraphs = voices.shaped(voice, "earnings_preview", paragraphs, seed)
    title = pick(("Earnings preview: {}", "{} ahead of its results"), seed, "title").format(name)
    return assemble(
        brief,
        TEMPLATE_VERSION,
        title,
        paragraphs,
        [symbol],
        instruments=[quote_data(symbol, entry)],
        idea_id=brief.idea.id if brief.idea else None,
    )
