"""Publishing metrics: counters from the workers, gauges read from the ledger at scrape time."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from finagency.publishing.models import CHANNEL_TYPES

POSTS = Counter(
    "finagency_posts_total",
    "Publication outcomes by channel type and status (published, retry, failed, unknown).",
    ["channel", "status"],
)
PUBLISH_SECONDS = Histogram(
    "finagency_publish_seconds",
    "Publish lag: from a publication's planned time to its delivery, by channel type.",
    ["channel"],
    buckets=(0.25, 0.5, 1.0, 2.0, 5.0, 15.0, 60.0, 300.0, 1800.0, 7200.0),
)


def _zero_series() -> None:
    """Every channel type's series exist from the start, so dashboards and alerts read 0."""
    for channel in CHANNEL_TYPES:
        PUBLISH_SECONDS.labels(channel)
        for status in ("published", "retry", "failed", "unknown"):
            POSTS.labels(channel, status)


_zero_series()


class PublishingCollector(Collector):
    """Queue depth, the oldest due publication, the kill switch and credential expiry, read
    from the database at scrape time by `read` (which returns None when it cannot)."""

    def __init__(self, read: Callable[[], PublishingFigures | None]) -> None:
        self._read = read

    def collect(self) -> Iterable[GaugeMetricFamily]:
        figures = self._read()
        if figures is None:
            return
        depth = GaugeMetricFamily(
            "finagency_publish_queue_depth",
            "Publications due and waiting to be sent, by channel type.",
            labels=["channel"],
        )
        for channel in CHANNEL_TYPES:
            depth.add_metric([channel], figures.queue_depth.get(channel, 0))
        yield depth
        yield GaugeMetricFamily(
            "finagency_publish_oldest_due_seconds",
            "How long the oldest due publication has waited (0 when none waits).",
            value=figures.oldest_due_seconds,
        )
        yield GaugeMetricFamily(
            "finagency_publishing_paused",
            "1 while publishing is paused by the kill switch.",
            value=1.0 if figures.paused else 0.0,
        )
        expiry = GaugeMetricFamily(
            "finagency_channel_credential_expiry_seconds",
            "Seconds until the soonest-expiring credential of each channel type runs out.",
            labels=["channel"],
        )
        for channel, seconds in sorted(figures.credential_expiry.items()):
            expiry.add_metric([channel], seconds)
        yield expiry


class PublishingFigures:
    def __init__(
        self,
        queue_depth: dict[str, int],
        oldest_due_seconds: float,
        paused: bool,
        credential_expiry: dict[str, float],
        now: datetime,
    ) -> None:
        self.queue_depth = queue_depth
        self.oldest_due_seconds = oldest_due_seconds
        self.paused = paused
        self.credential_expiry = credential_expiry
        self.now = now
