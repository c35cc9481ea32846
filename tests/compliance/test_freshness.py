"""The freshness rule: data age per content type, against market hours, and written dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from finagency.compliance.findings import CheckContext, Finding, Severity, SnapshotView
from finagency.compliance.freshness import MAX_AGE, freshness
from tests.compliance.snapshots import AS_OF, snapshot_view


def check(
    text: str,
    snapshot: SnapshotView | None,
    now: datetime = AS_OF,
    content_type: str = "market_update",
) -> list[Finding]:
    ctx = CheckContext(
        text=text,
        channel_type="x",
        content_type=content_type,
        profile="us",
        now=now,
        snapshot=snapshot,
    )
    return freshness(ctx)


def spans(text: str, findings: list[Finding]) -> list[str]:
    return [text[f.start : f.end] for f in findings]


US_CLOSE = datetime(2026, 11, 25, 21, 0, tzinfo=UTC)  # 16:00 New York


def test_the_table_covers_every_content_type() -> None:
    assert set(MAX_AGE) == {
        "market_update",
        "news_analysis",
        "educational",
        "earnings_preview",
        "sector_report",
        "breaking_alert",
    }


def test_a_fresh_snapshot_passes() -> None:
    assert check("The S&P 500 rose 0.42% on 25 November 2026.", snapshot_view()) == []


def test_a_close_snapshot_stays_fresh_while_the_market_is_shut() -> None:
    snapshot = snapshot_view(symbols=["^GSPC"], instrument_as_of=US_CLOSE)
    # Friday 27 November before the open (Thanksgiving on the 26th): nothing newer exists.
    before_open = datetime(2026, 11, 27, 13, 0, tzinfo=UTC)
    assert check("The S&P 500 closed higher.", snapshot, now=before_open) == []


def test_the_same_snapshot_is_stale_once_the_next_session_opens() -> None:
    snapshot = snapshot_view(symbols=["^GSPC"], instrument_as_of=US_CLOSE)
    text = "The S&P 500 closed higher."
    # The next session, Friday 27 November 2026, opens 14:30 UTC: the data now lags 41 h 45 min.
    findings = check(text, snapshot, now=datetime(2026, 11, 27, 14, 45, tzinfo=UTC))
    assert spans(text, findings) == ["S&P 500"]
    [finding] = findings
    assert finding.rule == "freshness"
    assert finding.severity == Severity.block
    assert "^GSPC" in finding.message
    assert "41 h 45 min" in finding.message


def test_a_breaking_alert_allows_fifteen_minutes_while_the_market_trades() -> None:
    snapshot = snapshot_view(symbols=["BTC-USD"], instrument_as_of=AS_OF)
    text = "Bitcoin jumps."
    assert check(text, snapshot, AS_OF + timedelta(minutes=14), "breaking_alert") == []
    assert spans(text, check(text, snapshot, AS_OF + timedelta(minutes=16), "breaking_alert")) == [
        "Bitcoin"
    ]


def test_educational_content_allows_a_week() -> None:
    snapshot = snapshot_view(symbols=["BTC-USD"])
    assert check("Bitcoin basics.", snapshot, AS_OF + timedelta(days=6), "educational") == []
    assert len(check("Bitcoin basics.", snapshot, AS_OF + timedelta(days=8), "educational")) == 1


def test_only_the_named_instruments_count_when_the_text_names_some() -> None:
    snapshot = snapshot_view(
        symbols=["^GSPC", "BTC-USD"],
        instrument_as_of={"^GSPC": US_CLOSE, "BTC-USD": AS_OF - timedelta(hours=5)},
    )
    now = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
    assert check("The S&P 500 closed higher.", snapshot, now) == []
    assert len(check("Bitcoin slipped.", snapshot, now)) == 1
    assert len(check("Markets were mixed.", snapshot, now)) == 1  # names none: all count


@pytest.mark.parametrize(
    "written",
    ["25 November 2026", "2026-11-25", "Nov 25, 2026", "25/11/2026", "25 Nov", "Nov. 25"],
)
def test_the_trading_date_passes(written: str) -> None:
    assert check(f"The S&P 500 closed higher on {written}.", snapshot_view()) == []


@pytest.mark.parametrize(
    "written", ["24 November 2026", "2025-11-25", "Nov 26, 2026", "24/11/2026", "24 Nov"]
)
def test_another_date_blocks_with_its_span(written: str) -> None:
    text = f"The S&P 500 closed higher on {written}."
    findings = check(text, snapshot_view())
    assert spans(text, findings) == [written]
    assert "2026-11-25" in findings[0].message


def test_the_date_must_be_that_of_the_named_instruments_market() -> None:
    snapshot = snapshot_view(last_trading_date={"^GSPC": date(2026, 11, 24)})
    assert check("Nifty 50 on 25 November 2026.", snapshot) == []
    text = "S&P 500 on 25 November 2026."
    assert spans(text, check(text, snapshot)) == ["25 November 2026"]
    assert check("Markets on 24 November 2026.", snapshot) == []  # names none: any instrument


def test_ambiguous_and_impossible_dates_block() -> None:
    text = "The S&P 500 on 05/11/2026 and 31 February 2026."
    findings = check(text, snapshot_view())
    assert spans(text, findings) == ["05/11/2026", "31 February 2026"]
    assert all("ambiguous" in f.message for f in findings)


def test_years() -> None:
    assert check("The S&P 500 in 2026.", snapshot_view()) == []
    text = "The S&P 500 since 2008."
    assert spans(text, check(text, snapshot_view())) == ["2008"]


def test_without_a_snapshot_every_date_blocks() -> None:
    text = "Markets on 25 November 2026, in 2026."
    assert spans(text, check(text, None)) == ["25 November 2026", "2026"]
