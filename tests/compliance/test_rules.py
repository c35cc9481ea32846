"""Each text rule on its own, with the exact spans it flags."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from finagency.compliance import rules
from finagency.compliance.findings import CheckContext, Finding, Rule, Severity
from finagency.compliance.profiles import IN_DISCLAIMER, US_DISCLAIMER

NOW = datetime(2026, 11, 25, 21, 30, tzinfo=UTC)


def context(text: str, **overrides: Any) -> CheckContext:
    fields: dict[str, Any] = {
        "channel_type": "linkedin",
        "content_type": "market_update",
        "profile": "in",
        "now": NOW,
    }
    fields.update(overrides)
    return CheckContext(text=text, **fields)


def spans(rule: Rule, text: str, **overrides: Any) -> list[tuple[str, Severity, str]]:
    """(rule id, severity, flagged text) of each finding."""
    return [(f.rule, f.severity, text[f.start : f.end]) for f in rule(context(text, **overrides))]


def test_a_missing_disclaimer_is_flagged_at_the_end_of_the_text() -> None:
    text = "Nifty closed higher."
    assert rules.disclaimer(context(text)) == [
        Finding(
            "disclaimer",
            Severity.block,
            f"The required disclaimer is missing: {IN_DISCLAIMER!r}",
            20,
            20,
        )
    ]
    assert rules.disclaimer(context(text, profile="us"))[0].message.endswith(f"{US_DISCLAIMER!r}")


def test_the_disclaimer_is_found_regardless_of_case_and_white_space() -> None:
    text = "Nifty closed higher.\n\n" + IN_DISCLAIMER.upper().replace(" ", "\n  ")
    assert rules.disclaimer(context(text)) == []


def test_the_organisation_disclaimer_replaces_the_profile_default() -> None:
    assert rules.disclaimer(context("Up. Ask your adviser.", disclaimer="Ask your adviser.")) == []
    assert rules.disclaimer(context("Up. " + IN_DISCLAIMER, disclaimer="Ask your adviser."))


def test_with_disclaimer_appends_only_when_missing() -> None:
    assert rules.with_disclaimer("Nifty rose.\n", "Not advice.") == "Nifty rose.\n\nNot advice."
    assert (
        rules.with_disclaimer("Nifty rose. NOT  advice.", "Not advice.")
        == "Nifty rose. NOT  advice."
    )
    assert rules.with_disclaimer("", "Not advice.") == "Not advice."
    assert rules.with_disclaimer("Nifty rose.", "  ") == "Nifty rose."


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("Get guaranteed returns today.", ["guaranteed"]),
        ("A sure-shot multibagger.", ["sure-shot"]),
        ("Returns are not guaranteed, but this stock will definitely double.", ["will definitely"]),
        ("You cannot go wrong with this guaranteed pick.", ["cannot go wrong", "guaranteed"]),
        ("Double your money and enjoy zero risk.", ["Double your money", "zero risk"]),
        ("It is 100% safe.", ["100% safe"]),
        ("Returns are not guaranteed.", []),
        ("Past performance does not guarantee future results.", []),
        ("Risk-free trades don't exist.", []),
        ("The risk-free rate rose to 4.4%.", []),
    ],
)
def test_promissory_language_is_read_in_its_sentence(text: str, flagged: list[str]) -> None:
    assert spans(rules.promissory, text) == [("promissory", Severity.block, f) for f in flagged]


def test_extra_banned_phrases_are_matched_as_words() -> None:
    text = "Crypto is hot. Cryptography is not. Our CRYPTO  fund is no crypto scam."
    found = rules.promissory(context(text, extra_banned_phrases=("crypto fund", "crypto", " ")))
    assert [(f.start, f.end) for f in found] == [(0, 6), (40, 52)]


def test_advice_calls_targets_and_reported_ratings() -> None:
    text = "Buy HDFCBANK now. TCS: TP 4,500, SL 3,900. Analysts at Jefferies rate it a buy."
    assert spans(rules.advice, text) == [
        ("advice", Severity.block, "Buy"),
        ("advice", Severity.block, "TP 4,500"),
        ("advice", Severity.block, "SL 3,900"),
        ("advice", Severity.warn, "a buy"),
    ]
    assert rules.advice(context(text, registered_adviser=True)) == []


@pytest.mark.parametrize(
    "text",
    [
        "Buy-and-hold investors ignored the sell-off.",
        "Exit polls lifted PSU stocks.",
        "The RBI kept its inflation target of 4%.",
        "The company targets 10% revenue growth.",
        "Short answer: markets fell.",
        "This is not a recommendation to buy or sell any security.",
        "We do not recommend buying on tips.",
    ],
)
def test_reporting_and_education_are_not_advice(text: str) -> None:
    assert rules.advice(context(text)) == []


def test_we_or_you_in_a_sentence_makes_a_rating_our_own() -> None:
    text = "Analysts agree with us: a strong buy."
    assert spans(rules.advice, text) == [("advice", Severity.block, "a strong buy")]


def test_urgency_is_a_warning() -> None:
    text = "Act now! Limited slots. You don't need to act now."
    assert spans(rules.urgency, text) == [
        ("urgency", Severity.warn, "Act now"),
        ("urgency", Severity.warn, "Limited slots"),
    ]


def test_placeholders() -> None:
    text = "[Image] Dear {{name}}, {x} TODO lorem ipsum <placeholder> [image: chart] Visual: bar"
    assert [s for _, _, s in spans(rules.placeholders, text)] == [
        "[Image]",
        "{{name}}",
        "{x}",
        "TODO",
        "lorem ipsum",
        "<placeholder>",
        "[image: chart]",
        "Visual:",
    ]
    assert rules.placeholders(context("[SIMULATED DATA] [BREAKING] Todo list? P/E < 15 > 10")) == []


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("", [""]),
        ("   \n", ["   \n"]),
        ("Markets rallied as investors cheered the", ["the"]),
        ("Markets fell...\n\n#Nifty #Sensex 📉", ["..."]),
        ("Markets fell and\n\nBanks led.", ["and"]),
        ("Banks (led by HDFC rose.", ["("]),
        ("Banks] rose.", ["]"]),
        ('He said "rates stay high.', ['"']),
        ("Markets fell.\n\n#Nifty https://x.com/a", []),
        ("1) Markets fell 2) Rupee rose :)", []),
        ("Dear investors,\n\nKey levels:\n- 24,000", []),
    ],
)
def test_empty_or_truncated(text: str, flagged: list[str]) -> None:
    assert [s for _, _, s in spans(rules.empty_or_truncated, text)] == flagged


def test_length_per_channel_and_per_thread_post() -> None:
    long_post = "a" * 300
    assert spans(rules.length, long_post, channel_type="x") == [
        ("length", Severity.block, "a" * 20)
    ]
    thread = f"1/2 {'b' * 290}\n\n2/2 Short."
    found = rules.length(context(thread, channel_type="x"))
    assert [(f.start, f.end) for f in found] == [(280, 294)]
    assert rules.length(context(thread.replace("1/2 ", "").replace("2/2 ", ""), channel_type="x"))
    assert rules.length(context("c" * 3000)) == []
    assert [(f.start, f.end) for f in rules.length(context("c" * 3001))] == [(3000, 3001)]
    assert rules.length(context("c" * 5000, channel_type="email")) == []
    assert rules.length(context("c" * 50, channel_type="email", max_length=40))


def test_x_weighs_links_and_wide_characters() -> None:
    assert rules.x_length("₹" * 10) == 20
    assert rules.x_length("see https://example.com/" + "x" * 400) == 4 + 23
    found = rules.length(context("₹" * 150, channel_type="x"))
    assert [(f.start, f.end) for f in found] == [(140, 150)]


@pytest.mark.parametrize(
    ("text", "flagged"),
    [
        ("Nifty fell.", True),
        ("Simulated: Nifty fell.", True),
        ("[SIMULATED DATA] Nifty fell.", False),
        ("[simulated] Nifty fell.", False),
        ("Nifty fell (Simulated Market Data).", False),
        ("These are simulated prices.", False),
    ],
)
def test_simulated_drafts_carry_a_visible_mark(text: str, flagged: bool) -> None:
    found = rules.simulated_mark(context(text, extra={"simulated": True}))
    assert found == (
        [Finding("simulated_mark", Severity.block, found[0].message, 0, 0)] if flagged else []
    )
    assert rules.simulated_mark(context(text)) == []


def test_every_text_rule_has_an_id_and_a_default_severity() -> None:
    ids = {rule.__name__ for rule in rules.TEXT_RULES}
    assert ids == set(rules.DEFAULT_SEVERITY)
