"""Research metrics; the feed-health alert and the research dashboard panels watch these."""

from prometheus_client import Counter

NEWS_ITEMS = Counter("finagency_news_items_total", "New news items stored, by feed.", ["feed"])
CONTENT_IDEAS = Counter("finagency_content_ideas_total", "Content ideas created from news.")
FEED_ERRORS = Counter(
    "finagency_feed_errors_total",
    "Feed problems by feed and reason (timeout, unavailable, http_status, too_large, parse, "
    "bad_url, internal, malformed_entry).",
    ["feed", "reason"],
)
