"""Reading one feed: a conditional GET (or a local file), then feedparser. No database here.

Every failure is a FeedError with a `reason`, the label of finagency_feed_errors_total.
"""

from __future__ import annotations

import calendar
import html
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import feedparser
import httpx

from finagency.research import scoring

MAX_FEED_BYTES = 5 * 1024 * 1024
MAX_TITLE = 500
MAX_SUMMARY = 4000
USER_AGENT = "finagency-research/1 (+https://finagency.dev)"


class FeedError(Exception):
    REASONS = ("timeout", "unavailable", "http_status", "too_large", "parse", "bad_url", "internal")

    def __init__(self, reason: str, message: str) -> None:
        assert reason in self.REASONS, reason
        super().__init__(f"{reason}: {message}")
        self.reason = reason


@dataclass(frozen=True)
class Entry:
    """One well-formed entry of a feed."""

    url: str  # canonical
    title: str
    summary: str
    published_at: datetime
    tags: list[str]


@dataclass
class FetchResult:
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None
    title: str | None = None
    entries: list[Entry] = field(default_factory=list)
    malformed: int = 0


def fetch(
    url: str,
    etag: str | None,
    last_modified: str | None,
    timeout: float,
    client: httpx.Client | None = None,
) -> FetchResult:
    """Fetch and parse `url` (http, https or file); not_modified when it has not changed."""
    try:
        parts = urlsplit(url)
    except ValueError as error:  # "http://[::1": an unclosed IPv6 literal
        raise FeedError("bad_url", f"{url!r}: {error}") from error
    scheme = parts.scheme.lower()
    if scheme == "file":
        return _read_file(url, last_modified)
    if scheme not in ("http", "https"):
        raise FeedError("bad_url", f"unsupported scheme in {url!r}")
    if not parts.hostname:
        raise FeedError("bad_url", f"no host in {url!r}")
    headers = {"User-Agent": USER_AGENT, "Accept": "application/rss+xml, application/atom+xml, */*"}
    etag, last_modified = _sendable(etag), _sendable(last_modified)
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    own_client = client is None
    http = client or httpx.Client(timeout=timeout, follow_redirects=True)
    try:
        with http.stream("GET", url, headers=headers, timeout=timeout) as response:
            if response.status_code == 304:
                return FetchResult(not_modified=True, etag=etag, last_modified=last_modified)
            if response.status_code >= 400:
                raise FeedError("http_status", f"HTTP {response.status_code}")
            body = _read_capped(response)
            new_etag = _sendable(response.headers.get("ETag"))
            new_last_modified = _sendable(response.headers.get("Last-Modified"))
    except httpx.TimeoutException as error:
        raise FeedError("timeout", f"no answer within {timeout:g}s") from error
    except httpx.InvalidURL as error:  # a control character in the URL; not an HTTPError
        raise FeedError("bad_url", f"{url!r}: {error}") from error
    except httpx.HTTPError as error:
        raise FeedError("unavailable", f"{type(error).__name__}: {error}") from error
    finally:
        if own_client:
            http.close()
    result = parse(body)
    result.etag, result.last_modified = new_etag, new_last_modified
    return result


def _sendable(validator: str | None) -> str | None:
    """A validator (ETag, Last-Modified) that can go back in a request header, else None.

    A server may send bytes beyond ASCII in one; httpx refuses to send those (UnicodeEncodeError)
    and the feed could never be fetched again. Without it the feed is fetched in full.
    """
    if validator and validator.isascii() and validator.isprintable():
        return validator
    return None


def _read_capped(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_FEED_BYTES:
            raise FeedError("too_large", f"more than {MAX_FEED_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _read_file(url: str, last_modified: str | None) -> FetchResult:
    """Operators may list local files; their modification time stands in for Last-Modified."""
    path = Path(unquote(urlsplit(url).path))
    try:
        stamp = formatdate(path.stat().st_mtime, usegmt=True)
        if stamp == last_modified:
            return FetchResult(not_modified=True, last_modified=last_modified)
        if path.stat().st_size > MAX_FEED_BYTES:
            raise FeedError("too_large", f"more than {MAX_FEED_BYTES} bytes")
        body = path.read_bytes()
    except OSError as error:
        raise FeedError("unavailable", f"{type(error).__name__}: {error}") from error
    except ValueError as error:  # a NUL in the path (file:///feeds/a%00b)
        raise FeedError("bad_url", f"{url!r}: {error}") from error
    result = parse(body)
    result.last_modified = stamp
    return result


def parse(body: bytes, now: datetime | None = None) -> FetchResult:
    """Parse a feed document; entries without a usable link or title are skipped and counted."""
    try:
        parsed: Any = feedparser.parse(body)
    except ValueError as error:
        # feedparser's lenient parser, used once a document is not well-formed XML, raises on
        # some input instead of flagging it: a surrogate reference (&#xD800;) is a
        # UnicodeEncodeError.
        raise FeedError("parse", f"{type(error).__name__}: {error}"[:300]) from error
    if not parsed.entries and (parsed.get("bozo") or not parsed.get("version")):
        problem = parsed.get("bozo_exception") or "not an RSS or Atom document"
        raise FeedError("parse", str(problem)[:300])
    now = now or datetime.now(UTC)
    result = FetchResult(title=_clean(parsed.feed.get("title", "")) or None)
    for raw in parsed.entries:
        entry = _entry(raw, now)
        if entry is None:
            result.malformed += 1
        else:
            result.entries.append(entry)
    return result


def _entry(raw: Any, now: datetime) -> Entry | None:
    title = _clean(raw.get("title") or "")[:MAX_TITLE]
    link = raw.get("link") or ""
    if not title or not isinstance(link, str):
        return None
    try:
        url = scoring.canonical_url(link)
    except ValueError:
        return None
    if len(url) > 2000:
        return None
    summary = _clean(raw.get("summary") or raw.get("description") or "")[:MAX_SUMMARY]
    published_at = _published_at(raw, now)
    terms = [tag.get("term") for tag in raw.get("tags") or []]
    # Tags become stored keywords: the same plain text as titles (no NUL, no markup).
    tags = [text for text in (_clean(term) for term in terms if isinstance(term, str)) if text]
    return Entry(url=url, title=title, summary=summary, published_at=published_at, tags=tags)


def _published_at(raw: Any, now: datetime) -> datetime:
    """When the entry was published (or updated); now when the feed does not say or lies."""
    # dict.get, not raw.get: for an entry whose pubDate feedparser could not read, its get()
    # maps updated_parsed to published_parsed with a DeprecationWarning (an error under pytest).
    when = dict.get(raw, "published_parsed") or dict.get(raw, "updated_parsed")
    try:
        published_at = datetime.fromtimestamp(calendar.timegm(when), UTC) if when else now
    except (OverflowError, ValueError, TypeError):
        published_at = now
    # A date in the future is a publisher's mistake; it must not outrank everything else.
    return min(published_at, now)


_TAG = re.compile(r"<[^>]+>")


def _clean(text: str) -> str:
    """Plain text from the (already sanitised) HTML feedparser returns."""
    # PostgreSQL text cannot hold NUL; other control characters are noise in a headline.
    text = html.unescape(_TAG.sub(" ", text))
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())
