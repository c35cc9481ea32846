"""Hypothesis on the compliance number extractor (compliance/numbers.py) and the fact check
(compliance/factcheck.py) that stands on it.

On any text the extractor raises nothing, every figure's span holds exactly its raw text, spans
come in order without overlapping, and values are numbers; a figure written from a known value
comes back with that value at that place. The fact check raises nothing, flags spans inside the
text, and never lets a figure through that no snapshot value is near.
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from finagency.compliance.factcheck import fact_check
from finagency.compliance.findings import CheckContext
from finagency.compliance.numbers import NumberKind, extract_numbers
from tests.compliance.snapshots import AS_OF, snapshot_view

FUZZ = settings(
    max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)

# Pieces of finance prose the extractor has a rule for, to be glued together with anything.
TOKENS = [
    "$", "US$", "₹", "Rs.", "€", "£", "¥", "INR ", " USD", " crore", " lakh crore", "L", "k",
    "bn", " million", "%", " per cent", " bps", " basis points", "x", "×", " times", "-", "+",
    "−", ".", ",", "/", ":", " am", " pm", "th", "Nov", "November ", "Q3", "FY26", "#", "24/7",
    "(2/5)", "1/5", "2026-11-25", "31/02/2026", "25.11.2026", " closed at ", " fell ", " up ",
    " 52-week ", "S&P 500", "Nifty 50", "\n", ";", "9" * 40, "9" * 400, "0." + "0" * 30 + "1",
]  # fmt: skip
# The unit and scale words of two words, parted by more than plain spaces in real prose.
PAIRS = [("lakh", "crore"), ("per", "cent"), ("basis", "points"), ("percentage", "points")]
SPACES = [" ", "  ", "\n", "\t", "\xa0", "\u2003"]
figures_in_words = st.builds(
    "{} {}{}{}".format,
    st.integers(0, 10**6),
    st.sampled_from([first for first, _ in PAIRS]),
    st.sampled_from(SPACES),
    st.sampled_from([second for _, second in PAIRS]),
)
words = st.one_of(
    st.sampled_from(TOKENS), figures_in_words, st.integers(0, 10**7).map(str), st.text(max_size=6)
)
prose = st.lists(words, max_size=12).map("".join)
texts = st.one_of(prose, st.text())


@FUZZ
@given(text=texts)
def test_every_figure_is_finite_and_spans_its_own_text(text: str) -> None:
    figures = extract_numbers(text)

    end = 0
    for figure in figures:
        start, stop = figure.span
        assert end <= start < stop <= len(text), (figure, text)
        assert text[start:stop] == figure.raw, (figure, text)
        # Infinite for 300 digits and more (the fact check never traces those); never NaN.
        assert not math.isnan(figure.value), (figure, text)
        assert 0 <= figure.tolerance < math.inf, (figure, text)
        assert figure.decimals >= 0
        assert figure.sign in (-1, 0, 1)
        assert figure.direction in (-1, 0, 1)
        assert (figure.kind == NumberKind.currency) <= (figure.currency is not None)
        if figure.month_day is not None:
            assert 1 <= figure.month_day[0] <= 12
            assert 1 <= figure.month_day[1] <= 31
        end = stop


@FUZZ
@given(
    before=st.sampled_from(["closed at ", "Nifty: ", "(", "up ", ""]),
    value=st.decimals(min_value=0, max_value=10**12, places=2, allow_nan=False),
    grouping=st.booleans(),
    unit=st.sampled_from(["", "%", " bps", "x"]),
    after=st.sampled_from([" today.", ")", ";", "", " and rising"]),
)
def test_a_written_figure_comes_back_with_its_value_at_its_place(
    before: str, value: float, grouping: bool, unit: str, after: str
) -> None:
    digits = f"{value:,.2f}" if grouping else f"{value:.2f}"
    text = f"{before}{digits}{unit}{after}"

    figures = [figure for figure in extract_numbers(text) if figure.raw.startswith(digits)]

    assert len(figures) == 1, (text, extract_numbers(text))
    figure = figures[0]
    assert figure.span == (len(before), len(before) + len(digits) + len(unit)), text
    assert math.isclose(abs(figure.value), float(value), rel_tol=1e-12), text
    assert figure.decimals == 2


def _check(text: str) -> CheckContext:
    return CheckContext(
        text=text,
        channel_type="x",
        content_type="market_update",
        profile="us",
        now=AS_OF,
        snapshot=snapshot_view(),
        disclaimer="Not investment advice.",
    )


@FUZZ
@given(text=texts)
def test_the_fact_check_flags_spans_of_the_text_and_passes_no_huge_figure(text: str) -> None:
    findings = fact_check(_check(text))

    for finding in findings:
        assert 0 <= finding.start < finding.end <= len(text), (finding, text)
    flagged = {(finding.start, finding.end) for finding in findings}
    for figure in extract_numbers(text):
        # No snapshot value is anywhere near 10**15 (volumes are ~10**9), let alone infinity.
        if figure.magnitude > 1e15 and figure.kind == NumberKind.number:
            assert figure.span in flagged, (figure, text)
