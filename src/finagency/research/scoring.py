"""How relevant a news item is, and what kind of content it suggests. Pure functions, no I/O.

score = (keyword points + instrument points + event points + SOURCE_POINTS x feed weight)
        x 0.5 ** (age in hours / RECENCY_HALF_LIFE_HOURS)

Recency multiplies the sum rather than adding to it, so that yesterday's big story ranks below
this hour's; a story six hours old keeps half its points. All weights are constants here, on
purpose: a score that changes with configuration cannot be compared across days.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

# A symbol and the name it goes by in headlines, e.g. ("RELIANCE.NS", "Reliance").
Instrument = tuple[str, str]

RECENCY_HALF_LIFE_HOURS = 6.0
SOURCE_POINTS = 2.0
INSTRUMENT_POINTS = 4.0
MAX_INSTRUMENTS_COUNTED = 3
# A keyword found only in the summary counts for this share of its weight.
SUMMARY_SHARE = 0.5
IDEA_THRESHOLD = 8.0
HIGH_SCORE = 16.0
# Breaking news is only breaking while it is young.
BREAKING_MAX_AGE = timedelta(hours=2)
MAX_KEYWORDS = 15

KEYWORD_WEIGHTS: dict[str, float] = {
    "earnings": 3.0,
    "results": 2.5,
    "guidance": 3.0,
    "profit": 1.5,
    "revenue": 1.5,
    "dividend": 1.5,
    "buyback": 2.0,
    "ipo": 2.5,
    "merger": 2.5,
    "acquisition": 2.5,
    "downgrade": 2.0,
    "upgrade": 1.5,
    "inflation": 2.0,
    "cpi": 2.0,
    "gdp": 2.0,
    "payrolls": 2.0,
    "interest rate": 2.5,
    "repo rate": 3.0,
    "rate cut": 3.0,
    "rate hike": 3.0,
    "bond yields": 1.5,
    "recession": 2.0,
    "tariff": 2.0,
    "tariffs": 2.0,
    "budget": 1.5,
    "crude": 1.5,
    "gold": 1.0,
    "bitcoin": 1.5,
    "rupee": 1.5,
    "dollar": 1.0,
    "rally": 1.0,
    "selloff": 1.5,
    "sell-off": 1.5,
    "record high": 2.0,
    "crash": 2.5,
    "sebi": 1.5,
    "sec": 1.0,
    "bankruptcy": 2.5,
}


@dataclass(frozen=True)
class Event:
    """A kind of news with a window of attention: it boosts the score and raises urgency."""

    kind: str
    pattern: re.Pattern[str]
    points: float
    urgency: str
    content_type: str


def _words(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", re.IGNORECASE)


# First match wins, most urgent first.
EVENTS: tuple[Event, ...] = (
    Event(
        "breaking",
        _words("breaking", "crash(?:es|ed)?", "plunges?", "halted", "circuit breaker"),
        5.0,
        "breaking",
        "breaking_alert",
    ),
    Event(
        "central_bank",
        _words(
            "RBI",
            "Fed",
            "FOMC",
            "Federal Reserve",
            "ECB",
            "Bank of England",
            "rate decision",
            "monetary policy",
            "repo rate",
            "rate (?:cut|hike)s?",
        ),
        5.0,
        "high",
        "news_analysis",
    ),
    Event(
        "earnings",
        _words("earnings", "results", "guidance", "Q[1-4]", "quarterly", "profit warning"),
        4.0,
        "high",
        "earnings_preview",
    ),
    Event(
        "macro",
        _words("CPI", "inflation", "GDP", "payrolls", "jobs report", "PMI", "budget"),
        3.0,
        "normal",
        "market_update",
    ),
    Event(
        "sector",
        _words("sector", "banks", "bank stocks", "IT stocks", "pharma", "auto stocks", "metals"),
        1.5,
        "normal",
        "sector_report",
    ),
)
EDUCATIONAL = _words("explained", "what is", "how to", "guide", "beginners?")

_STOPWORDS = frozenset(
    """
    about above after again against also amid among and another are around because been before
    being below between both but can could does doing down during each even every from further
    have having here hers into its itself just last like make many market markets more most much
    near news next only other over says said same should since some stock stocks such than that
    their them then there these they this those through today under until very week what when
    where which while will with would year years your amid report reports update live
    """.split()
)


# --- URLs and titles ------------------------------------------------------------------------

_TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "ref", "ref_src"}
)


# A host name as IDNA leaves it: letters, digits, hyphens (underscores seen in the wild), dots.
_HOST_NAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?")


def _canonical_host(host: str) -> str:
    """The host in one spelling; ValueError for one no resolver would take (NUL, spaces …)."""
    if ":" in host:  # an IPv6 literal, which keeps its brackets in a URL
        return f"[{ipaddress.IPv6Address(host).compressed}]"
    try:
        ascii_host = host.lower().encode("idna").decode("ascii")
    except UnicodeError as error:
        raise ValueError(f"bad host {host!r}") from error
    if not _HOST_NAME.fullmatch(ascii_host):
        raise ValueError(f"bad host {host!r}")
    return ascii_host


def canonical_url(url: str) -> str:
    """One spelling per article: lower-case scheme and host, no fragment, no tracking params,
    no default port, no trailing slash. Raises ValueError for anything but http(s)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    host = _canonical_host(parts.hostname)
    port = parts.port
    if port and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    query = urlencode(
        sorted(
            (key, value)
            for key, value in parse_qsl(parts.query, keep_blank_values=True)
            if not key.lower().startswith("utm_") and key.lower() not in _TRACKING_PARAMS
        )
    )
    path = quote(parts.path, safe="/%:@!$&'()*+,;=-._~").rstrip("/")
    return urlunsplit((scheme, host, path, query, ""))


def normalize_title(title: str) -> str:
    text = unicodedata.normalize("NFKC", title).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def title_hash(title: str) -> str:
    return hashlib.sha256(normalize_title(title).encode()).hexdigest()


# --- relevance ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Relevance:
    score: float
    symbols: list[str]
    keywords: list[str]
    event: str | None
    urgency: str
    content_type: str
    reasons: list[str] = field(default_factory=list)


def _contains(phrase: str, text: str, case_sensitive: bool = False) -> bool:
    flags = 0 if case_sensitive else re.IGNORECASE
    return re.search(rf"(?<![\w.^=]){re.escape(phrase)}(?![\w=])", text, flags) is not None


def mentioned_symbols(text: str, instruments: Sequence[Instrument]) -> list[str]:
    """Instruments named in `text`: by full symbol or bare ticker (case-sensitive, two letters
    or more, so "A" or "T" never match) or by name (any case, whole words)."""
    found: list[str] = []
    for symbol, name in instruments:
        ticker = symbol.lstrip("^").split(".")[0]
        by_symbol = (len(symbol) >= 2 and _contains(symbol, text, case_sensitive=True)) or (
            len(ticker) >= 2 and ticker.isalnum() and _contains(ticker, text, case_sensitive=True)
        )
        if (by_symbol or (name and _contains(name, text))) and symbol not in found:
            found.append(symbol)
    return found


def _title_terms(title: str) -> list[str]:
    words = re.findall(r"[a-z][a-z\-]{3,}", normalize_title(title))
    return [word for word in words if word not in _STOPWORDS]


def extract_keywords(title: str, summary: str, tags: Iterable[str] = ()) -> list[str]:
    """Weighted finance terms first, then the feed's own tags, then the title's notable words."""
    text = f"{title}\n{summary}"
    keywords = [term for term in KEYWORD_WEIGHTS if _contains(term, text)]
    for term in [*(tag.strip().lower() for tag in tags), *_title_terms(title)]:
        if term and len(term) <= 60 and term not in keywords:
            keywords.append(term)
    return keywords[:MAX_KEYWORDS]


def _urgency_rank(urgency: str) -> int:
    return ("low", "normal", "high", "breaking").index(urgency)


def score_item(
    title: str,
    summary: str,
    published_at: datetime,
    now: datetime,
    instruments: Sequence[Instrument],
    feed_weight: float = 1.0,
    tags: Iterable[str] = (),
) -> Relevance:
    text = f"{title}\n{summary}"
    reasons: list[str] = []
    keyword_points = 0.0
    for term, weight in KEYWORD_WEIGHTS.items():
        if _contains(term, title):
            keyword_points += weight
        elif _contains(term, summary):
            keyword_points += weight * SUMMARY_SHARE
    if keyword_points:
        reasons.append(f"keywords +{keyword_points:.1f}")
    symbols = mentioned_symbols(text, instruments)
    instrument_points = INSTRUMENT_POINTS * min(len(symbols), MAX_INSTRUMENTS_COUNTED)
    if symbols:
        reasons.append(f"instruments {', '.join(symbols)} +{instrument_points:.1f}")
    event = next((event for event in EVENTS if event.pattern.search(title)), None)
    event_points = event.points if event else 0.0
    if event:
        reasons.append(f"event {event.kind} +{event_points:.1f}")
    source_points = SOURCE_POINTS * feed_weight
    reasons.append(f"source +{source_points:.1f}")
    age_hours = max((now - published_at).total_seconds() / 3600, 0.0)
    decay = 0.5 ** (age_hours / RECENCY_HALF_LIFE_HOURS)
    reasons.append(f"age {age_hours:.1f} h x{decay:.2f}")
    score = round((keyword_points + instrument_points + event_points + source_points) * decay, 2)

    urgency = "high" if score >= HIGH_SCORE else "normal" if score >= IDEA_THRESHOLD else "low"
    if event is not None:
        event_urgency = event.urgency
        if event_urgency == "breaking" and now - published_at > BREAKING_MAX_AGE:
            event_urgency = "high"
        if _urgency_rank(event_urgency) > _urgency_rank(urgency):
            urgency = event_urgency
    if event is not None:
        content_type = event.content_type
    elif EDUCATIONAL.search(title):
        content_type = "educational"
    elif symbols:
        content_type = "market_update"
    else:
        content_type = "news_analysis"
    return Relevance(
        score=score,
        symbols=symbols,
        keywords=extract_keywords(title, summary, tags),
        event=event.kind if event else None,
        urgency=urgency,
        content_type=content_type,
        reasons=reasons,
    )
