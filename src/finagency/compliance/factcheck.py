"""The fact check: every figure in a draft must be traceable to a field of its snapshot.

Tolerance. A figure written with d decimals (after its lakh/crore/million/… scale) stands for a
value within half a unit of its last digit: it matches a field when
``|field - figure| <= 0.5 * 10**-d * scale + 1e-9 * max(1, |figure|)``. So 6,012.45 matches
6012.449, "6,012" matches 6011.5–6012.5, "28.54 crore" matches 28.535–28.545 crore.

What each kind of figure may match (per instrument of the snapshot):

- currency amounts and plain numbers: ``last previous_close open day_high day_low week52_high
  week52_low volume`` and ``change``; a currency amount only in instruments quoted in that
  currency ("$24,318" is not the Nifty);
- percentages: ``change_pct``; and, when the figure's sentence speaks of the 52-week range
  ("52-week", "52 week", "year high/low"), the distance of ``last`` from ``week52_high`` /
  ``week52_low`` in per cent ("7.5% below its 52-week high");
- basis points: ``change_pct`` × 100 and ``change`` × 100 (a yield quoted in per cent moves by
  ``change`` percentage points);
- multiples: only in a sentence that speaks of the 52-week range, the ratios last/week52_low,
  last/week52_high and week52_high/week52_low of one instrument ("nearly 2x its 52-week low").

Derived values are tied to that context because a whole-number percentage has a wide tolerance:
"returns of 12% a year" must not pass because the Nifty happens to be 11.8% above its low.

Signed fields (change, change_pct and the bps derived from them, the 52-week distances): a
written sign must agree (-0.42% matches -0.42 only); a direction word must agree ("down 0.42%",
"fell 0.42%", "0.42% lower" match -0.42 only; "up", "rose", "higher" match +0.42 only); with
neither, the absolute value is accepted ("a 0.42% move").

A figure that matches nothing blocks ("untraceable"); one that matches only fields flagged
``unverified``, ``suspect`` or ``stale`` blocks naming the flag. ``simulated`` fields match:
the simulated mark is another rule's business. Without a snapshot every figure is untraceable.

Exempt (never checked here):

- dates and years (the freshness rule checks them), times (16:00, 4 pm);
- ordinals (3rd), numbered-thread markers (1/5, (2/5), n <= m <= 30), 24/7, 24x7, 24/5;
- figures inside the disclaimer text, wherever the disclaimer occurs in the draft;
- figures inside an instrument's name: the snapshot's names (S&P 500, Nifty 50) and the
  well-known index names of ``INDEX_NAMES``;
- window lengths written as adjectives: a whole number <= 400 joined by a hyphen to
  day/week/month/year/hour/minute/session ("52-week", "200-day", "10-year"), or followed by
  DMA/EMA/SMA ("50 DMA");
- list counts: a whole number <= 20 after "top"/"bottom", or before things, reasons, ways, tips,
  steps, lessons, takeaways, questions, mistakes, ideas, charts, stocks, factors, rules;
- the unit of an exchange rate: 1 with a currency and followed by "=" ("$1 = ₹84.31").
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from finagency.compliance.findings import CheckContext, Finding, Severity, SnapshotView
from finagency.compliance.numbers import ExtractedNumber, NumberKind, extract_numbers

RULE = "fact_check"
BLOCKING_FLAGS = ("unverified", "suspect", "stale")
PRICE_FIELDS = (
    "last",
    "previous_close",
    "open",
    "day_high",
    "day_low",
    "week52_high",
    "week52_low",
)
RATIOS = (("last", "week52_low"), ("last", "week52_high"), ("week52_high", "week52_low"))
INDEX_NAMES = (
    "S&P 500",
    "S&P 100",
    "S&P BSE 500",
    "Nasdaq 100",
    "Nasdaq-100",
    "Russell 1000",
    "Russell 2000",
    "Russell 3000",
    "Wilshire 5000",
    "Dow 30",
    "FTSE 100",
    "FTSE 250",
    "Nikkei 225",
    "DAX 40",
    "CAC 40",
    "Euro Stoxx 50",
    "Stoxx 600",
    "ASX 200",
    "Sensex 30",
    "BSE 500",
    "Nifty 50",
    "Nifty Next 50",
    "Nifty 100",
    "Nifty 200",
    "Nifty 500",
    "Nifty Midcap 50",
    "Nifty Midcap 100",
    "Nifty Midcap 150",
    "Nifty Smallcap 100",
    "Nifty Smallcap 250",
)
MAX_WINDOW = 400
MAX_LIST_COUNT = 20
EXEMPT_KINDS = frozenset(
    {
        NumberKind.date,
        NumberKind.year,
        NumberKind.time,
        NumberKind.ordinal,
        NumberKind.thread_marker,
        NumberKind.phrase,
    }
)

_WINDOW_AFTER = re.compile(
    r"(?i:-\s?(?:day|week|month|year|hour|minute|session)s?\b|\s?(?:DMA|EMA|SMA)\b)"
)
_LIST_BEFORE = re.compile(r"(?i:\b(?:top|bottom)\s+)$")
_LIST_AFTER = re.compile(
    r"(?i:\s+(?:\w+\s+)?(?:things|reasons|ways|tips|steps|lessons|takeaways|questions|mistakes"
    r"|ideas|charts|stocks|factors|rules)\b)"
)
_RATE_UNIT_AFTER = re.compile(r"\s*=")
_WEEK52 = re.compile(
    r"(?i:52[- ]?weeks?|\b(?:one|1)[- ]year\s+(?:high|low)|year'?s?\s+(?:high|low))"
)
_SENTENCE_END = re.compile(r"[;!?\n]|\.(?![0-9])")
_SENTENCE_REACH = 120
_INDEX_NAMES = re.compile("|".join(re.escape(name) for name in INDEX_NAMES), re.IGNORECASE)

# Which snapshot values each kind of figure may be traced to.
_FAMILIES: dict[NumberKind, tuple[str, ...]] = {
    NumberKind.currency: ("level", "change"),
    NumberKind.number: ("level", "change"),
    NumberKind.percent: ("pct",),
    NumberKind.basis_points: ("bps",),
    NumberKind.multiple: ("ratio",),
}
_SIGNED_FAMILIES = frozenset({"change", "pct", "bps"})


@dataclass(frozen=True, slots=True)
class Source:
    """A snapshot value a figure can be traced to."""

    value: float
    symbol: str
    field: str
    currency: str | None
    flags: frozenset[str]
    week52: bool = False  # derived from the 52-week range: needs the sentence to speak of it

    @property
    def blocking(self) -> frozenset[str]:
        return self.flags & frozenset(BLOCKING_FLAGS)


class SourceIndex:
    """A snapshot's values by family, sorted, so that a lookup is a binary search."""

    def __init__(self, snapshot: SnapshotView | None) -> None:
        families: dict[str, list[Source]] = {"level": [], "change": [], "pct": [], "bps": []}
        families["ratio"] = []
        for symbol, entry in (snapshot.instruments if snapshot else {}).items():
            for family, source in _sources(symbol, entry):
                families[family].append(source)
        self._sources = {name: sorted(items, key=_value) for name, items in families.items()}
        self._values = {name: [s.value for s in items] for name, items in self._sources.items()}

    def near(self, family: str, target: float, tolerance: float) -> list[Source]:
        values = self._values[family]
        low = bisect_left(values, target - tolerance)
        high = bisect_right(values, target + tolerance)
        return self._sources[family][low:high]


def _value(source: Source) -> float:
    return source.value


def _flags(fields: dict[str, Any], *names: str) -> frozenset[str]:
    return frozenset(flag for name in names for flag in fields[name].get("flags") or ())


def _sources(symbol: str, entry: dict[str, Any]) -> Iterable[tuple[str, Source]]:
    fields: dict[str, Any] = entry.get("fields") or {}
    currency = entry.get("currency")
    values = {
        name: float(field["value"])
        for name, field in fields.items()
        if isinstance(field, dict) and field.get("value") is not None
    }

    def source(value: float, label: str, *names: str) -> Source:
        week52 = any(name.startswith("week52") for name in names) and "volume" not in names
        return Source(value, symbol, label, currency, _flags(fields, *names), week52)

    for name in (*PRICE_FIELDS, "volume"):
        if name in values:
            yield "level", source(values[name], name, name)
    if "change" in values:
        yield "change", source(values["change"], "change", "change")
        yield "bps", source(values["change"] * 100, "change", "change")
    if "change_pct" in values:
        yield "pct", source(values["change_pct"], "change_pct", "change_pct")
        yield "bps", source(values["change_pct"] * 100, "change_pct", "change_pct")
    last = values.get("last")
    for extreme in ("week52_high", "week52_low"):
        if last is not None and values.get(extreme):
            distance = (last / values[extreme] - 1) * 100
            yield "pct", source(distance, f"last vs {extreme}", "last", extreme)
    for top, bottom in RATIOS:
        if top in values and values.get(bottom):
            yield "ratio", source(values[top] / values[bottom], f"{top}/{bottom}", top, bottom)


def _targets(figure: ExtractedNumber, family: str) -> tuple[float, ...]:
    magnitude = figure.magnitude
    if family not in _SIGNED_FAMILIES:
        return (figure.value,) if figure.sign >= 0 else ()
    if figure.direction:
        return (figure.direction * magnitude,)
    return (magnitude, -magnitude) if magnitude else (0.0,)


def trace(figure: ExtractedNumber, index: SourceIndex, week52: bool = False) -> list[Source]:
    """Every snapshot value the figure matches within its tolerance; values derived from the
    52-week range only when `week52` (the figure's sentence speaks of it)."""
    if math.isinf(figure.magnitude):
        # Hundreds of digits overflow a float; an infinite tolerance would match every value.
        return []
    tolerance = figure.tolerance + 1e-9 * max(1.0, figure.magnitude)
    matches: list[Source] = []
    for family in _FAMILIES.get(figure.kind, ()):
        for target in _targets(figure, family):
            for source in index.near(family, target, tolerance):
                if source.week52 and family != "level" and not week52:
                    continue
                if figure.currency is None or source.currency == figure.currency:
                    matches.append(source)
    return matches


def name_spans(text: str, snapshot: SnapshotView | None) -> list[tuple[int, int]]:
    """Where instrument names (the snapshot's and the well-known indices') occur in the text."""
    spans = [match.span() for match in _INDEX_NAMES.finditer(text)]
    lowered = text.lower()
    for entry in (snapshot.instruments if snapshot else {}).values():
        name = str(entry.get("name") or "").lower()
        if not name or not any(ch.isdigit() for ch in name):
            continue
        start = lowered.find(name)
        while start >= 0:
            spans.append((start, start + len(name)))
            start = lowered.find(name, start + 1)
    return spans


def _disclaimer_spans(text: str, disclaimer: str) -> list[tuple[int, int]]:
    disclaimer = disclaimer.strip()
    spans: list[tuple[int, int]] = []
    if not disclaimer:
        return spans
    start = text.find(disclaimer)
    while start >= 0:
        spans.append((start, start + len(disclaimer)))
        start = text.find(disclaimer, start + 1)
    return spans


def _inside(span: tuple[int, int], spans: list[tuple[int, int]]) -> bool:
    return any(start <= span[0] and span[1] <= end for start, end in spans)


def is_exempt(text: str, figure: ExtractedNumber, protected: list[tuple[int, int]]) -> bool:
    """True for the figures the module docstring lists as exempt from the fact check."""
    if figure.kind in EXEMPT_KINDS or _inside(figure.span, protected):
        return True
    start, end = figure.span
    whole = figure.decimals == 0 and figure.scale == 1.0 and figure.sign == 0
    if figure.kind == NumberKind.number and whole:
        if figure.value <= MAX_WINDOW and _WINDOW_AFTER.match(text, end):
            return True
        if figure.value <= MAX_LIST_COUNT and (
            _LIST_BEFORE.search(text, max(0, start - 10), start) or _LIST_AFTER.match(text, end)
        ):
            return True
    return (
        figure.kind == NumberKind.currency
        and whole
        and figure.value == 1.0
        and _RATE_UNIT_AFTER.match(text, end) is not None
    )


def _speaks_of_52_weeks(text: str, span: tuple[int, int]) -> bool:
    start = max(0, span[0] - _SENTENCE_REACH)
    before = list(_SENTENCE_END.finditer(text, start, span[0]))
    if before:
        start = before[-1].end()
    after = _SENTENCE_END.search(text, span[1], span[1] + _SENTENCE_REACH)
    end = after.start() if after else min(len(text), span[1] + _SENTENCE_REACH)
    return _WEEK52.search(text, start, end) is not None


def _describe(source: Source) -> str:
    return f"{source.symbol} {source.field}"


def _finding(figure: ExtractedNumber, matches: list[Source], snapshot_id: int | None) -> Finding:
    start, end = figure.span
    if not matches:
        where = f"snapshot {snapshot_id}" if snapshot_id is not None else "no snapshot"
        message = f"untraceable number {figure.raw!r}: it matches no field of {where}"
    else:
        first = matches[0]
        flags = "/".join(sorted(first.blocking))
        message = (
            f"number {figure.raw!r} comes from {_describe(first)}, which is flagged {flags}"
            " and may not be published"
        )
    return Finding(RULE, Severity.block, message, start, end)


def check_figures(text: str, figures: list[ExtractedNumber], ctx: CheckContext) -> list[Finding]:
    """The fact check over already extracted figures (the checker extracts once for all rules)."""
    protected = _disclaimer_spans(text, ctx.disclaimer) + name_spans(text, ctx.snapshot)
    index = SourceIndex(ctx.snapshot)
    snapshot_id = ctx.snapshot.id if ctx.snapshot else None
    findings: list[Finding] = []
    for figure in figures:
        if is_exempt(text, figure, protected):
            continue
        matches = trace(figure, index, _speaks_of_52_weeks(text, figure.span))
        if any(not source.blocking for source in matches):
            continue
        findings.append(_finding(figure, matches, snapshot_id))
    return findings


def fact_check(ctx: CheckContext) -> list[Finding]:
    """Rule `fact_check` (block): every figure traced to the snapshot within the tolerance."""
    return check_figures(ctx.text, extract_numbers(ctx.text), ctx)
