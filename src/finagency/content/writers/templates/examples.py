"""Worked examples for the explainers, from one or two instruments' publishable figures.

Each builder takes the candidate instruments (requested ones first) and returns the example and
the symbols it used, or None when no candidate has the fields it needs unflagged. Only snapshot
figures appear; anything derived (a day's range, units purchased) is said in words.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from finagency.content.writers.templates import phrases
from finagency.content.writers.templates.common import (
    day_text,
    field_amount,
    format_amount,
    is_equity,
    money,
    name_of,
    percent,
    pick,
    trading_day,
    usable,
    value,
)
from finagency.content.writers.templates.voice import Voice, verbs

Candidate = tuple[str, dict[str, Any]]
Example = tuple[str, list[str]]
INDEX_CLASSES = ("index", "stock_index")


def _take(symbol: str, entry: dict[str, Any], seed: int, voice: Voice) -> str:
    """The example's opening; a formal one states it instead of addressing the reader."""
    day = trading_day(entry)
    name = name_of(symbol, entry)
    when = f" on {day_text(day)}" if day else ""
    if voice.formal:
        return f"{name}{when} serves as an example."
    return pick(("Take {}{}.", "For an example, take {}{}."), seed).format(name, when)


def _points(entry: dict[str, Any], amount: float) -> str:
    """A change on the instrument's own scale: currency for shares, points for indices."""
    if entry.get("asset_class") in INDEX_CLASSES:
        return f"{format_amount(abs(amount), str(entry.get('currency') or 'USD'))} points"
    return money(entry, abs(amount))


def daily_change(candidates: list[Candidate], seed: int, voice: Voice) -> Example | None:
    for symbol, entry in candidates:
        if not usable(entry, "last", "previous_close", "change", "change_pct"):
            continue
        last, previous = field_amount(entry, "last"), field_amount(entry, "previous_close")
        change, way = value(entry, "change"), phrases.direction(entry)
        size = _points(entry, change)
        if way == 0:
            result = f"That is a change of {size}, too small to show in per cent at two decimals."
        else:
            noun = "rise" if way > 0 else "fall"
            pct = percent(value(entry, "change_pct"))
            result = f"That is a {noun} of {size}, or {pct} of the previous close."
        text = (
            f"{_take(symbol, entry, seed, voice)} The previous close was {previous} and the latest "
            f"price {last}. {result}"
        )
        return text, [symbol]
    return None


def week52_range(candidates: list[Candidate], seed: int, voice: Voice) -> Example | None:
    for symbol, entry in candidates:
        if not usable(entry, *phrases.RANGE_FIELDS) or value(entry, "week52_low") <= 0:
            continue
        low, high = field_amount(entry, "week52_low"), field_amount(entry, "week52_high")
        from_high = phrases.distance(entry, "week52_high", "high")
        from_low = phrases.distance(entry, "week52_low", "low")
        take = _take(symbol, entry, seed, voice)
        text = (
            f"{take} Its 52-week range ran from {low} to {high}, and at "
            f"{field_amount(entry, 'last')} it was {from_high} and {from_low}, "
            f"{phrases.place_in_range(entry)}."
        )
        return text, [symbol]
    return None


def market_indices(candidates: list[Candidate], seed: int, voice: Voice) -> Example | None:
    indices = [c for c in candidates if c[1].get("asset_class") in INDEX_CLASSES]
    for symbol, entry in indices + [c for c in candidates if c not in indices]:
        if usable(entry, *phrases.QUOTE_FIELDS):
            return (
                f"{_take(symbol, entry, seed, voice)} {phrases.move(symbol, entry, seed, voice)}",
                [symbol],
            )
    return None


def volatility(candidates: list[Candidate], seed: int, voice: Voice) -> Example | None:
    for symbol, entry in candidates:
        if not usable(entry, "last", "previous_close", "day_high", "day_low"):
            continue
        text = (
            f"{_take(symbol, entry, seed, voice)} It traded between "
            f"{field_amount(entry, 'day_low')} "
            f"and {field_amount(entry, 'day_high')} in the session, against a previous close "
            f"of {field_amount(entry, 'previous_close')}, and the latest price was "
            f"{field_amount(entry, 'last')}. How wide the gap between the day's high and low "
            "is, compared with the price, is one everyday sign of volatility."
        )
        return text, [symbol]
    return None


def _verb_move(symbol: str, entry: dict[str, Any], seed: int, voice: Voice) -> str:
    way = phrases.direction(entry)
    name = name_of(symbol, entry)
    verb = pick(verbs(voice, way), seed, symbol)
    if way == 0:
        return f"{name} {verb}"
    return f"{name} {verb} {percent(value(entry, 'change_pct'))}"


def diversification(candidates: list[Candidate], seed: int, voice: Voice) -> Example | None:
    quoted = [c for c in candidates if usable(c[1], *phrases.QUOTE_FIELDS)]
    if not quoted:
        return None
    (first, entry), rest = quoted[0], quoted[1:]
    day = trading_day(entry)
    when = f"On {day_text(day)}, " if day else "In the latest session, "
    if not rest:
        name = name_of(first, entry)
        text = (
            f"{when}{_verb_move(first, entry, seed, voice)}; a portfolio made up only of {name} "
            "carried all of that move."
        )
        return text, [first]
    second, other = rest[0]
    moves = _verb_move(first, entry, seed, voice), _verb_move(second, other, seed, voice)
    both = f"{when}{moves[0]} while {moves[1]}."
    if phrases.direction(entry) * phrases.direction(other) < 0:
        tail = "A portfolio holding both saw the two moves partly offset each other."
    else:
        tail = "They moved the same way that day, a reminder that related markets often do."
    return f"{both} {tail}", [first, second]


def cost_averaging(candidates: list[Candidate], seed: int, voice: Voice) -> Example | None:
    for symbol, entry in candidates:
        if not usable(entry, *phrases.QUOTE_FIELDS):
            continue
        name = name_of(symbol, entry)
        last, previous = field_amount(entry, "last"), field_amount(entry, "previous_close")
        way = phrases.direction(entry)
        if way == 0:
            text = (
                f"{name} was unchanged between its previous close of {previous} and the latest "
                f"price of {last}, so a fixed sum would have purchased the same number of units "
                "at either price."
            )
        else:
            moved, fewer = ("rose", "fewer") if way > 0 else ("fell", "more")
            text = (
                f"{name} {moved} from a previous close of {previous} to {last}: a fixed sum "
                f"would have purchased {fewer} units at {last} than at {previous}."
            )
        return text, [symbol]
    return None


def reading_update(candidates: list[Candidate], seed: int, voice: Voice) -> Example | None:
    for symbol, entry in candidates:
        if not usable(entry, *phrases.QUOTE_FIELDS) or phrases.direction(entry) == 0:
            continue
        name = name_of(symbol, entry)
        verb = pick(verbs(voice, phrases.direction(entry)), seed)
        last, previous = field_amount(entry, "last"), field_amount(entry, "previous_close")
        line = f"{name} {verb} {percent(value(entry, 'change_pct'))} to {last}, from a previous "
        line += f"close of {previous}."
        what = "share price" if is_equity(entry) else "level"
        text = (
            f"{_take(symbol, entry, seed, voice)} A line such as “{line}” gives the change in "
            f"per cent first, then the latest {what}, then the close it is compared with."
        )
        return text, [symbol]
    return None


BUILDERS: dict[str, Callable[[list[Candidate], int, Voice], Example | None]] = {
    "daily_change": daily_change,
    "week52_range": week52_range,
    "market_indices": market_indices,
    "volatility": volatility,
    "diversification": diversification,
    "cost_averaging": cost_averaging,
    "reading_a_market_update": reading_update,
}
