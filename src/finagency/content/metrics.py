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
MODEL_TOKENS = Counter(
    "finagency_model_tokens_total",
    "Tokens used by model writers, by writer and kind (input, output).",
    ["writer", "kind"],
)


def _zero_series() -> None:
    """Both model writers' series exist from the start (at 0), so that a dashboard shows no
    tokens spent as 0, not as missing."""
    for writer in ("openai", "anthropic"):
        for kind in ("input", "output"):
            MODEL_TOKENS.labels(writer=writer, kind=kind)


_zero_series()
