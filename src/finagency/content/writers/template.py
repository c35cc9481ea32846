"""The template writer: deterministic, offline prose from a snapshot (the embedded default).

Every figure it writes is copied from the snapshot, formatted the way the fact check reads it
back (prices with two decimals, Indian digit grouping for rupee amounts, changes in percent with
two decimals). Fields flagged unverified, suspect or stale are never written: the instrument is
reported as unavailable instead. Variation (verbs, order of phrases) is chosen by a seeded hash,
so the same request always gives the same text.
"""

from __future__ import annotations

import hashlib
from datetime import date
from typing import Any

from finagency.compliance.findings import SnapshotView
from finagency.content.renderings import Draft

WRITER = "template"
TEMPLATE_VERSION = "market_update/1"
SIMULATED_MARK = "[SIMULATED DATA]"
UNUSABLE = frozenset({"unverified", "suspect", "stale"})
_UP = ("rose", "gained", "advanced")
_DOWN = ("fell", "slipped", "declined")
_FLAT = ("was unchanged", "held steady")


def _pick(options: tuple[str, ...], *keys: object) -> str:
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


def _usable(entry: dict[str, Any], *names: str) -> bool:
    fields = entry.get("fields", {})
    for name in names:
        field = fields.get(name)
        if field is None or field.get("value") is None or UNUSABLE & set(field.get("flags", [])):
            return False
    return True


def _value(entry: dict[str, Any], name: str) -> float:
    return float(entry["fields"][name]["value"])


def _line(symbol: str, entry: dict[str, Any], seed: int) -> str:
    name = entry.get("name", symbol)
    if not _usable(entry, "last", "change_pct", "previous_close"):
        return f"{name}: no verified quote is available at the moment."
    currency = entry.get("currency", "USD")
    last = format_amount(_value(entry, "last"), currency)
    previous = format_amount(_value(entry, "previous_close"), currency)
    change = _value(entry, "change_pct")
    rounded = round(change, 2)
    if rounded == 0:
        return f"{name} {_pick(_FLAT, seed, symbol)} at {last}."
    verb = _pick(_UP if rounded > 0 else _DOWN, seed, symbol)
    return f"{name} {verb} {abs(rounded):.2f}% to {last}, from a previous close of {previous}."


def market_update(
    snapshot: SnapshotView, symbols: list[str], disclaimer: str, seed: int = 0
) -> Draft:
    """A short market update over `symbols` (those the snapshot has), newest trading day first."""
    present = [s for s in symbols if s in snapshot.instruments]
    if not present:
        raise ValueError("none of the requested symbols is in the snapshot")
    entries = {s: snapshot.instruments[s] for s in present}
    trading_day = date.fromisoformat(entries[present[0]]["last_trading_date"])
    simulated = any(
        "simulated" in field.get("flags", [])
        for entry in entries.values()
        for field in entry.get("fields", {}).values()
    )
    title = f"Market update for {trading_day.day} {trading_day:%B %Y}"
    if simulated:
        title = f"{SIMULATED_MARK} {title}"
    lines = [_line(symbol, entries[symbol], seed) for symbol in present]
    paragraphs = [" ".join(lines)]
    if simulated:
        paragraphs.append(
            "These figures come from a simulated market feed, not from a real exchange."
        )
    return Draft(
        title=title,
        paragraphs=paragraphs,
        disclaimer=disclaimer,
        data={
            "snapshot_id": snapshot.id,
            "symbols": present,
            "writer": WRITER,
            "template_version": TEMPLATE_VERSION,
            "simulated": simulated,
        },
    )
