import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from finagency.compliance import checker
from finagency.compliance.findings import CheckContext, Finding, SnapshotView
from finagency.compliance.profiles import PROFILE_NAMES, get_profile
from finagency.compliance.rules import x_length
from finagency.content.renderings import CHANNEL_TYPES, X_LIMIT, Draft, render
from finagency.content.writers import (
    AUDIENCES,
    TONES,
    Brief,
    IdeaBrief,
    NewsHeadline,
    WriterError,
)
from finagency.content.writers.template import (
    SIMULATED_MARK,
    TEMPLATES,
    TemplateWriter,
    format_amount,
    indian_grouping,
    market_update,
)
from finagency.content.writers.templates import voice
from finagency.content.writers.templates.explainers import LIBRARY
from tests.compliance.snapshots import AS_OF, EQUITIES, snapshot_view

DISCLAIMER = "Not investment advice."
NOW = AS_OF + timedelta(minutes=1)
INDICES_AND_MORE = ["^GSPC", "^NSEI", "USDINR=X", "BTC-USD"]
SEEDS = range(4)
IDEA = IdeaBrief(
    id=7,
    title="Fed holds rates steady",
    urgency="breaking",
    event="central_bank",
    symbols=("^GSPC", "AAPL"),
    reasons=("keyword fed +2.0",),
    headlines=(
        NewsHeadline("BREAKING: Fed holds rates steady, signals patience", "Reuters"),
        NewsHeadline("S&P 500 rises 0.4% after the Fed decision", "Bloomberg"),
        NewsHeadline("Guaranteed returns: buy these stocks now", "Tip Sheet"),
    ),
)
# type -> the brief's other fields; each type as an editor would request it
REQUESTS: dict[str, dict[str, Any]] = {
    "market_update": {"symbols": ("^GSPC", "^NSEI", "USDINR=X", "BTC-USD")},
    "news_analysis": {"idea": IDEA},
    "educational": {"symbols": ("^NSEI",), "topic": "What is a 52-week high?"},
    "earnings_preview": {"symbols": ("AAPL",)},
    "sector_report": {
        "symbols": ("RELIANCE.NS", "TCS.NS", "INFY.NS", "HDFCBANK.NS"),
        "topic": "Indian large caps",
    },
    "breaking_alert": {"idea": IDEA},
}
TOPICS = {
    "daily_change": "previous close and daily change",
    "week52_range": "the 52-week range",
    "market_indices": "How do market indices like the Nifty work?",
    "volatility": "volatility",
    "diversification": "Why diversify a portfolio",
    "cost_averaging": "SIP and rupee-cost averaging",
    "reading_a_market_update": "how to read a market update",
}


def full_view(**overrides: Any) -> SnapshotView:
    return snapshot_view(symbols=[*INDICES_AND_MORE, *EQUITIES], **overrides)


def brief(content_type: str, view: SnapshotView | None = None, **fields: Any) -> Brief:
    request = {**REQUESTS.get(content_type, {}), **fields}
    return Brief(
        type=content_type,
        symbols=tuple(request.pop("symbols", ())),
        snapshot=view or full_view(),
        disclaimer=request.pop("disclaimer", DISCLAIMER),
        seed=request.pop("seed", 0),
        **request,
    )


def write(content_type: str, view: SnapshotView | None = None, **fields: Any) -> Draft:
    return TemplateWriter().write(brief(content_type, view, **fields)).draft


def blocking(draft: Draft, content_type: str, profile: str, view: SnapshotView) -> list[Finding]:
    ctx = CheckContext(
        text=draft.plain_text,
        channel_type="file",
        content_type=content_type,
        profile=profile,
        now=NOW,
        snapshot=view,
        disclaimer=draft.disclaimer,
        extra={"simulated": draft.data["simulated"]},
    )
    return [finding for finding in checker.check(ctx) if checker.blocking([finding])]


def assert_publishable(draft: Draft, content_type: str, profile: str, view: SnapshotView) -> None:
    text = draft.plain_text
    found = blocking(draft, content_type, profile, view)
    assert not found, [(f.rule, f.message, text[f.start : f.end]) for f in found]
    for channel in CHANNEL_TYPES:
        rendered = render(draft, channel)  # raises TooLong when it cannot fit
        for post in rendered.get("posts", []):
            assert x_length(post) <= X_LIMIT, post


# ---------------------------------------------------------------- every type passes the rules


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("profile", PROFILE_NAMES)
@pytest.mark.parametrize("content_type", list(REQUESTS))
def test_every_type_passes_the_rules_and_renders(
    content_type: str, profile: str, seed: int
) -> None:
    view = full_view()
    disclaimer = get_profile(profile).disclaimer
    draft = write(content_type, view, seed=seed, disclaimer=disclaimer)
    assert draft.plain_text.endswith(disclaimer)
    assert_publishable(draft, content_type, profile, view)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("profile", PROFILE_NAMES)
@pytest.mark.parametrize("explainer", list(TOPICS))
def test_every_explainer_passes_the_rules(explainer: str, profile: str, seed: int) -> None:
    view = full_view()
    for symbols in [("^NSEI",), ("AAPL", "BTC-USD"), ()]:
        draft = write(
            "educational",
            view,
            symbols=symbols,
            topic=TOPICS[explainer],
            seed=seed,
            disclaimer=get_profile(profile).disclaimer,
        )
        assert draft.data["explainer"] == explainer
        assert_publishable(draft, "educational", profile, view)


def test_the_library_has_a_topic_for_every_explainer() -> None:
    assert {explainer.key for explainer in LIBRARY} == set(TOPICS)


@pytest.mark.parametrize("content_type", ["market_update", "sector_report", "news_analysis"])
def test_many_instruments_with_mixed_moves_pass(content_type: str) -> None:
    view = full_view()
    symbols = (*INDICES_AND_MORE, *EQUITIES)
    for seed in SEEDS:
        draft = write(content_type, view, symbols=symbols, seed=seed)
        assert_publishable(draft, content_type, "us", view)


def test_every_seed_stays_within_the_rules_and_x_posts() -> None:
    view = full_view()
    disclaimer = get_profile("us").disclaimer
    for content_type in REQUESTS:
        for seed in range(40):
            draft = write(content_type, view, seed=seed, disclaimer=disclaimer)
            assert_publishable(draft, content_type, "us", view)


# ---------------------------------------------------------------- provenance, same text, variation


@pytest.mark.parametrize("content_type", list(REQUESTS))
def test_provenance_and_structured_data(content_type: str) -> None:
    view = full_view(id=42)
    written = TemplateWriter().write(brief(content_type, view))
    version = f"{content_type}/2"
    assert TEMPLATES[content_type][0] == version
    assert written.provenance == {
        "snapshot_id": 42,
        "writer": "template",
        "template_version": version,
        "model": None,
        "prompt_hash": None,
    }
    data = written.draft.data
    assert data["template_version"] == version
    assert data["snapshot_id"] == 42
    assert data["simulated"] is False
    assert data["symbols"]
    assert all(symbol in view.instruments for symbol in data["symbols"])
    assert TemplateWriter.name == "template"


@pytest.mark.parametrize("content_type", list(REQUESTS))
def test_the_same_brief_gives_the_same_text(content_type: str) -> None:
    assert write(content_type, seed=5) == write(content_type, seed=5)


@pytest.mark.parametrize("content_type", list(REQUESTS))
def test_seeds_vary_the_phrasing(content_type: str) -> None:
    view = full_view()
    texts = {write(content_type, view, seed=seed).plain_text for seed in range(12)}
    assert len(texts) > 1


def test_educational_variation_keeps_the_same_explainer() -> None:
    drafts = [write("educational", topic="volatility", seed=seed) for seed in range(12)]
    assert {draft.data["explainer"] for draft in drafts} == {"volatility"}
    assert len({draft.title for draft in drafts}) > 1


# ---------------------------------------------------------------- flagged fields


@pytest.mark.parametrize("flag", ["unverified", "suspect", "stale"])
@pytest.mark.parametrize("content_type", list(REQUESTS))
def test_flagged_fields_are_never_written(content_type: str, flag: str) -> None:
    flagged = {"last": [flag], "week52_high": [flag]}
    view = full_view(
        flags={symbol: flagged for symbol in ("^GSPC", "AAPL", "^NSEI", "INFY.NS", "TCS.NS")}
    )
    for seed in SEEDS:
        draft = write(content_type, view, seed=seed)
        text = draft.plain_text
        for written in ("6,012.45", "6,102.74", "231.54", "237.49", "24,318.65", "26,277.35"):
            assert written not in text
        for written in ("1,893.60", "2,006.45", "4,215.30", "4,592.25"):
            assert written not in text
        assert_publishable(draft, content_type, "us", view)


def test_an_instrument_without_a_verified_quote_is_reported_as_such() -> None:
    view = full_view(flags={"^GSPC": {"last": ["suspect"]}})
    draft = write("news_analysis", view)
    assert "S&P 500: no verified quote is available at the moment." in draft.body
    alert = write("breaking_alert", view)
    assert "S&P 500: no verified quote" in alert.body


def test_an_educational_example_skips_instruments_it_cannot_quote() -> None:
    view = full_view(flags={"^NSEI": {"week52_low": ["stale"]}})
    draft = write("educational", view, symbols=("^NSEI", "^GSPC"), topic="52-week range")
    assert draft.data["symbols"] == ["^GSPC"]
    assert "6,012.45" in draft.body
    only_flagged = write("educational", view, symbols=("^NSEI",), topic="52-week range")
    assert "A worked example needs verified figures" in only_flagged.body
    assert "24,318.65" not in only_flagged.body


# ---------------------------------------------------------------- simulated data


@pytest.mark.parametrize("content_type", list(REQUESTS))
def test_simulated_data_is_marked(content_type: str) -> None:
    simulated = {name: ["simulated"] for name in ("last", "previous_close", "change_pct")}
    symbols = (*INDICES_AND_MORE, *EQUITIES)
    view = full_view(flags={symbol: simulated for symbol in symbols})
    for profile in PROFILE_NAMES:
        draft = write(content_type, view, disclaimer=get_profile(profile).disclaimer)
        assert draft.title.startswith(SIMULATED_MARK)
        assert draft.data["simulated"] is True
        assert "simulated" in draft.paragraphs[-1].lower()
        assert_publishable(draft, content_type, profile, view)


# ---------------------------------------------------------------- each type's content


def test_news_analysis_attributes_the_news_and_skips_unsafe_headlines() -> None:
    draft = write("news_analysis")
    first = draft.paragraphs[0]
    assert "Reuters" in first
    assert "Fed holds rates steady, signals patience" in first
    assert "BREAKING" not in draft.plain_text
    assert "Guaranteed" not in draft.plain_text
    assert "Tip Sheet" not in draft.plain_text
    assert "6,012.45" in draft.body
    assert "231.54" in draft.body
    assert "52-week" in draft.body
    assert draft.data["idea_id"] == IDEA.id
    assert draft.data["sources"] == ["Reuters", "Bloomberg"]


def test_a_headline_with_a_figure_the_snapshot_lacks_is_not_quoted() -> None:
    idea = replace(
        IDEA,
        headlines=(
            NewsHeadline("Apple jumps 7% as iPhone sales beat estimates", "CNBC"),
            NewsHeadline("Fed decision on 18 November 2026 surprises markets", "Mint"),
        ),
    )
    view = full_view()
    draft = write("news_analysis", view, idea=idea)
    assert "7%" not in draft.plain_text
    assert "18 November" not in draft.plain_text
    assert draft.paragraphs[0].startswith("CNBC and Mint reported on a central bank decision")
    assert draft.data["headlines"] == []
    assert_publishable(draft, "news_analysis", "us", view)


def test_educational_matches_the_topic_and_uses_the_requested_symbol() -> None:
    rupee = write("educational", symbols=("^NSEI",), topic="How does a SIP work?")
    assert rupee.data["explainer"] == "cost_averaging"
    assert "rupee-cost averaging" in rupee.plain_text.lower()
    assert "24,318.65" in rupee.body
    dollar = write("educational", symbols=("AAPL",), topic="cost averaging")
    assert "dollar-cost averaging" in dollar.plain_text.lower()
    assert "$231.54" in dollar.body


def test_earnings_preview_states_the_standing_without_a_forecast() -> None:
    draft = write("earnings_preview", symbols=("AAPL",))
    assert "$231.54" in draft.body
    assert "$228.22" in draft.body
    assert "$237.49" in draft.body
    assert "$164.08" in draft.body
    assert "makes no forecast" in draft.body or "predicts" in draft.body
    assert "will " not in draft.body


def test_earnings_preview_takes_the_ideas_company() -> None:
    draft = write("earnings_preview", symbols=(), idea=IDEA)
    assert draft.data["symbols"] == ["AAPL"]


def test_sector_report_names_breadth_and_the_biggest_movers() -> None:
    draft = write("sector_report", symbols=("AAPL", "MSFT", "NVDA", "JPM"), topic="US megacaps")
    assert draft.title == "Sector report: US megacaps, 25 November 2026"
    assert draft.paragraphs[0] == (
        "Of the four instruments covered, one rose, two fell and one was unchanged."
    )
    assert "Apple" in draft.paragraphs[1]
    assert "NVIDIA" in draft.paragraphs[1]
    assert draft.data["biggest_gain"] == "AAPL"
    assert draft.data["biggest_fall"] == "NVDA"
    assert draft.data["breadth"] == {"up": 1, "down": 2, "unchanged": 1}


def test_a_sector_topic_that_is_not_a_plain_name_stays_out_of_the_title() -> None:
    draft = write("sector_report", topic="Top 5 picks {{sector}}")
    assert draft.title == "Sector report, 25 November 2026"


def test_breaking_alert_fits_one_x_post_with_the_us_disclaimer() -> None:
    for seed in SEEDS:
        draft = write("breaking_alert", seed=seed, disclaimer=get_profile("us").disclaimer)
        assert len(render(draft, "x")["posts"]) == 1
        assert "Fed holds rates steady" in draft.body
        assert "6,012.45" in draft.body


def test_breaking_alert_too_long_for_one_post_keeps_its_full_version() -> None:
    draft = write("breaking_alert", disclaimer=get_profile("in").disclaimer)
    assert "Fed holds rates steady" in draft.body
    assert "previous close" in draft.body
    assert len(render(draft, "x")["posts"]) > 1


def test_breaking_alert_shortens_before_it_needs_a_thread() -> None:
    disclaimer = get_profile("us").disclaimer
    short = write("breaking_alert", disclaimer=disclaimer, seed=1)
    long_headline = NewsHeadline(
        "Fed holds rates steady as officials weigh slower inflation and a cooling labour market",
        "Reuters",
    )
    draft = write(
        "breaking_alert", disclaimer=disclaimer, idea=replace(IDEA, headlines=(long_headline,))
    )
    assert len(render(short, "x")["posts"]) == 1
    assert len(render(draft, "x")["posts"]) == 1
    assert "previous close" not in draft.body


# ---------------------------------------------------------------- missing input


@pytest.mark.parametrize(
    ("content_type", "fields", "message"),
    [
        ("news_analysis", {"idea": None}, "written from a research idea"),
        ("breaking_alert", {"idea": None}, "written from a research idea"),
        ("news_analysis", {"idea": replace(IDEA, headlines=())}, "no news headline"),
        ("educational", {"topic": None}, "needs a topic"),
        ("educational", {"topic": "   "}, "needs a topic"),
        ("educational", {"topic": "crypto staking yields"}, "known topics: previous close"),
        ("educational", {"symbols": ("ZZZ",)}, "none of the requested symbols"),
        ("market_update", {"symbols": ("ZZZ", "QQQ")}, "none of the requested symbols"),
        ("sector_report", {"symbols": ("ZZZ",)}, "none of the requested symbols"),
        ("sector_report", {"symbols": ("AAPL", "ZZZ")}, "compares several instruments"),
        ("earnings_preview", {"symbols": ("^GSPC",)}, "is about a company"),
        (
            "news_analysis",
            {"idea": replace(IDEA, symbols=("ZZZ",))},
            "none of the requested symbols",
        ),
        ("opinion_piece", {}, "cannot write 'opinion_piece'"),
    ],
)
def test_missing_input_is_a_writer_error(
    content_type: str, fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(WriterError, match=message):
        write(content_type, **fields)


def test_an_unknown_topic_names_every_known_topic() -> None:
    with pytest.raises(WriterError) as error:
        write("educational", topic="options greeks")
    for explainer in LIBRARY:
        assert explainer.topic in str(error.value)


# ---------------------------------------------------------------- audience and tone

# Contractions ("n't", "it's", "you're") and the second person; possessives are neither.
CONTRACTION_OR_YOU = re.compile(
    r"n['’]t\b|\b(?:it|that|here|there|what|let|who|where|how)['’]s\b"
    r"|['’](?:re|ve|ll|d|m)\b|\byou",
    re.IGNORECASE,
)
QUOTED = re.compile(r"“[^”]*”")  # headlines are quoted as published, whatever the tone


def prose(draft: Draft) -> str:
    """The writer's own words: title and paragraphs, without the disclaimer or quoted headlines."""
    return QUOTED.sub("", "\n".join([draft.title, *draft.paragraphs]))


def glosses_in(text: str) -> list[str]:
    return [
        sentence
        for gloss in voice.GLOSSES
        for sentence in (gloss.plain, gloss.friendly)
        if sentence in text
    ]


def test_the_voices_are_exported_with_the_briefs_defaults_first() -> None:
    assert AUDIENCES == ("retail", "professional")
    assert TONES == ("neutral", "formal", "conversational")
    plain = brief("market_update")
    assert (plain.audience, plain.tone) == (AUDIENCES[0], TONES[0])


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("profile", PROFILE_NAMES)
@pytest.mark.parametrize("tone", TONES)
@pytest.mark.parametrize("audience", AUDIENCES)
@pytest.mark.parametrize("content_type", list(REQUESTS))
def test_every_type_in_every_voice_passes_the_rules_and_renders(
    content_type: str, audience: str, tone: str, profile: str, seed: int
) -> None:
    view = full_view()
    disclaimer = get_profile(profile).disclaimer
    draft = write(
        content_type, view, seed=seed, disclaimer=disclaimer, audience=audience, tone=tone
    )
    assert draft.plain_text.endswith(disclaimer)
    assert_publishable(draft, content_type, profile, view)


@pytest.mark.parametrize("tone", TONES)
@pytest.mark.parametrize("content_type", list(REQUESTS))
def test_retail_glosses_each_term_once_where_it_first_appears(content_type: str, tone: str) -> None:
    # A volatility explainer, since a 52-week one explains its own term (tested below).
    topic = "volatility" if content_type == "educational" else None
    extra: dict[str, Any] = {"topic": topic} if topic else {}
    # The in profile's long disclaimer keeps the alert's full version, with its previous close.
    disclaimer = get_profile("in").disclaimer
    for seed in SEEDS:
        draft = write(content_type, seed=seed, tone=tone, disclaimer=disclaimer, **extra)
        text = "\n".join(draft.paragraphs)
        assert glosses_in(text), text
        for gloss in voice.GLOSSES:
            sentence = gloss.friendly if tone == "conversational" else gloss.plain
            first = gloss.term.search(text)
            assert text.count(sentence) == (1 if first else 0), (gloss.key, text)
            if first:  # right after the sentence where the term first appears
                between = text[first.end() : text.index(sentence)]
                for other in glosses_in(between):  # glosses of the same sentence, in order
                    between = between.replace(other, "")
                assert len(re.findall(r"[.!?]\s", between)) == 1, (gloss.key, text)


def test_a_retail_market_update_glosses_the_previous_close_once() -> None:
    draft = write("market_update")
    assert draft.body.count("previous close") > 2
    assert draft.body.count(voice.GLOSSES[0].plain) == 1
    assert draft.paragraphs[0].startswith("S&P 500")


def test_an_explainer_does_not_gloss_the_term_it_explains() -> None:
    draft = write("educational", topic="What is a 52-week high?")
    assert "52-week range" in draft.body
    assert not glosses_in(draft.body)


@pytest.mark.parametrize("tone", TONES)
@pytest.mark.parametrize("content_type", list(REQUESTS))
def test_professional_drafts_have_no_gloss(content_type: str, tone: str) -> None:
    for seed in SEEDS:
        for topic in (None, "volatility"):
            extra: dict[str, Any] = (
                {"topic": topic} if topic and content_type == "educational" else {}
            )
            draft = write(content_type, seed=seed, audience="professional", tone=tone, **extra)
            assert not glosses_in(draft.plain_text)


def test_professional_drafts_put_the_figures_first() -> None:
    news = write("news_analysis", audience="professional")
    assert news.paragraphs[0].startswith("S&P 500 rose 0.42% to 6,012.45")
    assert "Reuters" in news.paragraphs[1]
    sector = write("sector_report", audience="professional")
    assert "Rs 1,893.60" in sector.paragraphs[0]
    assert sector.paragraphs[-1].startswith("Of the four instruments covered")
    alert = write(
        "breaking_alert", audience="professional", disclaimer=get_profile("in").disclaimer
    )
    assert alert.paragraphs[0].startswith("S&P 500")
    preview = write("earnings_preview", audience="professional")
    assert "investors typically look at" not in preview.body
    assert len(preview.body) < len(write("earnings_preview").body)


@pytest.mark.parametrize("audience", AUDIENCES)
@pytest.mark.parametrize("content_type", list(REQUESTS))
def test_formal_drafts_have_no_contraction_and_no_second_person(
    content_type: str, audience: str
) -> None:
    for seed in range(8):
        draft = write(content_type, seed=seed, audience=audience, tone="formal")
        assert not CONTRACTION_OR_YOU.search(prose(draft)), prose(draft)


@pytest.mark.parametrize("audience", AUDIENCES)
@pytest.mark.parametrize("explainer", list(TOPICS))
def test_every_explainer_has_a_formal_voice(explainer: str, audience: str) -> None:
    view = full_view()
    for seed in range(6):
        draft = write(
            "educational",
            view,
            topic=TOPICS[explainer],
            seed=seed,
            audience=audience,
            tone="formal",
        )
        assert not CONTRACTION_OR_YOU.search(prose(draft)), prose(draft)
        assert_publishable(draft, "educational", "us", view)


@pytest.mark.parametrize("audience", AUDIENCES)
@pytest.mark.parametrize("content_type", list(REQUESTS))
def test_conversational_drafts_address_the_reader(content_type: str, audience: str) -> None:
    disclaimer = get_profile("us").disclaimer
    for seed in SEEDS:
        draft = write(
            content_type, seed=seed, audience=audience, tone="conversational", disclaimer=disclaimer
        )
        assert re.search(r"\byou", draft.paragraphs[0], re.IGNORECASE), draft.paragraphs[0]
        assert_publishable(draft, content_type, "us", full_view())


def test_openers_and_glosses_carry_no_figure() -> None:
    sentences = [opener for openers in voice.OPENERS.values() for opener in openers]
    sentences += [text for gloss in voice.GLOSSES for text in (gloss.plain, gloss.friendly)]
    assert set(voice.OPENERS) == set(REQUESTS)
    for sentence in sentences:
        assert not re.search(r"\d", sentence.replace("52-week", "")), sentence


@pytest.mark.parametrize("tone", TONES)
@pytest.mark.parametrize("audience", AUDIENCES)
@pytest.mark.parametrize("content_type", list(REQUESTS))
def test_each_voice_gives_the_same_text_for_the_same_seed(
    content_type: str, audience: str, tone: str
) -> None:
    first = write(content_type, seed=5, audience=audience, tone=tone)
    assert write(content_type, seed=5, audience=audience, tone=tone) == first
    # The neutral voice has no contraction or "you" to drop, so formal may read the same.
    if audience != AUDIENCES[0] or tone == "conversational":
        assert first.plain_text != write(content_type, seed=5).plain_text


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"audience": "institutional"},
            "unknown audience 'institutional'; known audiences: retail, professional",
        ),
        ({"tone": "hype"}, "unknown tone 'hype'; known tones: neutral, formal, conversational"),
        ({"audience": ""}, "known audiences: retail, professional"),
    ],
)
@pytest.mark.parametrize("content_type", list(REQUESTS))
def test_an_unknown_audience_or_tone_is_a_writer_error(
    content_type: str, fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(WriterError, match=re.escape(message)):
        write(content_type, **fields)


# ---------------------------------------------------------------- the module-level market update


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
    assert draft.data["template_version"] == "market_update/2"
    # The same request gives the same text.
    assert market_update(snapshot, ["^GSPC", "^NSEI"], DISCLAIMER, seed=1) == draft


def test_flagged_fields_are_never_written_in_a_market_update() -> None:
    snapshot = snapshot_view(flags={"^GSPC": {"last": ["unverified"]}})
    text = market_update(snapshot, ["^GSPC", "^NSEI"], DISCLAIMER).plain_text
    assert "6,012.45" not in text
    assert "S&P 500: no verified quote" in text
    assert "24,318.65" in text


def test_simulated_data_is_marked_in_a_market_update() -> None:
    snapshot = snapshot_view(flags={"^GSPC": {"last": ["simulated"]}})
    draft = market_update(snapshot, ["^GSPC"], DISCLAIMER)
    assert draft.title.startswith(SIMULATED_MARK)
    assert draft.data["simulated"] is True
