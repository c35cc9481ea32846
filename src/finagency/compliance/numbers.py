"""Every number in a text, with its exact span, its kind and how precisely it was written.

One precompiled pattern is scanned left to right (linear in the text); each figure is then
classified. What is recognised:

- currency amounts: a prefix ``$ US$ A$ C$ S$ ₹ € £ ¥ Rs Rs. INR USD EUR GBP JPY`` or a suffix
  ``USD INR EUR GBP dollars rupees euros pounds`` (``currency`` is the ISO code);
- percentages ``1.2%``, ``1.2 %``, ``1.2 per cent``, ``1.2 percent``, ``1.2pc``,
  ``1.2 percentage points``; basis points ``25 bps``, ``25bp``, ``25 basis points``;
  multiples ``2x``, ``3.5×``, ``2.1 times``;
- digit grouping, Western ``1,234,567.89`` and Indian ``1,00,000`` / ``12,34,567``; scale words
  ``thousand k lakh lakhs lac L crore cr lakh crore million mn m billion bn b trillion tn``
  (single letters only when written straight after the digits: ``24k``, ``₹2.5L``, ``$3bn``);
- an explicit sign ``+1.2%``, ``-0.5%``, ``−0.5%`` goes into ``value``; a direction word nearby
  ("down", "fell", "lost", "1.2% lower", "a 2% gain", "below") goes into ``direction`` only;
- dates, in unambiguous formats only: ISO ``2026-11-25``; ``25 November 2026``, ``25th Nov 2026``,
  ``November 25, 2026``, ``Nov. 25 2026`` (the year may be left out: ``25 Nov``, ``Nov 25``);
  numeric ``25/11/2026`` or ``25.11.2026`` read day first, or month first when the first part
  is over 12 — when both parts are 12 or less and differ the date is ``ambiguous`` (no ``date``);
- years: a bare four-digit whole number from 1900 to 2099 with no unit, unless a level or move
  word ("at", "to", "above", "hit", "closed", "by", "rose", "fell" …) comes right before it or
  "points"/"pts"/"shares"/"units" right after it, which makes it a number;
- times (``16:00``, ``9:15 am``, ``4 pm``), ordinals (``3rd``), numbered-thread markers
  (``1/5``, ``(2/5)``, n ≤ m ≤ 30) and the phrases ``24/7``, ``24x7``, ``24/5`` get kinds of
  their own so that rules can leave them alone.

Digits glued to letters (``Q3``, ``FY26``, ``#Nifty50``, ``H1``) are part of a word, not figures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class NumberKind(StrEnum):
    currency = "currency"
    percent = "percent"
    basis_points = "basis_points"
    multiple = "multiple"
    number = "number"  # index levels, plain figures, volumes
    date = "date"
    year = "year"
    time = "time"
    ordinal = "ordinal"
    thread_marker = "thread_marker"
    phrase = "phrase"  # 24/7, 24x7, 24/5


@dataclass(frozen=True, slots=True)
class ExtractedNumber:
    # Scale applied (2.5 lakh -> 250000.0), explicit sign applied; dates: yyyymmdd. Infinite for
    # a figure of 300 digits or more, which no float holds.
    value: float
    kind: NumberKind
    span: tuple[int, int]
    raw: str
    decimals: int  # digits written after the decimal point
    currency: str | None = None  # ISO code
    scale: float = 1.0  # the lakh/crore/million/… multiplier
    sign: int = 0  # +1 / -1 when a sign was written before the figure
    direction: int = 0  # the sign if written, else -1 for "down"/"fell"…, +1 for "up"/"rose"…
    date: date | None = None  # full dates only
    month_day: tuple[int, int] | None = None  # dates, with or without a year

    @property
    def tolerance(self) -> float:
        """Half a unit of the last written digit: 6,012.5 stands for [6,012.45, 6,012.55]."""
        return 0.5 * 10.0**-self.decimals * self.scale

    @property
    def magnitude(self) -> float:
        return abs(self.value)


_MONTHS = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?"
    r"|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)"
)
_MONTH_NUMBER = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
    "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12,
}  # fmt: skip
_ORD = r"(?:st|nd|rd|th)"
_NUM = r"(?:[0-9]+(?:,[0-9]{2,3}(?![0-9]))*(?:\.[0-9]+)?|\.[0-9]+)"

NUMBER_PATTERN = re.compile(
    rf"""
    (?<![0-9A-Za-z_.,/#@&])
    (?:
        (?P<iso>(?P<iso_y>[0-9]{{4}})-(?P<iso_m>[0-9]{{2}})-(?P<iso_d>[0-9]{{2}}))(?![0-9])
      | (?P<numeric>(?P<num_a>[0-9]{{1,2}})(?P<sep>[/.])(?P<num_b>[0-9]{{1,2}})(?P=sep)
            (?P<num_y>[0-9]{{4}}))(?![0-9])
      | (?P<day_month>(?P<dm_d>[0-9]{{1,2}}){_ORD}?\s+(?:of\s+)?(?P<dm_m>{_MONTHS})\b
            (?:\.?,?\s+(?P<dm_y>[0-9]{{4}})(?![0-9]))?)
      | (?P<month_day>(?P<md_m>{_MONTHS})\.?\s+(?P<md_d>[0-9]{{1,2}})(?:{_ORD})?(?![0-9A-Za-z])
            (?:,?\s+(?P<md_y>[0-9]{{4}})(?![0-9]))?)
      | (?P<time>[0-9]{{1,2}}:[0-9]{{2}}(?::[0-9]{{2}})?(?:\s?(?i:[ap]\.?m\.?))?
            |[0-9]{{1,2}}\s?(?i:[ap]\.m\.|[ap]m)(?![A-Za-z]))
      | (?P<phrase>24\s?[/x×]\s?[57])(?![0-9/])
      | (?P<thread>\(?(?P<thr_n>[0-9]{{1,2}})/(?P<thr_m>[0-9]{{1,2}})\)?)(?![0-9/])
      | (?P<ordinal>[0-9]+{_ORD})(?![0-9A-Za-z])
      | (?P<amount>
            (?P<sign>[-+−])?
            (?:(?P<cur>US\$|A\$|C\$|S\$|\$|₹|€|£|¥|(?:Rs\.?|INR|USD|EUR|GBP|JPY)(?=\s?[0-9.]))
               \s?)?
            (?P<num>{_NUM})
            (?P<scale>\s?(?i:lakh\s+crores?|lakhs?|lacs?|crores?|thousand|million|billion
                             |trillion|mn|bn|tn|cr)(?![A-Za-z])
                      |(?:k|K|m|M|b|B|L)(?![A-Za-z0-9]))?
            (?P<unit>\s?%|\s?(?i:per\s?cent|percent|percentage\s+points?|pc)(?![A-Za-z])
                     |\s?(?i:bps|bp|basis\s+points?)(?![A-Za-z])
                     |[x×](?![A-Za-z0-9])|\s?×|\s(?i:times)(?![A-Za-z]))?
            (?:\s?(?P<cur2>(?i:USD|INR|EUR|GBP|dollars?|rupees?|euros?|pounds?))(?![A-Za-z]))?
        )(?![0-9A-Za-z_])
    )
    """,
    re.VERBOSE,
)

_CURRENCIES = {
    "$": "USD", "us$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD",
    "a$": "AUD", "c$": "CAD", "s$": "SGD",
    "₹": "INR", "rs": "INR", "rs.": "INR", "inr": "INR", "rupee": "INR", "rupees": "INR",
    "€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR",
    "£": "GBP", "gbp": "GBP", "pound": "GBP", "pounds": "GBP",
    "¥": "JPY", "jpy": "JPY",
}  # fmt: skip
_SCALES = {
    "k": 1e3, "thousand": 1e3,
    "l": 1e5, "lakh": 1e5, "lakhs": 1e5, "lac": 1e5, "lacs": 1e5,
    "cr": 1e7, "crore": 1e7, "crores": 1e7,
    "m": 1e6, "mn": 1e6, "million": 1e6,
    "b": 1e9, "bn": 1e9, "billion": 1e9,
    "tn": 1e12, "trillion": 1e12,
}  # fmt: skip
_LAKH_CRORE = 1e12

# A four-digit number right after one of these words is a level ("closed at 2050"), not a year.
_LEVEL_WORD = re.compile(
    r"(?i:\b(?:at|to|above|below|near|around|level|levels|hit|touched|crossed|breached"
    r"|reclaimed|closed|opened|ended|settled|high|low|reached|by|up|down|rose|fell|gained"
    r"|lost|added|shed)\s+)$"
)
_POINTS_AFTER = re.compile(r"(?i:\s*(?:points|pts|shares|units)\b)")
_DOWN = (
    r"down|fell|fall|falls|falling|lost|lose|loses|losing|declined?|declines|declining|dropped"
    r"|drops?|dipped|dips?|slipped|slips?|slid|slides?|shed|sheds|plunged|plunges?|tumbled"
    r"|tumbles?|sank|sinks?|retreated|retreats?|eased|eases?|lower|weakened|weaker|slumped"
    r"|slumps?|crashed|off|loss|losses|decrease[ds]?|below|negative"
)
_UP = (
    r"up|rose|rises?|rising|gained|gains?|gaining|added|adds?|climbed|climbs?|rallied|rall(?:y|ies)"
    r"|jumped|jumps?|surged|surges?|soared|soars?|advanced|advances?|higher|firmed|firms?"
    r"|strengthened|stronger|increased?|increases|above|positive"
)
_CUE_BEFORE = re.compile(rf"(?i:\b(?:(?P<down>{_DOWN})|(?P<up>{_UP}))\b)")
_CUE_AFTER = re.compile(rf"(?i:\s*(?:(?P<down>{_DOWN})|(?P<up>{_UP}))\b)")
_CLAUSE_END = re.compile(r"[;!?\n]|\.(?![0-9])")
_CUE_WINDOW = 40


def _decimals(digits: str) -> int:
    point = digits.find(".")
    return 0 if point < 0 else len(digits) - point - 1


def _direction(text: str, start: int, end: int) -> int:
    """-1 / +1 from the direction word right after the figure, else the nearest one before it
    in the same clause and within a few words."""
    after = _CUE_AFTER.match(text, end)
    if after:
        return -1 if after.group("down") else 1
    window = text[max(0, start - _CUE_WINDOW) : start]
    ends = list(_CLAUSE_END.finditer(window))
    if ends:
        window = window[ends[-1].end() :]
    direction = 0
    for cue in _CUE_BEFORE.finditer(window):
        direction = -1 if cue.group("down") else 1
    return direction


def _month(name: str) -> int:
    return _MONTH_NUMBER[name[:3].lower()]


def _date_number(
    match: re.Match[str], year: int | None, month: int, day: int
) -> ExtractedNumber | None:
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    full: date | None = None
    if year is not None:
        try:
            full = date(year, month, day)
        except ValueError:
            return None
    value = float((year or 0) * 10000 + month * 100 + day)
    return ExtractedNumber(
        value, NumberKind.date, match.span(), match.group(), 0, date=full, month_day=(month, day)
    )


def _numeric_date(match: re.Match[str]) -> ExtractedNumber:
    first, second, year = int(match["num_a"]), int(match["num_b"]), int(match["num_y"])
    if first > 12 or first == second:
        day, month = first, second
    elif second > 12:
        month, day = first, second
    else:  # 05/11/2026: 5 November or May 11 — refuse to guess
        return ExtractedNumber(0.0, NumberKind.date, match.span(), match.group(), 0)
    parsed = _date_number(match, year, month, day)
    return parsed or ExtractedNumber(0.0, NumberKind.date, match.span(), match.group(), 0)


def _simple(match: re.Match[str], kind: NumberKind, digits: str) -> ExtractedNumber:
    value = float(digits) if digits else 0.0
    return ExtractedNumber(value, kind, match.span(), match.group(), 0)


def _thread(match: re.Match[str]) -> list[ExtractedNumber]:
    first, second = int(match["thr_n"]), int(match["thr_m"])
    if 1 <= first <= second <= 30:
        return [_simple(match, NumberKind.thread_marker, match["thr_n"])]
    # Not a thread marker (12/5): two plain figures, each to be traced.
    figures = []
    for group in ("thr_n", "thr_m"):
        start, end = match.span(group)
        figures.append(
            ExtractedNumber(float(match[group]), NumberKind.number, (start, end), match[group], 0)
        )
    return figures


def _amount(text: str, match: re.Match[str]) -> ExtractedNumber:
    digits = match["num"].replace(",", "")
    scale_word = (match["scale"] or "").strip()
    scale = 1.0
    if scale_word:
        lowered = scale_word.lower()
        # "lakh crore" may be split by any whitespace: a newline, a tab, an em space.
        scale = _LAKH_CRORE if len(lowered.split()) > 1 else _SCALES[lowered]
    unit = (match["unit"] or "").strip().lower()
    currency_word = match["cur"] or match["cur2"]
    currency = _CURRENCIES[currency_word.lower()] if currency_word else None
    sign = {"-": -1, "−": -1, "+": 1}.get(match["sign"] or "", 0)
    decimals = _decimals(digits)
    value = float(digits) * scale * (sign or 1)
    if unit == "%" or unit.startswith("per") or unit == "pc":
        kind = NumberKind.percent
    elif unit in ("bps", "bp") or unit.startswith("basis"):
        kind = NumberKind.basis_points
    elif unit in ("x", "×", "times"):
        kind = NumberKind.multiple
    elif currency:
        kind = NumberKind.currency
    elif (
        not sign
        and not scale_word
        and len(digits) == 4
        and 1900 <= value <= 2099
        and not _LEVEL_WORD.search(text, max(0, match.start() - 20), match.start())
        and not _POINTS_AFTER.match(text, match.end())
    ):
        kind = NumberKind.year
    else:
        kind = NumberKind.number
    start, end = match.span()
    return ExtractedNumber(
        value=value,
        kind=kind,
        span=(start, end),
        raw=match.group(),
        decimals=decimals,
        currency=currency,
        scale=scale,
        sign=sign,
        direction=sign or _direction(text, start, end),
    )


def extract_numbers(text: str) -> list[ExtractedNumber]:
    """Every figure in `text`, in order of appearance."""
    found: list[ExtractedNumber] = []
    for match in NUMBER_PATTERN.finditer(text):
        group = match.lastgroup
        parsed: ExtractedNumber | None = None
        if group == "amount":
            parsed = _amount(text, match)
        elif group == "iso":
            parsed = _date_number(
                match, int(match["iso_y"]), int(match["iso_m"]), int(match["iso_d"])
            )
        elif group == "numeric":
            parsed = _numeric_date(match)
        elif group == "day_month":
            year = int(match["dm_y"]) if match["dm_y"] else None
            parsed = _date_number(match, year, _month(match["dm_m"]), int(match["dm_d"]))
        elif group == "month_day":
            year = int(match["md_y"]) if match["md_y"] else None
            parsed = _date_number(match, year, _month(match["md_m"]), int(match["md_d"]))
        elif group == "thread":
            found.extend(_thread(match))
            continue
        elif group == "time":
            parsed = _simple(match, NumberKind.time, "")
        elif group == "phrase":
            parsed = _simple(match, NumberKind.phrase, "")
        elif group == "ordinal":
            parsed = _simple(match, NumberKind.ordinal, match.group()[:-2])
        if parsed is None:  # 31 February, 2026-13-45: still a figure nobody can trace
            parsed = ExtractedNumber(0.0, NumberKind.date, match.span(), match.group(), 0)
        found.append(parsed)
    return found
