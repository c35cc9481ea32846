"""Near-duplicate detection: what counts as a copy, what does not, and that it is fast."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from finagency.compliance import similarity
from finagency.compliance.findings import CheckContext, Finding, Severity
from finagency.compliance.profiles import IN_DISCLAIMER

NOW = datetime(2026, 11, 25, 21, 30, tzinfo=UTC)
POST = (
    "Nifty 50 closed at 24,512.30 on Wednesday, up 0.45% as banks and IT stocks led the gains. "
    "The S&P 500 ended at 6,012.45, adding 0.42% in thin pre-holiday trade. The rupee held near "
    "84.32 per dollar while Bitcoin slipped 1.2% to 91,230. Breadth was positive with advancers "
    "outnumbering decliners two to one."
)
NEXT_DAY = (
    "Nifty 50 closed at 24,601.10 on Thursday, down 0.81% as banks and IT stocks led the losses. "
    "The S&P 500 ended at 6,031.20, adding 0.31% in thin pre-holiday trade. The rupee held near "
    "84.40 per dollar while Bitcoin rose 0.4% to 92,100. Breadth was negative with decliners "
    "outnumbering advancers two to one."
)
OTHER = (
    "Gold rose to a record as the dollar weakened and central banks added to their reserves, "
    "while crude oil fell on supply worries ahead of next week's OPEC meeting."
)


def context(text: str, *recent: str) -> CheckContext:
    return CheckContext(
        text=text,
        channel_type="x",
        content_type="market_update",
        profile="in",
        now=NOW,
        recent_texts=recent,
    )


def test_a_lightly_edited_copy_is_a_near_duplicate_of_the_closest_recent_text() -> None:
    edited = POST.replace("Wednesday", "Thursday") + " Watch the jobs data on Friday."
    found = similarity.near_duplicate(context(edited, OTHER, POST))
    assert found == [Finding("near_duplicate", Severity.block, found[0].message, 0, len(edited))]
    assert found[0].message.startswith("Near-duplicate of recent text #2:")


def test_reordered_sentences_are_still_a_copy() -> None:
    reordered = " ".join(reversed(POST.split(". ")))
    assert similarity.near_duplicate(context(reordered, POST))


def test_the_same_template_with_another_days_figures_is_not_a_copy() -> None:
    assert similarity.near_duplicate(context(NEXT_DAY, POST, OTHER)) == []
    assert similarity.near_duplicate(context(POST)) == []


def test_the_shared_disclaimer_does_not_make_short_posts_alike() -> None:
    first = f"Gold hit a record as the dollar slid.\n\n{IN_DISCLAIMER}"
    second = f"Crude fell ahead of the OPEC meeting next week.\n\n{IN_DISCLAIMER}"
    assert similarity.near_duplicate(context(first, second)) == []
    assert similarity.near_duplicate(context(first, first.upper()))


def test_short_texts_are_not_compared() -> None:
    assert similarity.fingerprint("Markets fell today.") is None
    assert similarity.near_duplicate(context("Markets fell today.", "Markets fell today.")) == []


def test_similarity_and_distance() -> None:
    first, second = similarity.fingerprint(POST), similarity.fingerprint(NEXT_DAY)
    assert first is not None
    assert second is not None
    assert first.similarity(first) == 1.0
    assert 0.2 < first.similarity(second) < similarity.THRESHOLD
    assert similarity.distance(first.simhash, first.simhash) == 0
    assert similarity.distance(0, 2**64 - 1) == 64


def test_two_hundred_drafts_a_second_against_fifty_recent_texts() -> None:
    recent = tuple(f"{POST} Desk note {n}: flows were mixed in segment {n * 7}." for n in range(50))
    drafts = [f"{OTHER} Draft {n} looks at sector {n * 3} and its flows." for n in range(200)]
    started = time.perf_counter()
    for draft in drafts:
        similarity.near_duplicate(context(draft, *recent))
    assert time.perf_counter() - started < 1.0
