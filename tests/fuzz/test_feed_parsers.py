"""Hypothesis on reading news feeds (research/feeds.py) and scoring them (research/scoring.py).

A feed document of any content gives a FetchResult or a FeedError, never another exception, and
every entry it keeps can be stored as it is: a canonical http(s) URL, plain printable text (no
NUL, which PostgreSQL text refuses), a publication time that is aware and not in the future.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from html import escape

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finagency.research import scoring
from finagency.research.feeds import (
    MAX_SUMMARY,
    MAX_TITLE,
    Entry,
    FeedError,
    FetchResult,
    fetch,
    parse,
)

FUZZ = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

# Text as feeds carry it: anything, plus the character references and markup feeds are full of.
SNIPPETS = ["&#0;", "&#x1;", "&#xD800;", "&amp;", "<b>bold</b>", "]]>", "\x00", "\u2028", "Fed"]
feed_text = st.lists(st.one_of(st.text(max_size=20), st.sampled_from(SNIPPETS)), max_size=5).map(
    "".join
)
HEADLINES = ["Fed holds rates", "RBI cuts repo rate by 25 bps", "AAPL Q3 earnings", "Crude rallies"]
titles = st.one_of(st.sampled_from(HEADLINES), feed_text)
GOOD_HOSTS = ["example.com", "EXAMPLE.com.", "bücher.de", "[::1]", "[FE80::0:1]", "x_y.example"]
BAD_HOSTS = ["exa&#0;mple.com", "a b.com", "a..b", "[::1", "-"]
hosts = st.one_of(st.sampled_from(GOOD_HOSTS), st.sampled_from(BAD_HOSTS), st.text(max_size=15))
http_links = st.builds(
    "{}://{}{}{}{}".format,
    st.sampled_from(["http", "https", "HTTPS", "http", "ftp", "javascript", ""]),
    st.one_of(st.sampled_from(GOOD_HOSTS), hosts),
    st.sampled_from(["", ":80", ":8080", ":99999", ":x"]),
    feed_text.map(lambda path: "/" + path),
    st.sampled_from(["", "?utm_source=x&b=2&a=1", "?q=%zz", "#top"]),
)
links = st.one_of(http_links, http_links, feed_text)
dates = st.one_of(
    st.datetimes(timezones=st.just(UTC)).map(
        lambda when: when.strftime("%a, %d %b %Y %H:%M:%S GMT")
    ),
    st.datetimes().map(lambda when: when.isoformat() + "Z"),
    st.sampled_from(["2024-13-45T00:00:00Z", "Sat, 01 Jan 9999 23:59:59 -1200", "0000-01-01"]),
    feed_text,
)


@st.composite
def feed_documents(draw: st.DrawFn) -> bytes:
    """An RSS or Atom document whose every value is hostile, escaped (mostly) or raw."""
    quote = draw(st.sampled_from([escape, escape, lambda text: text]))
    items = []
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        title, link, date, summary, tag = (
            quote(draw(strategy)) for strategy in (titles, links, dates, feed_text, feed_text)
        )
        items.append((title, link, date, summary, tag))
    if draw(st.booleans()):
        entries = "".join(
            f"<item><title>{title}</title><link>{link}</link><pubDate>{date}</pubDate>"
            f"<description>{summary}</description><category>{tag}</category></item>"
            for title, link, date, summary, tag in items
        )
        document = f'<rss version="2.0"><channel><title>F</title>{entries}</channel></rss>'
    else:
        entries = "".join(
            f'<entry><title>{title}</title><link href="{link}"/><updated>{date}</updated>'
            f'<summary>{summary}</summary><category term="{tag}"/></entry>'
            for title, link, date, summary, tag in items
        )
        document = f'<feed xmlns="http://www.w3.org/2005/Atom"><title>F</title>{entries}</feed>'
    return document.encode(draw(st.sampled_from(["utf-8", "utf-16"])), "surrogatepass")


def _plain(text: str) -> bool:
    return text == text.strip() and text.isprintable()


def _url_text(url: str) -> bool:
    return url.isascii() and url.isprintable() and " " not in url


def assert_storable(entry: Entry) -> None:
    assert scoring.canonical_url(entry.url) == entry.url, entry
    assert _url_text(entry.url), entry
    assert 0 < len(entry.title) <= MAX_TITLE, entry
    assert _plain(entry.title), entry
    assert len(entry.summary) <= MAX_SUMMARY, entry
    assert _plain(entry.summary), entry
    assert entry.published_at.utcoffset() is not None, entry
    assert entry.published_at <= NOW, entry
    assert all(tag and _plain(tag) for tag in entry.tags), entry


def parsed_or_refused(body: bytes) -> FetchResult | None:
    try:
        return parse(body, now=NOW)
    except FeedError:
        return None


@FUZZ
@given(body=st.one_of(feed_documents(), st.binary(max_size=300)))
def test_any_feed_document_gives_storable_entries_or_a_feed_error(body: bytes) -> None:
    result = parsed_or_refused(body)
    if result is not None:
        assert result.title is None or _plain(result.title)
        assert result.malformed >= 0
        for entry in result.entries:
            assert_storable(entry)


@FUZZ
@given(url=st.one_of(links, st.text()))
def test_canonical_urls_are_http_ascii_and_stable(url: str) -> None:
    try:
        canonical = scoring.canonical_url(url)
    except ValueError:
        return
    assert canonical.split("://")[0] in ("http", "https")
    assert _url_text(canonical)
    assert scoring.canonical_url(canonical) == canonical


# Header values as a server may send them: any bytes but the line breaks that end a header.
header_values = st.binary(max_size=16).filter(lambda value: not {13, 10} & set(value))


@FUZZ
@given(
    url=links,
    stored=st.tuples(st.none() | st.text(max_size=10), st.none() | st.text(max_size=10)),
    status=st.sampled_from([200, 200, 301, 304, 404, 500]),
    validators=st.tuples(header_values, header_values),
    body=st.one_of(feed_documents(), st.binary(max_size=100)),
)
def test_a_fetch_keeps_only_validators_it_can_send_back(
    url: str,
    stored: tuple[str | None, str | None],
    status: int,
    validators: tuple[bytes, bytes],
    body: bytes,
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        headers = [(b"ETag", validators[0]), (b"Last-Modified", validators[1])]
        return httpx.Response(status, content=body, headers=headers)

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        try:
            result = fetch(url, *stored, timeout=1.0, client=client)
        except FeedError:
            return
    for validator in (result.etag, result.last_modified):
        assert validator is None or (validator.isascii() and validator.isprintable()), result


INSTRUMENTS = [("^GSPC", "S&P 500"), ("RELIANCE.NS", "Reliance"), ("AAPL", "Apple"), ("^NSEI", "")]
URGENCIES = {"low", "normal", "high", "breaking"}
CONTENT_TYPES = {
    "breaking_alert",
    "news_analysis",
    "earnings_preview",
    "market_update",
    "sector_report",
    "educational",
}


@FUZZ
@given(
    title=feed_text,
    summary=feed_text,
    age=st.timedeltas(min_value=timedelta(days=-3), max_value=timedelta(days=3650)),
    feed_weight=st.floats(min_value=0, max_value=10),
    tags=st.lists(feed_text, max_size=5),
)
def test_a_score_is_finite_and_its_labels_known(
    title: str, summary: str, age: timedelta, feed_weight: float, tags: list[str]
) -> None:
    relevance = scoring.score_item(
        title, summary, NOW - age, NOW, INSTRUMENTS, feed_weight=feed_weight, tags=tags
    )

    assert 0 <= relevance.score < math.inf
    assert relevance.urgency in URGENCIES
    assert relevance.content_type in CONTENT_TYPES
    assert set(relevance.symbols) <= {symbol for symbol, _ in INSTRUMENTS}
    assert len(relevance.keywords) == len(set(relevance.keywords)) <= scoring.MAX_KEYWORDS
