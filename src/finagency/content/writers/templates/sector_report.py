"""sector_report: several instruments of a sector: breadth (counts in words), the biggest mover
up and down with their figures, then a line for each of the others. A professional reader gets
the movers first and the breadth after them."""

from __future__ import annotations

import re
from typing import Any

from finagency.content.renderings import Draft
from finagency.content.writers import Brief, WriterError
from finagency.content.writers.templates import news, phrases
from finagency.content.writers.templates import voice as voices
from finagency.content.writers.templates.common import (
    MAX_COUNTED,
    assemble,
    day_text,
    name_of,
    number_word,
    pick,
    present,
    quote_data,
    trading_day,
    value,
)

TEMPLATE_VERSION = "sector_report/2"
MAX_LISTED = 8  # the others get a line each up to this many; the JSON channels carry them all
# A topic goes into the title only when it reads as a sector's name.
_SECTOR_NAME = re.compile(r"[A-Za-z][A-Za-z &,'-]{1,48}")


def _breadth(up: int, down: int, flat: int, missing: int, total: int) -> str:
    every = "Both" if total == 2 else f"All {number_word(total)}"
    if up == total:
        return f"{every} instruments covered rose."
    if down == total:
        return f"{every} instruments covered fell."
    parts = [f"{number_word(up)} rose", f"{number_word(down)} fell"]
    if flat:
        parts.append(f"{number_word(flat)} {'was' if flat == 1 else 'were'} unchanged")
    if missing:
        parts.append(f"{number_word(missing)} had no verified quote")
    listed = ", ".join(parts[:-1]) + f" and {parts[-1]}"
    return f"Of the {number_word(total)} instruments covered, {listed}."


def _leader(symbol: str, entry: dict[str, Any], seed: int, up: bool, voice: voices.Voice) -> str:
    move = phrases.move(symbol, entry, seed, voice)
    if voice.formal:  # two complete sentences rather than a label and a colon
        role = "gain" if up else "fall"
        return f"The largest {role} in the group came from {name_of(symbol, entry)}. {move}"
    roles = (
        ("The biggest gain", "The strongest move up")
        if up
        else ("The biggest fall", "The weakest move")
    )
    return f"{pick(roles, seed, 'leader', up)}: {move}"


def _title(brief: Brief, day: str | None) -> str:
    topic = (brief.topic or "").strip()
    sector = topic if _SECTOR_NAME.fullmatch(topic) and news.passes(topic, brief.snapshot) else ""
    title = f"Sector report: {sector}" if sector else "Sector report"
    return f"{title}, {day}" if day else title


def write(brief: Brief) -> Draft:
    snapshot, seed, voice = brief.snapshot, brief.seed, voices.of(brief)
    idea_symbols = brief.idea.symbols if brief.idea else ()
    found = present(snapshot, brief.symbols, idea_symbols)[:MAX_COUNTED]
    if len(found) < 2:
        raise WriterError(
            "a sector report compares several instruments; the snapshot has only "
            f"{', '.join(found)} of those requested"
        )
    entries = {symbol: snapshot.instruments[symbol] for symbol in found}
    moves = {symbol: phrases.direction(entry) for symbol, entry in entries.items()}
    quoted = [s for s in found if phrases.usable_quote(entries[s])]
    up = sorted((s for s in quoted if moves[s] > 0), key=lambda s: -value(entries[s], "change_pct"))
    down = sorted(
        (s for s in quoted if moves[s] < 0), key=lambda s: value(entries[s], "change_pct")
    )
    flat = len(quoted) - len(up) - len(down)
    breadth = _breadth(len(up), len(down), flat, len(found) - len(quoted), len(found))
    leaders = [_leader(up[0], entries[up[0]], seed, True, voice)] if up else []
    leaders += [_leader(down[0], entries[down[0]], seed, False, voice)] if down else []
    others = [s for s in found if s not in (up[:1] + down[:1])]
    listed = others if len(others) <= MAX_LISTED else []
    figures = [
        " ".join(leaders),
        " ".join(phrases.move(s, entries[s], seed, voice) for s in listed),
    ]
    paragraphs = [*figures, breadth] if voice.professional else [breadth, *figures]
    paragraphs = voices.shaped(voice, "sector_report", paragraphs, seed)
    day = trading_day(entries[found[0]])
    return assemble(
        brief,
        TEMPLATE_VERSION,
        _title(brief, day_text(day) if day else None),
        paragraphs,
        found,
        breadth={"up": len(up), "down": len(down), "unchanged": flat},
        biggest_gain=up[0] if up else None,
        biggest_fall=down[0] if down else None,
        instruments=[quote_data(symbol, entries[symbol]) for symbol in found],
    )
