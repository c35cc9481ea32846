"""market_update: one line per instrument, dated by the trading day of the first; a retail reader
also gets the terms glossed, a conversational one an opener."""

from __future__ import annotations

from finagency.compliance.findings import SnapshotView
from finagency.content.renderings import Draft
from finagency.content.writers import Brief
from finagency.content.writers.templates import phrases
from finagency.content.writers.templates import voice as voices
from finagency.content.writers.templates.common import (
    SIMULATED_MARK,
    SIMULATED_NOTE,
    day_text,
    is_simulated,
    present,
    provenance,
    quote_data,
    trading_day,
)

TEMPLATE_VERSION = "market_update/2"


def market_update(
    snapshot: SnapshotView,
    symbols: list[str],
    disclaimer: str,
    seed: int = 0,
    voice: voices.Voice = voices.DEFAULT,
) -> Draft:
    """A short market update over `symbols` (those the snapshot has)."""
    found = present(snapshot, symbols)
    entries = {symbol: snapshot.instruments[symbol] for symbol in found}
    day = trading_day(entries[found[0]])
    title = f"Market update for {day_text(day)}" if day else "Market update"
    simulated = is_simulated(entries.values())
    if simulated:
        title = f"{SIMULATED_MARK} {title}"
    moves = " ".join(phrases.move(symbol, entries[symbol], seed, voice) for symbol in found)
    paragraphs = voices.shaped(voice, "market_update", [moves], seed)
    if simulated:
        paragraphs.append(SIMULATED_NOTE)
    return Draft(
        title=title,
        paragraphs=paragraphs,
        disclaimer=disclaimer,
        data={
            **provenance(snapshot, TEMPLATE_VERSION),
            "symbols": found,
            "simulated": simulated,
            "instruments": [quote_data(symbol, entries[symbol]) for symbol in found],
        },
    )


def write(brief: Brief) -> Draft:
    symbols = list(brief.symbols) or list(brief.idea.symbols if brief.idea else ())
    return market_update(brief.snapshot, symbols, brief.disclaimer, brief.seed, voices.of(brief))
