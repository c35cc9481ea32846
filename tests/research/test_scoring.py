"""Relevance: keyword weights, instrument mentions, source weight, recency and event windows."""

from datetime import UTC, datetime, timedelta

import pytest

from finagency.research import scoring
from finagency.research.scoring import mentioned_symbols, score_item

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
WATCH = [("^GSPC", "S&P 500"), ("RELIANCE.NS", "Reliance"), ("AAPL", "Apple"), ("T", "AT&T")]


def test_the_score_adds_keywords_instruments_events_and_source_then_decays() -> None:
    title = "Reliance results: profit jumps"
    relevance = score_item(title, "", NOW, NOW, WATCH, feed_weight=1.0)
    keywords = scoring.KEYWORD_WEIGHTS["results"] + scoring.KEYWORD_WEIGHTS["profit"]
    expected = keywords + scoring.INSTRUMENT_POINTS + 4.0 + scoring.SOURCE_POINTS
    assert relevance.score == pytest.approx(expected)
    assert relevance.symbols == ["RELIANCE.NS"]
    assert relevance.event == "earnings"
    assert relevance.reasons[-1] == "age 0.0 h x1.00"

    half_life_later = NOW + timedelta(hours=scoring.RECENCY_HALF_LIFE_HOURS)
    older = score_item(title, "", NOW, half_life_later, WATCH, feed_weight=1.0)
    assert older.score == pytest.approx(expected / 2, abs=0.01)


def test_a_keyword_only_in_the_summary_counts_half() -> None:
    in_title = score_item("Inflation cools", "", NOW, NOW, [], feed_weight=0)
    in_summary = score_item("Prices cool", "inflation eased", NOW, NOW, [], feed_weight=0)
    weight = scoring.KEYWORD_WEIGHTS["inflation"]
    # "Inflation" in the title also opens the macro event window.
    assert in_title.score == pytest.approx(weight + 3.0)
    assert in_summary.score == pytest.approx(weight * scoring.SUMMARY_SHARE)


def test_the_feed_weight_adds_source_points() -> None:
    muted = score_item("Quiet day", "", NOW, NOW, [], feed_weight=0)
    trusted = score_item("Quiet day", "", NOW, NOW, [], feed_weight=2.5)
    assert muted.score == 0
    assert trusted.score == pytest.approx(2.5 * scoring.SOURCE_POINTS)


def test_instruments_are_found_by_symbol_ticker_or_name() -> None:
    assert mentioned_symbols("S&P 500 slips as Apple drags", WATCH) == ["^GSPC", "AAPL"]
    assert mentioned_symbols("RELIANCE.NS and AAPL move", WATCH) == ["RELIANCE.NS", "AAPL"]
    assert mentioned_symbols("reliance jio adds users", WATCH) == ["RELIANCE.NS"]
    # Tickers are case-sensitive and never one letter; names need whole words.
    assert mentioned_symbols("aapl is a ticker; T is a letter", WATCH) == []
    assert mentioned_symbols("Applebee's and Reliant Energy", WATCH) == []
    assert mentioned_symbols("AT&T cuts prices", WATCH) == ["T"]


def test_at_most_three_instruments_count() -> None:
    many = [(f"SYM{i}", f"Company{i}") for i in range(6)]
    title = " ".join(name for _, name in many)
    relevance = score_item(title, "", NOW, NOW, many, feed_weight=0)
    assert len(relevance.symbols) == 6
    assert relevance.score == pytest.approx(scoring.MAX_INSTRUMENTS_COUNTED * 4.0)


@pytest.mark.parametrize(
    ("title", "event", "urgency", "content_type"),
    [
        ("RBI rate decision due on Friday", "central_bank", "high", "news_analysis"),
        ("Fed signals patience", "central_bank", "high", "news_analysis"),
        ("Infosys Q3 earnings preview", "earnings", "high", "earnings_preview"),
        ("TCS raises guidance", "earnings", "high", "earnings_preview"),
        ("Breaking: trading halted on exchange", "breaking", "breaking", "breaking_alert"),
        ("India CPI due today", "macro", "normal", "market_update"),
        ("Pharma sector outlook", "sector", "normal", "sector_report"),
    ],
)
def test_event_windows_raise_urgency_and_suggest_a_type(
    title: str, event: str, urgency: str, content_type: str
) -> None:
    relevance = score_item(title, "", NOW, NOW, [], feed_weight=0)
    assert (relevance.event, relevance.urgency, relevance.content_type) == (
        event,
        urgency,
        content_type,
    )


def test_breaking_news_is_only_breaking_while_young() -> None:
    title = "Breaking: markets plunge at the open"
    young = score_item(title, "", NOW - timedelta(minutes=30), NOW, [], feed_weight=1)
    old = score_item(title, "", NOW - timedelta(hours=5), NOW, [], feed_weight=1)
    assert young.urgency == "breaking"
    assert old.urgency == "high"


def test_without_events_the_type_follows_the_story() -> None:
    assert score_item("Options explained", "", NOW, NOW, [], 0).content_type == "educational"
    assert score_item("Apple slips", "", NOW, NOW, WATCH, 0).content_type == "market_update"
    assert score_item("A quiet session", "", NOW, NOW, [], 0).content_type == "news_analysis"


def test_urgency_follows_the_score_when_no_event_says_more() -> None:
    assert score_item("A quiet session", "", NOW, NOW, [], 0).urgency == "low"
    # Apple + buyback + dividend + source: above the idea threshold.
    relevance = score_item("Apple buyback and dividend", "", NOW, NOW, WATCH, 1)
    assert relevance.score >= scoring.IDEA_THRESHOLD
    assert relevance.urgency == "normal"


def test_keywords_are_finance_terms_then_tags_then_notable_title_words() -> None:
    keywords = scoring.extract_keywords(
        "Tariffs hit automakers as rupee weakens", "", ["Trade", "tariffs"]
    )
    assert set(keywords[:2]) == {"rupee", "tariffs"}
    assert "trade" in keywords
    assert "automakers" in keywords
    assert "as" not in keywords
    assert keywords.count("tariffs") == 1
