"""What every template shares: formatting figures the way the fact check reads them back,
choosing a phrasing by seed, picking the instruments a brief may use, and assembling the draft.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from finagency.compliance.findings import SnapshotView
from finagency.content.renderings import Draft
from finagency.content.writers import Brief, WriterError

WRITER = "template"
SIMULATED_MARK = "[SIMULATED DATA]"
SIMULATED_NOTE = "These figures come from a simulated market feed, not from a real exchange."
UNUSABLE = frozenset({"unverified", "suspect", "stale"})
# Currency signs for share prices; index levels and exchange rates are written bare. Rupees as
# "Rs ", not "₹": X counts "₹" as two characters, so a thread packed by length could overflow.
_SIGNS = {"USD": "$", "INR": "Rs ", "EUR": "€", "GBP": "£"}
_NUMBER_WORDS = (
    "none one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
).split()
# Counts are written in words: a digit count ("3 of 5") is a figure no snapshot field traces.
MAX_COUNTED = len(_NUMBER_WORDS) - 1


def pick(options: Sequence[str], *keys: object) -> str:
    digest = hashlib.sha256("|".join(map(str, keys)).encode()).digest()
    return options[digest[0] % len(options)]


def indian_grouping(whole: int) -> str:
    """1234567 → "12,34,567" (lakh and crore grouping)."""
    text = str(whole)
    if len(text) <= 3:
        return text
    head, tail = text[:-3], text[-3:]
    groups: list[str] = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    if head:
        groups.insert(0, head)
    return ",".join([*groups, tail])


def format_amount(value: float, currency: str) -> str:
    """Two decimals; rupee amounts grouped the Indian way, others the Western way."""
    if currency == "INR":
        whole, fraction = f"{abs(value):.2f}".split(".")
        sign = "-" if value < 0 else ""
        return f"{sign}{indian_grouping(int(whole))}.{fraction}"
    return f"{value:,.2f}"


def number_word(count: int) -> str:
    return _NUMBER_WORDS[count]


def usable(entry: dict[str, Any], *names: str) -> bool:
    """Whether every named field has a value that may be published (not unverified, suspect
    or stale)."""
    fields = entry.get("fields", {})
    for name in names:
        field = fields.get(name)
        if field is None or field.get("value") is None or UNUSABLE & set(field.get("flags", [])):
            return False
    return True


def value(entry: dict[str, Any], name: str) -> float:
    return float(entry["fields"][name]["value"])


def name_of(symbol: str, entry: dict[str, Any]) -> str:
    return str(entry.get("name") or symbol)


def is_equity(entry: dict[str, Any]) -> bool:
    return entry.get("asset_class") == "equity"


def money(entry: dict[str, Any], amount: float) -> str:
    """A level as the reader expects it: share prices with their currency sign, index levels
    and rates bare (the fact check matches a signed amount only to that currency's quotes)."""
    currency = str(entry.get("currency") or "USD")
    text = format_amount(abs(amount), currency)
    sign = _SIGNS.get(currency) if is_equity(entry) else None
    return f"{sign}{text}" if sign else text


def field_amount(entry: dict[str, Any], name: str) -> str:
    return money(entry, value(entry, name))


def percent(amount: float) -> str:
    """The magnitude with two decimals: the direction goes into the words around it."""
    return f"{abs(round(amount, 2)):.2f}%"


def day_text(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def trading_day(entry: dict[str, Any]) -> date | None:
    raw = entry.get("last_trading_date")
    return date.fromisoformat(raw) if raw else None


def joined(names: Sequence[str]) -> str:
    """The names as a sentence lists them: A; A and B; A, B and C."""
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def present(snapshot: SnapshotView, *groups: Iterable[str]) -> list[str]:
    """The symbols of the groups, in order and once each, that the snapshot has; none is an
    error naming what was asked for."""
    asked = list(dict.fromkeys(symbol for group in groups for symbol in group))
    found = [symbol for symbol in asked if symbol in snapshot.instruments]
    if not found:
        wanted = ", ".join(asked) or "none"
        raise WriterError(f"none of the requested symbols is in snapshot {snapshot.id} ({wanted})")
    return found


def is_simulated(entries: Iterable[dict[str, Any]]) -> bool:
    return any(
        "simulated" in field.get("flags", [])
        for entry in entries
        for field in entry.get("fields", {}).values()
    )


def provenance(snapshot: SnapshotView, version: str) -> dict[str, Any]:
    return {
        "snapshot_id": snapshot.id,
        "writer": WRITER,
        "template_version": version,
        "model": None,
        "prompt_hash": None,
    }


def assemble(
    brief: Brief,
    version: str,
    title: str,
    paragraphs: list[str],
    symbols: list[str],
    simulated_note: str = SIMULATED_NOTE,
    **structured: Any,
) -> Draft:
    """The draft with the simulated mark and note when any figure's source is simulated."""
    snapshot = brief.snapshot
    simulated = is_simulated(snapshot.instruments[symbol] for symbol in symbols)
    if simulated:
        title = f"{SIMULATED_MARK} {title}"
        paragraphs = [*paragraphs, simulated_note]
    data = {
        **provenance(snapshot, version),
        "symbols": symbols,
        "simulated": simulated,
        **structured,
    }
    return Draft(title=title, paragraphs=paragraphs, disclaimer=brief.disclaimer, data=data)


def quote_data(symbol: str, entry: dict[str, Any]) -> dict[str, Any]:
    """The publishable figures of one instrument, for the JSON channels."""
    figures = {
        name: value(entry, name)
        for name in ("last", "previous_close", "change", "change_pct", "week52_high", "week52_low")
        if usable(entry, name)
    }
    return {"symbol": symbol, "name": name_of(symbol, entry), **figures}
