"""The fact check: figures traced to the snapshot, flags, exemptions, and property tests."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from finagency.compliance.factcheck import fact_check
from finagency.compliance.findings import CheckContext, Finding, Severity, SnapshotView
from tests.compliance.snapshots import AS_OF, instrument_entry, snapshot_view

DISCLAIMER = "For information only; not investment advice. Data as of 2026 may change by 99%."


def check(text: str, snapshot: SnapshotView | None = None, **kwargs: Any) -> list[Finding]:
    ctx = CheckContext(
        text=text,
        channel_type="x",
        content_type="market_update",
        profile="us",
        now=AS_OF,
        snapshot=snapshot_view() if snapshot is None else snapshot,
        **kwargs,
    )
    return fact_check(ctx)


def flagged(text: str, **kwargs: Any) -> list[str]:
    return [text[f.start : f.end] for f in check(text, **kwargs)]


@pytest.mark.parametrize(
    "text",
    [
        "The S&P 500 rose 0.42% to 6,012.45.",
        "The S&P 500 closed at 6012.45, up 25.15 points.",
        "The S&P 500 closed near 6,012, up 0.4%.",
        "The S&P 500 ended 0.42% higher; its range was 5,979.52 to 6,021.88.",
        "The S&P 500 opened at 5,990.10 after a previous close of 5,987.30.",
        "Nifty 50 gained 0.53% to ₹24,318.65; volume 28.54 crore.",
        "Nifty 50 closed at Rs.24,318.65, +0.53%, volume 2,854.32 lakh.",
        "Nifty 50 is 7.45% below its 52-week high of 26,277.35.",
        "Nifty traded 285.4 million shares.",
        "The rupee: $1 = ₹84.31, up 0.05%; 1 USD = 84.31 INR.",
        "USD/INR rose 4 bps.",
        "Bitcoin jumped 2.33% to $97,432.18 (volume $31.2 bn), nearly 2x its 52-week low.",
        "Bitcoin at US$97.4k.",
        "1/3 Top 5 things to watch: the 52-week high, the 200-day average, the 50 DMA. 24/7.",
        "Markets on 25 November 2026 at 4 pm: the 3rd session of the week.",
        "S&P 500 and Nasdaq 100 and Nifty Next 50 and Russell 2000.",
        "The S&P 500 moved 0.42%.",
    ],
)
def test_traceable_texts_pass(text: str) -> None:
    assert check(text) == []


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("The S&P 500 rose 0.45% to 6,012.45.", ["0.45%"]),
        ("The S&P 500 rose 0.42% to 6,013.45.", ["6,013.45"]),
        ("The S&P 500 fell 0.42%.", ["0.42%"]),  # it rose
        ("The S&P 500 closed at -6,012.45.", ["-6,012.45"]),
        ("The S&P 500 ended 0.42% lower.", ["0.42%"]),
        ("The S&P 500 -0.42% today.", ["-0.42%"]),
        ("The Nifty 50 closed at $24,318.65.", ["$24,318.65"]),  # quoted in rupees
        ("Nifty volume was 30 crore.", ["30 crore"]),
        ("Bitcoin could reach $150,000.", ["$150,000"]),
        ("Returns of 12% a year, 3x leverage, 250 bps.", ["12%", "3x", "250 bps"]),
        ("The S&P 500 hit 6,012.3 intraday.", ["6,012.3"]),
        ("Top 50 stocks.", ["50"]),
        ("It fell for 5 sessions.", ["5"]),
        ("The Nifty 50 is 12% above its low.", ["12%"]),  # the 52-week range is not named
        ("Bitcoin is at 2x the S&P 500.", ["2x"]),
        ("The ratio was 12/5.", ["12", "5"]),
    ],
)
def test_untraceable_figures_block(text: str, bad: list[str]) -> None:
    findings = check(text)
    assert [text[f.start : f.end] for f in findings] == bad
    assert all(f.rule == "fact_check" and f.severity == Severity.block for f in findings)
    assert all("untraceable number" in f.message for f in findings)


def test_message_names_the_figure_and_snapshot() -> None:
    [finding] = check("Bitcoin could reach $150,000.")
    assert "'$150,000'" in finding.message
    assert "snapshot 1" in finding.message


@pytest.mark.parametrize("flag", ["unverified", "suspect", "stale"])
def test_a_figure_from_a_blocking_flagged_field_blocks_naming_the_flag(flag: str) -> None:
    snapshot = snapshot_view(flags={"^GSPC": {"last": [flag]}})
    text = "The S&P 500 closed at 6,012.45, above its open of 5,990.10."
    [finding] = check(text, snapshot)
    assert text[finding.start : finding.end] == "6,012.45"
    assert flag in finding.message
    assert "^GSPC last" in finding.message


def test_a_flagged_field_is_fine_when_an_unflagged_one_has_the_same_value() -> None:
    snapshot = snapshot_view(
        values={"^GSPC": {"open": 6012.45}}, flags={"^GSPC": {"last": ["stale"]}}
    )
    assert check("The S&P 500 opened at 6,012.45.", snapshot) == []


def test_simulated_fields_match() -> None:
    snapshot = snapshot_view(flags={"^GSPC": {"last": ["simulated"], "change_pct": ["simulated"]}})
    assert check("The S&P 500 rose 0.42% to 6,012.45.", snapshot) == []


def test_without_a_snapshot_every_figure_is_untraceable() -> None:
    ctx = CheckContext(
        text="The S&P 500 rose 0.42% to 6,012.45 on 25 November 2026.",
        channel_type="x",
        content_type="market_update",
        profile="us",
        now=AS_OF,
    )
    findings = fact_check(ctx)
    assert [ctx.text[f.start : f.end] for f in findings] == ["0.42%", "6,012.45"]
    assert all("no snapshot" in f.message for f in findings)


def test_figures_inside_the_disclaimer_are_exempt() -> None:
    text = f"The S&P 500 closed at 6,012.45. {DISCLAIMER}"
    assert check(text, disclaimer=DISCLAIMER) == []
    assert flagged(text) == ["99%"]


def test_a_currency_amount_is_only_traced_in_instruments_of_that_currency() -> None:
    assert flagged("USD/INR at ₹84.31 and $84.31") == ["$84.31"]


def test_figures_from_a_watchlist_instrument_with_a_digit_name_are_exempt() -> None:
    entry = instrument_entry("Nifty Midcap 150", "index", "INR", {"last": 20000.0})
    snapshot = snapshot_view(instruments={"NIFTY_MIDCAP_150.NS": entry})
    assert check("The Nifty Midcap 150 closed at 20,000.", snapshot) == []


# ---- property tests ---------------------------------------------------------------------------

SNAPSHOT = snapshot_view()
LEVEL_FIELDS = ("last", "previous_close", "open", "day_high", "day_low", "week52_high")
PREFIXES = {"USD": ("$", "US$", "USD ", ""), "INR": ("₹", "Rs.", "Rs ", "INR ", "")}


def indian(whole: int) -> str:
    digits = str(whole)
    if len(digits) <= 3:
        return digits
    head, tail = digits[:-3], digits[-3:]
    groups: list[str] = []
    while len(head) > 2:
        groups.insert(0, head[-2:])
        head = head[:-2]
    return ",".join([head, *groups, tail])


def written(value: float, decimals: int, grouping: str) -> str:
    """A non-negative value the way a writer prints it."""
    text = f"{abs(value):.{decimals}f}"
    whole, _, fraction = text.partition(".")
    if grouping == "western":
        whole = f"{int(whole):,}"
    elif grouping == "indian":
        whole = indian(int(whole))
    return whole + ("." + fraction if fraction else "")


@st.composite
def level_sentences(draw: st.DrawFn) -> str:
    symbol = draw(st.sampled_from(sorted(SNAPSHOT.instruments)))
    entry = SNAPSHOT.instruments[symbol]
    field = draw(st.sampled_from(LEVEL_FIELDS))
    value = entry["fields"][field]["value"]
    figure = written(
        value, draw(st.integers(0, 2)), draw(st.sampled_from(["western", "indian", "none"]))
    )
    prefix = draw(st.sampled_from(PREFIXES[entry["currency"]]))
    return f"{entry['name']} was at {prefix}{figure} on the day."


@st.composite
def change_sentences(draw: st.DrawFn) -> str:
    symbol = draw(st.sampled_from(sorted(SNAPSHOT.instruments)))
    entry = SNAPSHOT.instruments[symbol]
    change_pct = entry["fields"]["change_pct"]["value"]
    figure = written(change_pct, draw(st.integers(0, 2)), "none")
    unit = draw(st.sampled_from(["%", " %", " per cent", " percent", "pc"]))
    up = change_pct >= 0
    template = draw(
        st.sampled_from(
            [
                "{name} {verb} {figure}{unit}.",
                "{name} ended {figure}{unit} {adverb}.",
                "{name}: {sign}{figure}{unit}.",
                "{name} moved {figure}{unit}.",
            ]
        )
    )
    return template.format(
        name=entry["name"],
        verb="rose" if up else draw(st.sampled_from(["fell", "lost", "was down"])),
        adverb="higher" if up else "lower",
        sign="+" if up else "-",
        figure=figure,
        unit=unit,
    )


@st.composite
def volume_sentences(draw: st.DrawFn) -> str:
    symbol = draw(st.sampled_from(["^GSPC", "^NSEI", "BTC-USD"]))
    volume = SNAPSHOT.instruments[symbol]["fields"]["volume"]["value"]
    word, scale = draw(
        st.sampled_from([("lakh", 1e5), ("crore", 1e7), ("million", 1e6), ("mn", 1e6), ("bn", 1e9)])
    )
    figure = written(volume / scale, draw(st.integers(0, 2)), "western")
    return f"Volume was {figure} {word}."


@given(st.one_of(level_sentences(), change_sentences(), volume_sentences()))
@settings(max_examples=400, deadline=None)
def test_numbers_copied_from_the_snapshot_always_pass(sentence: str) -> None:
    assert check(sentence) == [], sentence


def one_field_snapshot(field: str, value: float) -> SnapshotView:
    entry = instrument_entry("Acme", "equity", "USD", {field: value})
    return snapshot_view(instruments={"ACME": entry})


@given(
    value=st.floats(0.01, 1e7, allow_nan=False),
    decimals=st.integers(0, 2),
    steps=st.integers(2, 10**6),
    up=st.booleans(),
    grouping=st.sampled_from(["western", "indian", "none"]),
    prefix=st.sampled_from(["$", "US$", ""]),
)
@settings(max_examples=400, deadline=None)
def test_levels_perturbed_beyond_the_tolerance_always_fail(
    value: float, decimals: int, steps: int, up: bool, grouping: str, prefix: str
) -> None:
    snapshot = one_field_snapshot("last", value)
    exact = f"Acme closed at {prefix}{written(value, decimals, grouping)} today."
    assert check(exact, snapshot) == [], exact
    # At least two units of the last written digit away: 1.5 units beyond the tolerance.
    perturbed = round(value, decimals) + (1 if up else -1) * steps * 10.0**-decimals
    if perturbed < 0:
        return
    sentence = f"Acme closed at {prefix}{written(perturbed, decimals, grouping)} today."
    [finding] = check(sentence, snapshot)
    assert "untraceable" in finding.message, sentence


@given(
    change_pct=st.floats(-30, 30, allow_nan=False).map(lambda v: round(v, 4)),
    decimals=st.integers(0, 2),
    steps=st.integers(2, 5000),
    up=st.booleans(),
    style=st.sampled_from(["signed", "word", "bare"]),
)
@settings(max_examples=400, deadline=None)
def test_percentages_perturbed_beyond_the_tolerance_always_fail(
    change_pct: float, decimals: int, steps: int, up: bool, style: str
) -> None:
    snapshot = one_field_snapshot("change_pct", change_pct)

    def sentence(pct: float) -> str:
        figure = written(pct, decimals, "none")
        if style == "signed":
            return f"Acme: {'-' if pct < 0 else '+'}{figure}% today."
        if style == "word":
            return f"Acme {'fell' if pct < 0 else 'rose'} {figure}% today."
        return f"Acme moved {figure}% today."

    assert check(sentence(change_pct), snapshot) == []
    perturbed = round(change_pct, decimals) + (1 if up else -1) * steps * 10.0**-decimals
    if style == "bare" and abs(abs(perturbed) - abs(change_pct)) <= 1.5 * 10.0**-decimals:
        return  # a bare figure is read as a size: -1.2 written as "1.2%" is right
    findings = check(sentence(perturbed), snapshot)
    assert len(findings) == 1, sentence(perturbed)


def test_a_figure_too_long_for_a_float_is_untraceable() -> None:
    # Found by the fuzzing (tests/fuzz/test_number_extractor.py): 400 digits read as infinity,
    # whose infinite tolerance matched every snapshot value, so the figure passed.
    text = f"The S&P 500 closed at {'9' * 400} today."
    assert flagged(text) == ["9" * 400]
