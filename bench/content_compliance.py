"""Benchmark: template writing plus the full compliance check, drafts per second on one core.

Run: .venv/bin/python bench/content_compliance.py   (no services needed)
Baseline in the same run: template writing (and rendering) alone, so the ratio shows what the
check costs. Target (issue 5): at least 200 drafts a second, writing and checking.
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

from tests.compliance.snapshots import snapshot_view  # noqa: E402

from finagency.compliance.profiles import get_profile  # noqa: E402
from finagency.content import service  # noqa: E402
from finagency.content.renderings import render  # noqa: E402
from finagency.content.writers import template  # noqa: E402
from finagency.settings import load_settings  # noqa: E402

DRAFTS = 1000
CHANNELS = ["x", "linkedin", "telegram"]


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


if __name__ == "__main__":
    main()
