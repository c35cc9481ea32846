"""Sentences about one instrument, built only from its publishable snapshot fields.

Direction is always in a word next to the figure ("rose 0.42%", "down 0.42%", "7.45% below its
52-week high"), never in a sign, so the fact check's direction reading agrees with the field.
"""

from __future__ import annotations

from typing import Any

from finagency.content.writers.templates.common import (
    field_amount,
    name_of,
    percent,
    pick,
    usable,
    value,
)
from finagency.content.writers.templates.voice import DEFAULT, Voice, verbs

QUOTE_FIELDS = ("last", "change_pct", "previous_close")
RANGE_FIELDS = ("last", "week52_high", "week52_low")


def no_quote(symbol: str, entry: dict[str, Any]) -> str:
    return f"{name_of(symbol, entry)}: no verified quote is available at the moment."


def usable_quote(entry: dict[str, Any]) -> bool:
    return usable(entry, *QUOTE_FIELDS)


def direction(entry: dict[str, Any]) -> int:
    """+1, -1 or 0 for the move as written (two decimals); 0 also when it cannot be written."""
    if not usable(entry, *QUOTE_FIELDS):
        return 0
    rounded = round(value(entry, "change_pct"), 2)
    return (rounded > 0) - (rounded < 0)


def move(symbol: str, entry: dict[str, Any], seed: int, voice: Voice = DEFAULT) -> str:
    """How the instrument moved: last, change in per cent and previous close, in one of a few
    phrasings (for a professional reader, the tersest)."""
    if not usable(entry, *QUOTE_FIELDS):
        return no_quote(symbol, entry)
    name = name_of(symbol, entry)
    last, previous = field_amount(entry, "last"), field_amount(entry, "previous_close")
    change = value(entry, "change_pct")
    way = direction(entry)
    verb = pick(verbs(voice, way), seed, symbol)
    if way == 0:
        return f"{name} {verb} at {last}."
    if voice.professional:
        return f"{name} {verb} {percent(change)} to {last} (previous close {previous})."
    word = "up" if way > 0 else "down"
    phrasings = (
        f"{name} {verb} {percent(change)} to {last}, from a previous close of {previous}.",
        f"{name} stood at {last}, {word} {percent(change)} from its previous close of {previous}.",
        f"At {last}, {name} was {word} {percent(change)} on its previous close of {previous}.",
    )
    return pick(phrasings, seed, symbol, "move")


def short_move(symbol: str, entry: dict[str, Any], seed: int, voice: Voice = DEFAULT) -> str:
    """The move without the previous close, for posts that must stay short."""
    if not usable(entry, *QUOTE_FIELDS):
        return no_quote(symbol, entry)
    name, last = name_of(symbol, entry), field_amount(entry, "last")
    way = direction(entry)
    verb = pick(verbs(voice, way), seed, symbol)
    if way == 0:
        return f"{name} {verb} at {last}."
    return f"{name} {verb} {percent(value(entry, 'change_pct'))} to {last}."


def distance(entry: dict[str, Any], extreme: str, label: str) -> str:
    """Say "7.45% below its 52-week high of 6,102.74": the fact check derives the same per
    cent from last and the extreme, and reads the direction from above/below."""
    level = field_amount(entry, extreme)
    distance = round((value(entry, "last") / value(entry, extreme) - 1) * 100, 2)
    if distance == 0:
        return f"level with its 52-week {label} of {level}"
    side = "above" if distance > 0 else "below"
    return f"{percent(distance)} {side} its 52-week {label} of {level}"


def place_in_range(entry: dict[str, Any]) -> str:
    """Where last sits between the 52-week low and high, in words (a computed share of the
    range would be a figure no field traces)."""
    high, low, last = (value(entry, name) for name in ("week52_high", "week52_low", "last"))
    if high <= low:
        return "at its 52-week range"
    share = (last - low) / (high - low)
    if share >= 2 / 3:
        return "in the upper third of its 52-week range"
    if share <= 1 / 3:
        return "in the lower third of its 52-week range"
    return "in the middle of its 52-week range"


def range_context(
    symbol: str, entry: dict[str, Any], seed: int, voice: Voice = DEFAULT
) -> str | None:
    """Where the price sits within its 52-week range (for a professional reader, the tersest
    phrasing), or None when those fields may not be written."""
    if not usable(entry, *RANGE_FIELDS) or value(entry, "week52_high") <= 0:
        return None
    name, last = name_of(symbol, entry), field_amount(entry, "last")
    from_high = distance(entry, "week52_high", "high")
    from_low = distance(entry, "week52_low", "low") if value(entry, "week52_low") > 0 else None
    where = place_in_range(entry)
    if from_low is None:
        return f"At {last}, {name} is {from_high}."
    if voice.professional:
        return f"At {last}, {name} is {from_high} and {from_low}."
    phrasings = (
        f"At {last}, {name} is {from_high} and {from_low}.",
        f"{name} sits {where}: {from_high} and {from_low}.",
        f"That leaves {name} {where}, {from_high} and {from_low}.",
    )
    return pick(phrasings, seed, symbol, "range")
