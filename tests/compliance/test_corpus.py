"""A labelled corpus: each sentence, with the profile's disclaimer appended, fires exactly these
text rules (the fact check, freshness and near-duplicate rules are tested on their own)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from finagency.compliance import rules
from finagency.compliance.findings import CheckContext, Finding
from finagency.compliance.profiles import IN_DISCLAIMER, US_DISCLAIMER

NOW = datetime(2026, 11, 25, 21, 30, tzinfo=UTC)
P, A, U, H, T = (
    rules.PROMISSORY,
    rules.ADVICE,
    rules.URGENCY,
    rules.PLACEHOLDERS,
    rules.EMPTY_OR_TRUNCATED,
)

CORPUS: list[tuple[str, set[str]]] = [
    # Compliant reporting and education.
    ("Nifty 50 closed at 24,512.30 on Wednesday, up 0.45% as banks led the gains.", set()),
    ("The S&P 500 ended the session 0.42% higher in thin pre-holiday trade.", set()),
    ("The rupee held near 84.32 per dollar while Bitcoin slipped 1.2%.", set()),
    ("Breadth was positive, with advancers outnumbering decliners two to one.", set()),
    (
        "A stop-loss order closes a position automatically when the price falls to a set level.",
        set(),
    ),
    ("Buy-and-hold investors ignored the sell-off and stayed the course.", set()),
    ("The RBI kept its inflation target of 4% unchanged.", set()),
    ("Reliance agreed to buy a 10% stake in the venture, the company said.", set()),
    ("Exit polls pointed to a clear majority, lifting PSU stocks.", set()),
    ("Sell-side analysts expect margins to recover next year.", set()),
    ("The yield on the 10-year Treasury, a proxy for the risk-free rate, rose to 4.4%.", set()),
    ("No risk, no reward is an old market saying that deserves caution.", set()),
    # Negated guarantees and standard cautions: warnings to investors, not promises.
    ("Returns are not guaranteed.", set()),
    ("No investment is risk-free.", set()),
    ("There is no such thing as a sure-shot trade.", set()),
    ("Past performance does not guarantee future results.", set()),
    ("Past performance is no guarantee of future returns.", set()),
    ("We never promise returns to anyone.", set()),
    ("Nothing in this post is guaranteed, and markets can fall.", set()),
    ("Neither capital nor returns are guaranteed in equity funds.", set()),
    ("Beware of anyone promising guaranteed returns on Telegram.", set()),
    ("SEBI warns investors against sure-shot multibagger tips.", set()),
    ("Guaranteed returns are a myth in the stock market.", set()),
    ("Risk-free trades don't exist.", set()),
    ("Nobody can say the index will definitely rise from here.", set()),
    ("You don't need to act now; markets will be there tomorrow.", set()),
    ("This is not a recommendation to buy or sell any security.", set()),
    ("Nothing here is a buy or sell recommendation.", set()),
    ("Mutual fund returns are not assured and may go down as well as up.", set()),
    # Promissory language in many phrasings.
    ("This fund offers guaranteed returns of 18% a year.", {P}),
    ("A sure-shot multibagger for your portfolio!", {P}),
    ("This is a risk-free way to grow your wealth.", {P}),
    ("With this strategy you can't lose.", {P}),
    ("Double your money in six months with our picks.", {P}),
    ("Our scheme gives assured returns every month.", {P}),
    ("There is zero risk in this trade.", {P}),
    ("It is 100% safe, so relax.", {P}),
    ("The stock will definitely double by Diwali.", {P}),
    ("No doubt this is a sure-shot winner.", {P}),
    ("Don't miss this guaranteed opportunity.", {P, U}),
    ("India's No. 1 risk-free trading app.", {P}),
    ("We guarantee 20% profit on every trade.", {P}),
    # Buy/sell calls and price targets addressed to the reader.
    ("Buy HDFCBANK now before results.", {A}),
    ("You should sell your IT stocks this week.", {A}),
    ("Accumulate on dips for the long term.", {A}),
    ("Add on dips near 24,000 with a stop loss at 23,700.", {A}),
    ("Exit your position in Paytm immediately.", {A}),
    ("Tata Motors is a strong buy at current levels.", {A}),
    ("Nifty target of 25,000 by December.", {A}),
    ("TCS: TP 4,500, SL 3,900.", {A}),
    ("We recommend buying gold ahead of the Fed meeting.", {A}),
    ("Our target price for Infosys is 2,100.", {A}),
    ("Investors should accumulate the stock on every decline.", {A}),
    # Reported third-party ratings are a warning (still the advice rule) — see test below.
    ("Analysts at Jefferies rate it a buy with a target price of 3,200.", {A}),
    ("Morgan Stanley upgraded the stock to overweight, the brokerage said.", {A}),
    # Fake urgency and scarcity.
    ("Act now: only today the premium plan is free.", {U}),
    ("Last chance to join our trading course!", {U}),
    ("Limited slots left for the options masterclass.", {U}),
    ("Don't miss out on this rally.", {U}),
    ("Get in before it's too late.", {U}),
    # Leftover placeholders.
    ("[Image] Nifty closed higher.", {H}),
    ("Visual: a bar chart of sector returns.", {H}),
    ("Dear {{first_name}}, markets were calm.", {H}),
    ("The index rose {change_pct} today.", {H}),
    ("TODO: add the closing level.", {H}),
    ("Lorem ipsum dolor sit amet.", {H}),
    ("INSERT CHART HERE.", {H}),
    ("Markets rose on <placeholder> news.", {H}),
    # Empty or truncated text.
    ("Markets rallied as investors cheered the", {T}),
    ("The index closed higher (led by banks.", {T}),
    ('He said "rates will stay high.', {T}),
]


def _ids(findings: list[Finding]) -> set[str]:
    return {finding.rule for finding in findings}


def _context(text: str, profile: str) -> CheckContext:
    return CheckContext(
        text=text, channel_type="linkedin", content_type="market_update", profile=profile, now=NOW
    )


def test_the_corpus_is_big_enough_and_covers_every_kind() -> None:
    assert len(CORPUS) >= 60
    kinds = {rule for _, expected in CORPUS for rule in expected}
    assert kinds == {P, A, U, H, T}
    assert sum(not expected for _, expected in CORPUS) >= 20


@pytest.mark.parametrize(("profile", "disclaimer"), [("in", IN_DISCLAIMER), ("us", US_DISCLAIMER)])
@pytest.mark.parametrize(("sentence", "expected"), CORPUS, ids=[s[:40] for s, _ in CORPUS])
def test_exactly_these_rules_fire(
    sentence: str, expected: set[str], profile: str, disclaimer: str
) -> None:
    ctx = _context(rules.with_disclaimer(sentence, disclaimer), profile)
    findings = [finding for rule in rules.TEXT_RULES for finding in rule(ctx)]
    assert _ids(findings) == expected, findings
    assert all(finding.end <= len(sentence) for finding in findings)
