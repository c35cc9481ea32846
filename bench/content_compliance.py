"""Benchmark: template writing plus the full compliance check, drafts per second on one core.

Run: .venv/bin/python bench/content_compliance.py   (no services needed)
Baseline in the same run: template writing (and rendering) alone, so the ratio shows what the
check costs. Target (issue 5): at least 200 drafts a second, writing and checking. The figures
are for market updates (comparable across runs); a last line gives the same measure over all
six content types written through TemplateWriter.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("FINAGENCY_DATA_DIR", tempfile.mkdtemp(prefix="finagency-bench-"))

from tests.compliance.snapshots import EQUITIES, snapshot_view  # noqa: E402

from finagency.compliance.findings import SnapshotView  # noqa: E402
from finagency.compliance.profiles import get_profile  # noqa: E402
from finagency.content import service  # noqa: E402
from finagency.content.renderings import render  # noqa: E402
from finagency.content.writers import Brief, IdeaBrief, NewsHeadline, template  # noqa: E402
from finagency.settings import Settings, load_settings  # noqa: E402

DRAFTS = 1000
CHANNELS = ["x", "linkedin", "telegram"]
IDEA = IdeaBrief(
    id=1,
    title="Fed holds rates steady",
    urgency="high",
    event="central_bank",
    symbols=("^GSPC", "AAPL"),
    reasons=(),
    headlines=(NewsHeadline("Fed holds rates steady, signals patience", "Reuters"),),
)
# content type -> (symbols, topic, idea): each type as an editor would request it
REQUESTS: dict[str, tuple[tuple[str, ...], str | None, IdeaBrief | None]] = {
    "market_update": (("^GSPC", "^NSEI", "USDINR=X", "BTC-USD"), None, None),
    "news_analysis": ((), None, IDEA),
    "educational": (("^NSEI",), "the 52-week range", None),
    "earnings_preview": (("AAPL",), None, None),
    "sector_report": (("RELIANCE.NS", "TCS.NS", "INFY.NS", "HDFCBANK.NS"), "large caps", None),
    "breaking_alert": ((), None, IDEA),
}


def all_types(settings: Settings, view: SnapshotView, disclaimer: str) -> tuple[float, int]:
    """Drafts a second and drafts with a blocking finding, cycling through the six types."""
    writer = template.TemplateWriter()
    types = list(REQUESTS)
    blocked = 0
    started = time.perf_counter()
    for n in range(DRAFTS):
        content_type = types[n % len(types)]
        symbols, topic, idea = REQUESTS[content_type]
        brief = Brief(content_type, symbols, view, disclaimer, n, topic=topic, idea=idea)
        draft = writer.write(brief).draft
        findings = service.check_text(
            settings, draft.plain_text, content_type, CHANNELS, view, draft
        )
        blocked += any(f.severity.value == "block" for f in findings)
    return DRAFTS / (time.perf_counter() - started), blocked


def main() -> None:
    settings = load_settings()
    view = snapshot_view(as_of=datetime.now(UTC), instrument_as_of=datetime.now(UTC))
    symbols = list(view.instruments)
    disclaimer = get_profile("us").disclaimer

    started = time.perf_counter()
    for n in range(DRAFTS):
        draft = template.market_update(view, symbols, disclaimer, seed=n)
        for channel in CHANNELS:
            render(draft, channel)
    write_seconds = time.perf_counter() - started

    blocked = 0
    started = time.perf_counter()
    for n in range(DRAFTS):
        draft = template.market_update(view, symbols, disclaimer, seed=n)
        for channel in CHANNELS:
            render(draft, channel)
        findings = service.check_text(
            settings, draft.plain_text, "market_update", CHANNELS, view, draft
        )
        blocked += any(f.severity.value == "block" for f in findings)
    total_seconds = time.perf_counter() - started

    rate = DRAFTS / total_seconds
    print(
        f"# content benchmark, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, "
        f"Python {platform.python_version()}, one process"
    )
    print(f"write + render: {DRAFTS / write_seconds:,.0f} drafts/s (baseline)")
    print(
        f"write + render + full check ({len(CHANNELS)} channels): {rate:,.0f} drafts/s; "
        f"check costs x{total_seconds / write_seconds:.1f} of writing; "
        f"target >= 200: {'met' if rate >= 200 else 'MISSED'}"
    )
    print(f"drafts with a blocking finding: {blocked} of {DRAFTS}")
    wide = snapshot_view(
        symbols=[*symbols, *EQUITIES], as_of=view.as_of, instrument_as_of=view.as_of
    )
    mixed_rate, mixed_blocked = all_types(settings, wide, disclaimer)
    print(
        f"all six content types (TemplateWriter) + full check: {mixed_rate:,.0f} drafts/s; "
        f"drafts with a blocking finding: {mixed_blocked} of {DRAFTS}"
    )


if __name__ == "__main__":
    main()
