"""Reading feeds: RSS and Atom files, a local HTTP server with validators, and failures."""

from datetime import UTC, datetime

import httpx
import pytest

from finagency.research import feeds
from finagency.research.feeds import FeedError
from finagency.research.scoring import canonical_url, normalize_title, title_hash
from tests.research.feeds import DATA, Route, Story, feed_server, rss

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_an_rss_file_gives_clean_entries_and_counts_the_malformed_ones() -> None:
    result = feeds.parse((DATA / "markets.rss").read_bytes(), now=NOW)
    assert result.title == "Markets Desk"
    assert [entry.title for entry in result.entries] == [
        "Reliance Q2 results beat estimates; guidance raised",
        "Gold steadies as traders await US data",
    ]
    # No link, a blank title, a javascript: link.
    assert result.malformed == 3
    first = result.entries[0]
    assert first.url == "https://news.example.com/markets/reliance-q2?id=7"
    assert first.summary == "Reliance Industries reported higher profit & revenue."
    assert first.published_at == datetime(2026, 11, 24, 4, 0, tzinfo=UTC)
    assert first.tags == ["Earnings"]


def test_an_atom_file_gives_clean_entries() -> None:
    result = feeds.parse((DATA / "central-banks.atom").read_bytes(), now=NOW)
    assert result.title == "Central Bank Watch"
    assert result.malformed == 1
    rbi, fed = result.entries
    assert rbi.title == "RBI holds repo rate at 6.5% & keeps stance"
    assert rbi.url == "https://cbw.example.org/rbi/policy-december"
    assert rbi.summary == "The monetary policy committee voted 5-1."
    assert rbi.published_at == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    assert fed.url == "https://cbw.example.org/fed/minutes"
    # The publication date wins over the update date.
    assert fed.published_at == datetime(2026, 11, 23, 19, 0, tzinfo=UTC)


def test_dates_in_the_future_or_missing_become_now() -> None:
    body = rss([Story("From the future", "https://e.com/a", datetime(2030, 1, 1, tzinfo=UTC))])
    (entry,) = feeds.parse(body, now=NOW).entries
    assert entry.published_at == NOW
    no_date = b'<rss version="2.0"><channel><title>t</title><item><title>Undated</title>'
    no_date += b"<link>https://e.com/b</link></item></channel></rss>"
    (entry,) = feeds.parse(no_date, now=NOW).entries
    assert entry.published_at == NOW


@pytest.mark.parametrize(
    "body", [b"", b"<html><body>Not a feed</body></html>", b"\x00\x01 binary", b"{}"]
)
def test_a_document_that_is_no_feed_is_a_parse_error(body: bytes) -> None:
    with pytest.raises(FeedError) as error:
        feeds.parse(body)
    assert error.value.reason == "parse"


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTPS://WWW.Example.COM/News/Story/", "https://www.example.com/News/Story"),
        ("https://example.com/a?utm_source=x&utm_campaign=y", "https://example.com/a"),
        ("https://example.com/a?b=2&a=1&gclid=z#top", "https://example.com/a?a=1&b=2"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:8080/a/", "http://example.com:8080/a"),
        ("https://example.com/", "https://example.com"),
        ("https://example.com/café", "https://example.com/caf%C3%A9"),
    ],
)
def test_urls_are_canonicalised(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


@pytest.mark.parametrize("url", ["ftp://example.com/a", "javascript:alert(1)", "/relative", ""])
def test_only_web_urls_are_accepted(url: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        canonical_url(url)


def test_titles_differing_in_case_spacing_and_punctuation_hash_alike() -> None:
    assert normalize_title("  Fed HOLDS rates — again!  ") == "fed holds rates again"
    assert title_hash("Fed holds rates, again") == title_hash("FED  holds rates again.")
    assert title_hash("Fed holds rates") != title_hash("Fed cuts rates")


def test_a_server_is_asked_conditionally_and_a_304_means_not_modified() -> None:
    body = rss([Story("Nifty ends higher", "https://e.com/n", NOW)])
    stamp = "Tue, 24 Nov 2026 10:00:00 GMT"
    with feed_server() as server:
        server.routes["/feed"] = Route(body, etag='"v1"', last_modified=stamp)
        first = feeds.fetch(server.url("/feed"), None, None, timeout=5)
        assert (first.etag, first.last_modified) == ('"v1"', stamp)
        assert [entry.title for entry in first.entries] == ["Nifty ends higher"]

        second = feeds.fetch(server.url("/feed"), first.etag, first.last_modified, timeout=5)
        assert second.not_modified
        assert second.entries == []
        sent = server.hits("/feed")[-1]
        assert sent["If-None-Match"] == '"v1"'
        assert sent["If-Modified-Since"] == stamp

        server.routes["/feed"] = Route(body + b" ", etag='"v2"', last_modified=stamp)
        third = feeds.fetch(server.url("/feed"), second.etag, second.last_modified, timeout=5)
        assert not third.not_modified
        assert third.etag == '"v2"'
        assert "If-None-Match" not in server.hits("/feed")[0]


def test_last_modified_alone_also_gives_304() -> None:
    stamp = "Tue, 24 Nov 2026 10:00:00 GMT"
    with feed_server() as server:
        server.routes["/feed"] = Route(rss([]), last_modified=stamp)
        first = feeds.fetch(server.url("/feed"), None, None, timeout=5)
        assert first.etag is None
        assert feeds.fetch(server.url("/feed"), None, first.last_modified, timeout=5).not_modified


def test_http_errors_timeouts_and_refusals_have_reasons() -> None:
    with feed_server() as server:
        server.routes["/broken"] = Route(b"oops", status=500)
        server.routes["/slow"] = Route(rss([]), delay=1.0)
        with pytest.raises(FeedError) as error:
            feeds.fetch(server.url("/broken"), None, None, timeout=5)
        assert error.value.reason == "http_status"
        with pytest.raises(FeedError) as error:
            feeds.fetch(server.url("/slow"), None, None, timeout=0.2)
        assert error.value.reason == "timeout"
        with pytest.raises(FeedError) as error:
            feeds.fetch(server.url("/missing"), None, None, timeout=5)
        assert error.value.reason == "http_status"
        closed_port = server.port
    with pytest.raises(FeedError) as error:
        feeds.fetch(f"http://127.0.0.1:{closed_port}/feed", None, None, timeout=2)
    assert error.value.reason == "unavailable"


def test_a_body_beyond_the_cap_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(feeds, "MAX_FEED_BYTES", 100)
    with feed_server() as server:
        server.routes["/big"] = Route(b"x" * 1000)
        with pytest.raises(FeedError) as error:
            feeds.fetch(server.url("/big"), None, None, timeout=5)
    assert error.value.reason == "too_large"


def test_a_local_file_is_read_and_its_mtime_stands_for_last_modified() -> None:
    url = (DATA / "markets.rss").as_uri()
    first = feeds.fetch(url, None, None, timeout=5)
    assert len(first.entries) == 2
    assert first.last_modified is not None
    assert feeds.fetch(url, None, first.last_modified, timeout=5).not_modified
    with pytest.raises(FeedError) as error:
        feeds.fetch((DATA / "absent.rss").as_uri(), None, None, timeout=5)
    assert error.value.reason == "unavailable"


def test_control_characters_never_reach_a_title() -> None:
    body = rss([Story("Nifty\x0b ends\t higher", "https://e.com/n", NOW)])
    (entry,) = feeds.parse(body, now=NOW).entries
    assert entry.title == "Nifty ends higher"


# Found by the fuzzing (tests/fuzz/test_feed_parsers.py).


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("http://[::1]/x/", "http://[::1]/x"),  # was http://::1/x, which is no URL at all
        ("https://[FE80::0:1]:8443/a", "https://[fe80::1]:8443/a"),
    ],
)
def test_an_ip_v6_host_keeps_its_brackets(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical
    assert canonical_url(canonical) == canonical


@pytest.mark.parametrize(
    "url", ["http://exa\x00mple.com/a", "http://a b.com/", "http://a\x7fb.com/"]
)
def test_a_host_no_resolver_would_take_is_refused(url: str) -> None:
    # The NUL one made the feed refresh fail on PostgreSQL, which refuses NUL in text.
    with pytest.raises(ValueError, match="host"):
        canonical_url(url)


def test_a_surrogate_character_reference_is_a_parse_error() -> None:
    # feedparser's lenient parser raised UnicodeEncodeError on it.
    body = b'<rss version="2.0"><channel><item><title>&#xD800;</title></item></channel></rss>'
    with pytest.raises(FeedError) as error:
        feeds.parse(body, now=NOW)
    assert error.value.reason == "parse"


def test_an_unreadable_date_becomes_now_without_a_warning() -> None:
    # Under pytest's warnings-as-errors, feedparser's DeprecationWarning was an exception.
    body = rss([Story("Fed holds rates", "https://e.com/fed", NOW)]).replace(
        b"<pubDate>", b"<pubDate>no date"
    )
    (entry,) = feeds.parse(body, now=NOW).entries
    assert entry.published_at == NOW


def test_tags_are_plain_text_like_titles() -> None:
    # A NUL in a tag (a stored keyword) made the feed refresh fail on PostgreSQL.
    body = (
        b'<rss version="2.0"><channel><item><title>Fed holds rates</title>'
        b"<link>https://e.com/fed</link><category>Rates&#0;Policy</category>"
        b"<category>\x01 </category><category>Macro</category></item></channel></rss>"
    )
    (entry,) = feeds.parse(body, now=NOW).entries
    assert entry.tags == ["Rates Policy", "Macro"]


@pytest.mark.parametrize(
    "url", ["http://[::1", "http://e.com/\x01feed", "file:///feeds/a%00b", "https:///feed"]
)
def test_a_url_that_cannot_be_requested_is_a_bad_url(url: str) -> None:
    # The first three raised ValueError and httpx.InvalidURL, which failed the feed's refresh
    # task; the last reached the transport (and httpx's cookie jar raised ValueError on it).
    with pytest.raises(FeedError) as error:
        feeds.fetch(url, None, None, timeout=1.0)
    assert error.value.reason == "bad_url"


def test_a_validator_beyond_ascii_is_neither_kept_nor_sent() -> None:
    # Kept, it made every later fetch of the feed raise UnicodeEncodeError in httpx.
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        validators = [(b"ETag", b'W/"\xe9"'), (b"Last-Modified", b"Mon, 24 Nov 2026 \xff")]
        return httpx.Response(200, content=rss([]), headers=validators)

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        result = feeds.fetch("https://e.com/feed", None, None, timeout=1.0, client=client)
        assert (result.etag, result.last_modified) == (None, None)
        # A validator stored before the fix is left out of the request, not sent.
        feeds.fetch("https://e.com/feed", 'W/"\u00e9"', "Mon\u00ff", timeout=1.0, client=client)

    assert "If-None-Match" not in sent[1].headers
    assert "If-Modified-Since" not in sent[1].headers
