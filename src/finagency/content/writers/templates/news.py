"""The news behind an idea, attributed to its sources by name.

Headlines are outside text: one is quoted only when the sentence quoting it passes the same
rules as the draft (no promissory, advice, urgency or placeholder wording, every figure traced
to the snapshot, no date — a headline's date is rarely the snapshot's trading date). Otherwise
the news is reported without the quote, still naming its sources.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from finagency.compliance import factcheck, rules
from finagency.compliance.findings import CheckContext, SnapshotView
from finagency.compliance.numbers import NumberKind, extract_numbers
from finagency.content.writers import IdeaBrief, NewsHeadline, WriterError
from finagency.content.writers.templates.common import joined, pick

MAX_HEADLINE = 160
# Wire-service banners are urgency, not news: the alert is factual without them.
_BANNER = re.compile(
    r"^\s*(?:breaking(?:\s+news)?|just\s+in|live|update[d]?|alert|exclusive|flash)\s*[:|\-–—]\s*",
    re.IGNORECASE,
)
_SPACE = re.compile(r"\s+")
_EVENTS = {
    "central_bank": "a central bank decision",
    "earnings": "company results",
    "macro": "economic data",
    "sector": "sector developments",
    "breaking": "a market-moving event",
}
_TEXT_RULES = (
    rules.promissory,
    rules.advice,
    rules.urgency,
    rules.placeholders,
    rules.empty_or_truncated,
)


@dataclass(frozen=True)
class NewsSentence:
    text: str
    sources: tuple[str, ...]
    quoted: tuple[str, ...]  # the headlines quoted verbatim (after removing a banner)


def clean_headline(title: str) -> str:
    text = _BANNER.sub("", _SPACE.sub(" ", title).strip())
    return text.rstrip(" .")


def passes(sentence: str, snapshot: SnapshotView) -> bool:
    """Whether a sentence built around outside text may stand in a draft from this snapshot."""
    ctx = CheckContext(
        text=sentence,
        channel_type="file",
        content_type="news_analysis",
        profile="us",
        now=snapshot.as_of,
        snapshot=snapshot,
    )
    if any(rule(ctx) for rule in _TEXT_RULES) or factcheck.fact_check(ctx):
        return False
    dated = (NumberKind.date, NumberKind.year)
    return not any(figure.kind in dated for figure in extract_numbers(sentence))


def require_idea(idea: IdeaBrief | None, content_type: str) -> IdeaBrief:
    if idea is None:
        raise WriterError(f"a {content_type} is written from a research idea; none was given")
    if not idea.headlines:
        raise WriterError(f"research idea {idea.id} has no news headline to report")
    return idea


def _quote(headline: NewsHeadline, seed: int, first: bool) -> str:
    text, source = clean_headline(headline.title), headline.source.strip()
    phrasings: tuple[str, ...]
    if first:
        phrasings = (
            f"{source} reported “{text}”.",
            f"A report from {source} carried the headline “{text}”.",
            f"In the news from {source}: “{text}”.",
        )
    else:
        phrasings = (
            f"{source} also reported “{text}”.",
            f"Separately, {source} carried the headline “{text}”.",
        )
    return pick(phrasings, seed, source, "quote")


def _quotable(headline: NewsHeadline, snapshot: SnapshotView, seed: int) -> str | None:
    text = clean_headline(headline.title)
    if not text or not headline.source.strip() or len(text) > MAX_HEADLINE:
        return None
    sentence = _quote(headline, seed, first=True)
    return sentence if passes(sentence, snapshot) else None


def _unquoted(idea: IdeaBrief, names: list[str], snapshot: SnapshotView) -> NewsSentence:
    """The news without its headline: the sources by name and what kind of news it was."""
    sources = tuple(dict.fromkeys(h.source.strip() for h in idea.headlines if h.source.strip()))
    named = [source for source in sources if passes(f"{source} reported.", snapshot)]
    about = _EVENTS.get(idea.event or "", "news")
    who = joined(named[:3]) if named else "News reports"
    verb = "reported on" if named else "covered"
    concerning = f", concerning {joined(names)}" if names else ""
    return NewsSentence(f"{who} {verb} {about}{concerning}.", tuple(named[:3]), ())


def news(
    idea: IdeaBrief, snapshot: SnapshotView, seed: int, names: list[str], most: int = 2
) -> NewsSentence:
    """One or two sentences quoting the idea's headlines (from different sources where there
    are several), or the news without a quote when no headline passes."""
    sentences: list[str] = []
    sources: list[str] = []
    quoted: list[str] = []
    for headline in idea.headlines:
        if len(sentences) >= most or headline.source.strip() in sources:
            continue
        sentence = _quotable(headline, snapshot, seed)
        if sentence is None:
            continue
        if sentences:
            sentence = _quote(headline, seed, first=False)
            if not passes(sentence, snapshot):
                continue
        sentences.append(sentence)
        sources.append(headline.source.strip())
        quoted.append(clean_headline(headline.title))
    if not sentences:
        return _unquoted(idea, names, snapshot)
    return NewsSentence(" ".join(sentences), tuple(sources), tuple(quoted))


def brief_mention(idea: IdeaBrief, snapshot: SnapshotView, name: str) -> str:
    """The shortest attribution, for a post that must fit with its disclaimer."""
    for headline in idea.headlines:
        source = headline.source.strip()
        if source and passes(f"{source} reported news on {name}.", snapshot):
            return f"{source} reported news on {name}."
    return f"News reports concern {name}."
