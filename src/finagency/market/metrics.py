"""Market-data metrics; the data-quality alerts watch these."""

from prometheus_client import Counter, Gauge, Histogram

FETCH_SECONDS = Histogram(
    "finagency_market_fetch_seconds",
    "Time to fetch quotes from a provider.",
    ["provider"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
FETCH_ERRORS = Counter(
    "finagency_market_fetch_errors_total",
    "Failed provider fetches by reason (rate_limited, not_found, auth, bad_response, "
    "unavailable, timeout).",
    ["provider", "reason"],
)
DATA_AGE = Gauge(
    "finagency_market_data_age_seconds",
    "How far the latest snapshot's data lags what its market could offer (0 for a fresh close).",
    ["symbol"],
    multiprocess_mode="max",
)
FIELDS_FLAGGED = Counter(
    "finagency_snapshot_fields_flagged_total",
    "Snapshot fields flagged, by flag (unverified, suspect, stale, simulated).",
    ["flag"],
)
