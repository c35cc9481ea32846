"""Extraction of figures: kinds, values, spans, currencies, decimals and directions."""

from __future__ import annotations

from datetime import date

import pytest

from finagency.compliance.numbers import ExtractedNumber, NumberKind, extract_numbers


def only(text: str) -> ExtractedNumber:
    figures = extract_numbers(text)
    assert len(figures) == 1, figures
    return figures[0]


@pytest.mark.parametrize(
    ("text", "raw", "value", "kind", "currency", "decimals"),
    [
        ("closed at 6,012.45 today", "6,012.45", 6012.45, NumberKind.number, None, 2),
        ("closed at 1,234,567.89", "1,234,567.89", 1234567.89, NumberKind.number, None, 2),
        ("a level of 24318.65", "24318.65", 24318.65, NumberKind.number, None, 2),
        ("worth 1,00,000 rupees", "1,00,000 rupees", 100000, NumberKind.currency, "INR", 0),
        ("traded 12,34,567 shares", "12,34,567", 1234567, NumberKind.number, None, 0),
        ("AUM of ₹1,23,45,678.5", "₹1,23,45,678.5", 12345678.5, NumberKind.currency, "INR", 1),
        ("at $97,432.18", "$97,432.18", 97432.18, NumberKind.currency, "USD", 2),
        ("at US$ 97,432", "US$ 97,432", 97432, NumberKind.currency, "USD", 0),
        ("at ₹24,318.65", "₹24,318.65", 24318.65, NumberKind.currency, "INR", 2),
        ("at Rs.1,300", "Rs.1,300", 1300, NumberKind.currency, "INR", 0),
        ("at Rs 1,300.5", "Rs 1,300.5", 1300.5, NumberKind.currency, "INR", 1),
        ("at INR 84.31", "INR 84.31", 84.31, NumberKind.currency, "INR", 2),
        ("at 84.31 INR", "84.31 INR", 84.31, NumberKind.currency, "INR", 2),
        ("at USD 1.08", "USD 1.08", 1.08, NumberKind.currency, "USD", 2),
        ("at €1.08", "€1.08", 1.08, NumberKind.currency, "EUR", 2),
        ("at £7.5", "£7.5", 7.5, NumberKind.currency, "GBP", 1),
        ("worth 5 dollars", "5 dollars", 5, NumberKind.currency, "USD", 0),
        ("volume 2.5 lakh", "2.5 lakh", 250_000, NumberKind.number, None, 1),
        ("volume 2.5 lakhs", "2.5 lakhs", 250_000, NumberKind.number, None, 1),
        ("volume 28.54 crore", "28.54 crore", 285_400_000, NumberKind.number, None, 2),
        ("inflows of ₹1.2 crore", "₹1.2 crore", 12_000_000, NumberKind.currency, "INR", 1),
        ("outflows of ₹3 lakh crore", "₹3 lakh crore", 3e12, NumberKind.currency, "INR", 0),
        ("a ₹2.5L ticket", "₹2.5L", 250_000, NumberKind.currency, "INR", 1),
        ("₹45 cr", "₹45 cr", 450_000_000, NumberKind.currency, "INR", 0),
        ("volume 2.46 billion", "2.46 billion", 2.46e9, NumberKind.number, None, 2),
        ("volume 2.46bn", "2.46bn", 2.46e9, NumberKind.number, None, 2),
        ("$31.2 bn traded", "$31.2 bn", 31.2e9, NumberKind.currency, "USD", 1),
        ("3.5 million shares", "3.5 million", 3.5e6, NumberKind.number, None, 1),
        ("4 mn shares", "4 mn", 4e6, NumberKind.number, None, 0),
        ("BTC near $97.4k", "$97.4k", 97_400, NumberKind.currency, "USD", 1),
        ("€5m raised", "€5m", 5e6, NumberKind.currency, "EUR", 0),
        ("two thousand: 2 thousand", "2 thousand", 2000, NumberKind.number, None, 0),
        ("rose 0.42%", "0.42%", 0.42, NumberKind.percent, None, 2),
        ("rose 0.42 %", "0.42 %", 0.42, NumberKind.percent, None, 2),
        ("rose 0.4 per cent", "0.4 per cent", 0.4, NumberKind.percent, None, 1),
        ("rose 0.4 percent", "0.4 percent", 0.4, NumberKind.percent, None, 1),
        ("rose 2pc", "2pc", 2, NumberKind.percent, None, 0),
        ("-0.5% on the day", "-0.5%", -0.5, NumberKind.percent, None, 1),
        ("−0.5% on the day", "−0.5%", -0.5, NumberKind.percent, None, 1),
        ("+1.2% on the day", "+1.2%", 1.2, NumberKind.percent, None, 1),
        ("cut by 25 bps", "25 bps", 25, NumberKind.basis_points, None, 0),
        ("cut by 25bp", "25bp", 25, NumberKind.basis_points, None, 0),
        ("cut by 25 basis points", "25 basis points", 25, NumberKind.basis_points, None, 0),
        ("trades at 2x book", "2x", 2, NumberKind.multiple, None, 0),
        ("trades at 3.5× sales", "3.5×", 3.5, NumberKind.multiple, None, 1),
        ("about 2.1 times its low", "2.1 times", 2.1, NumberKind.multiple, None, 1),
        ("closed at 2050", "2050", 2050, NumberKind.number, None, 0),
        ("gained 2050 points", "2050", 2050, NumberKind.number, None, 0),
        ("Nifty 2050 pts higher", "2050", 2050, NumberKind.number, None, 0),
        ("in 2026 so far", "2026", 2026, NumberKind.year, None, 0),
    ],
)
def test_extracts(
    text: str,
    raw: str,
    value: float,
    kind: NumberKind,
    currency: str | None,
    decimals: int,
) -> None:
    figure = only(text)
    assert figure.raw == raw
    assert figure.value == pytest.approx(value)
    assert figure.kind == kind
    assert figure.currency == currency
    assert figure.decimals == decimals
    assert text[figure.span[0] : figure.span[1]] == raw


@pytest.mark.parametrize(
    ("text", "direction"),
    [
        ("Nifty fell 1.2%", -1),
        ("Nifty was down 1.2%", -1),
        ("Nifty lost 1.2 per cent", -1),
        ("Nifty ended 1.2% lower", -1),
        ("a 1.2% drop in the Nifty", -1),
        ("3.4% below its 52-week high", -1),
        ("Nifty rose 1.2%", 1),
        ("Nifty gained 1.2%", 1),
        ("Nifty ended 1.2% higher", 1),
        ("Nifty +1.2%", 1),
        ("Nifty -1.2%", -1),
        ("Nifty moved 1.2%", 0),
        ("Nifty fell. Then 1.2% was the move", 0),
        ("BTC fell while the index added 1.2%", 1),
    ],
)
def test_direction(text: str, direction: int) -> None:
    figures = [f for f in extract_numbers(text) if f.kind == NumberKind.percent]
    assert [f.direction for f in figures] == [direction]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("on 2026-11-25 the", date(2026, 11, 25)),
        ("on 25 November 2026 the", date(2026, 11, 25)),
        ("on 25th November, 2026 the", date(2026, 11, 25)),
        ("on 25 Nov 2026 the", date(2026, 11, 25)),
        ("on November 25, 2026 the", date(2026, 11, 25)),
        ("on Nov. 25, 2026 the", date(2026, 11, 25)),
        ("on Nov 25th 2026 the", date(2026, 11, 25)),
        ("on 25/11/2026 the", date(2026, 11, 25)),
        ("on 25.11.2026 the", date(2026, 11, 25)),
        ("on 11/25/2026 the", date(2026, 11, 25)),
        ("on 11/11/2026 the", date(2026, 11, 11)),
    ],
)
def test_full_dates(text: str, expected: date) -> None:
    figure = only(text)
    assert figure.kind == NumberKind.date
    assert figure.date == expected
    assert figure.month_day == (expected.month, expected.day)


@pytest.mark.parametrize("text", ["on 25 Nov the", "on Nov 25 the", "on 25th of November"])
def test_dates_without_a_year(text: str) -> None:
    figure = only(text)
    assert (figure.kind, figure.date, figure.month_day) == (NumberKind.date, None, (11, 25))


@pytest.mark.parametrize("text", ["on 05/11/2026 the", "on 31 February 2026", "on 2026-13-40"])
def test_ambiguous_or_impossible_dates(text: str) -> None:
    figure = only(text)
    assert (figure.kind, figure.date, figure.month_day) == (NumberKind.date, None, None)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("at 16:00 IST", NumberKind.time),
        ("at 9:15 am", NumberKind.time),
        ("at 4 pm", NumberKind.time),
        ("at 4 p.m. sharp", NumberKind.time),
        ("the 3rd session", NumberKind.ordinal),
        ("1/5 Markets", NumberKind.thread_marker),
        ("Markets (2/5)", NumberKind.thread_marker),
        ("crypto trades 24/7", NumberKind.phrase),
        ("support 24x7", NumberKind.phrase),
    ],
)
def test_other_kinds(text: str, kind: NumberKind) -> None:
    assert only(text).kind == kind


@pytest.mark.parametrize(
    "text", ["Q3 results", "FY26 guidance", "#Nifty50 today", "H1 numbers", "see x.com/i/2026"]
)
def test_digits_inside_words_are_not_figures(text: str) -> None:
    assert extract_numbers(text) == []


def test_a_fraction_that_is_not_a_thread_marker_gives_two_figures() -> None:
    assert [(f.raw, f.kind) for f in extract_numbers("ratio 12/5 now")] == [
        ("12", NumberKind.number),
        ("5", NumberKind.number),
    ]


def test_tolerance_follows_the_written_precision_and_scale() -> None:
    assert only("at 6,012.45").tolerance == pytest.approx(0.005)
    assert only("at 6,012").tolerance == pytest.approx(0.5)
    assert only("28.54 crore").tolerance == pytest.approx(50_000)
    assert only("$97.4k").tolerance == pytest.approx(50)


def test_every_figure_of_a_post_with_its_span() -> None:
    text = (
        "1/3 The S&P 500 rose 0.42% to 6,012.45 on 25 November 2026; the Nifty 50 fell"
        " -0.5% to ₹24,190.40 (volume 28.54 crore). RBI cut 25 bps at 4 pm."
    )
    figures = extract_numbers(text)
    assert [(f.kind, text[f.span[0] : f.span[1]]) for f in figures] == [
        (NumberKind.thread_marker, "1/3"),
        (NumberKind.number, "500"),
        (NumberKind.percent, "0.42%"),
        (NumberKind.number, "6,012.45"),
        (NumberKind.date, "25 November 2026"),
        (NumberKind.number, "50"),
        (NumberKind.percent, "-0.5%"),
        (NumberKind.currency, "₹24,190.40"),
        (NumberKind.number, "28.54 crore"),
        (NumberKind.basis_points, "25 bps"),
        (NumberKind.time, "4 pm"),
    ]


# Found by the fuzzing (tests/fuzz/test_number_extractor.py).


@pytest.mark.parametrize("spacing", ["\n", "\t", "\u2003", "  "])
def test_lakh_crore_split_by_any_whitespace(spacing: str) -> None:
    # A newline, a tab or an em space between the words raised KeyError.
    figure = only(f"a budget of ₹2 lakh{spacing}crore")
    assert figure.value == 2e12
    assert figure.kind == NumberKind.currency
