from finagency.content.writers.template import (
    SIMULATED_MARK,
    format_amount,
    indian_grouping,
    market_update,
)
from tests.compliance.snapshots import snapshot_view

DISCLAIMER = "Not investment advice."


def test_indian_and_western_grouping() -> None:
    assert indian_grouping(100000) == "1,00,000"
    assert indian_grouping(1234567) == "12,34,567"
    assert indian_grouping(999) == "999"
    assert format_amount(24318.65, "INR") == "24,318.65"
    assert format_amount(1234567.891, "INR") == "12,34,567.89"
    assert format_amount(6012.45, "USD") == "6,012.45"


def test_a_market_update_copies_its_figures_from_the_snapshot() -> None:
    snapshot = snapshot_view()
    draft = market_update(snapshot, ["^GSPC", "^NSEI"], DISCLAIMER, seed=1)
    text = draft.plain_text
    assert "6,012.45" in text
    assert "24,318.65" in text
    assert "25 November 2026" in draft.title
    assert text.endswith(DISCLAIMER)
    assert draft.data["snapshot_id"] == snapshot.id
    assert draft.data["template_version"] == "market_update/1"
    # The same request gives the same text.
    assert market_update(snapshot, ["^GSPC", "^NSEI"], DISCLAIMER, seed=1) == draft


def test_flagged_fields_are_never_written() -> None:
    snapshot = snapshot_view(flags={"^GSPC": {"last": ["unverified"]}})
    text = market_update(snapshot, ["^GSPC", "^NSEI"], DISCLAIMER).plain_text
    assert "6,012.45" not in text
    assert "S&P 500: no verified quote" in text
    assert "24,318.65" in text


def test_simulated_data_is_marked() -> None:
    snapshot = snapshot_view(flags={"^GSPC": {"last": ["simulated"]}})
    draft = market_update(snapshot, ["^GSPC"], DISCLAIMER)
    assert draft.title.startswith(SIMULATED_MARK)
    assert draft.data["simulated"] is True
