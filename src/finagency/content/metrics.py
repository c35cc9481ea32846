"""Content metrics."""

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "finagency_content_requests_total",
    "Content requests by type, writer and status (pending, done, failed).",
    ["type", "writer", "status"],
)
GENERATION_SECONDS = Histogram(
    "finagency_content_generation_seconds",
    "Time to write, render and check one content request.",
    ["writer"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 15.0, 60.0),
)
