"""educational: a vetted explainer chosen by the topic's keywords, with a worked example from
a requested instrument's snapshot figures (or the snapshot's first suitable one)."""

from __future__ import annotations

import re
from functools import cache

from finagency.content.renderings import Draft
from finagency.content.writers import Brief, WriterError
from finagency.content.writers.templates import examples
from finagency.content.writers.templates import voice as voices
from finagency.content.writers.templates.common import assemble, present
from finagency.content.writers.templates.explainers import LIBRARY, Explainer

TEMPLATE_VERSION = "educational/2"
NO_EXAMPLE = (
    "A worked example needs verified figures, and none of the requested instruments has the "
    "ones this topic uses in the current snapshot."
)
_SEPARATORS = re.compile(r"[\s\-_/]+")
_RUPEE = re.compile(r"\b(?:rupee|sip|systematic)", re.IGNORECASE)
_DOLLAR = re.compile(r"\bdollar", re.IGNORECASE)


def _normal(text: str) -> str:
    return _SEPARATORS.sub(" ", text.casefold()).strip()


@cache
def _pattern(keyword: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(_normal(keyword)))


def match(topic: str) -> Explainer:
    """The explainer whose keywords cover most of the topic (longer keywords weigh more); an
    unknown topic is an error naming the topics known."""
    normal = _normal(topic)
    scored = [
        (sum(len(k) for k in e.keywords if _pattern(k).search(normal)), -i, e)
        for i, e in enumerate(LIBRARY)
    ]
    score, _, best = max(scored, key=lambda item: item[:2])
    if score == 0:
        known = "; ".join(explainer.topic for explainer in LIBRARY)
        raise WriterError(f"no explainer matches the topic {topic!r}; known topics: {known}")
    return best


def _kind(topic: str, currency: str | None) -> str:
    """Rupee-cost or dollar-cost averaging: as the topic says, else by the example's currency."""
    if _RUPEE.search(topic) or (not _DOLLAR.search(topic) and currency == "INR"):
        return "rupee-cost"
    return "dollar-cost"


def write(brief: Brief) -> Draft:
    if not brief.topic or not brief.topic.strip():
        raise WriterError("an educational piece needs a topic; none was given")
    explainer = match(brief.topic)
    snapshot, seed, voice = brief.snapshot, brief.seed, voices.of(brief)
    asked = list(brief.symbols) or list(brief.idea.symbols if brief.idea else ())
    symbols = present(snapshot, asked) if asked else list(snapshot.instruments)
    candidates = [(symbol, snapshot.instruments[symbol]) for symbol in symbols]
    example = examples.BUILDERS[explainer.key](candidates, seed, voice)
    used = example[1] if example else []
    currency = snapshot.instruments[used[0]].get("currency") if used else None
    kind = _kind(brief.topic, currency)

    def fill(text: str) -> str:
        return text.replace("{Kind}", kind.capitalize()).replace("{kind}", kind)

    intro = fill(voices.choose(voice, explainer.intros, seed, "intro"))
    body = [fill(paragraph) for paragraph in explainer.body]
    worked = example[0] if example else NO_EXAMPLE
    # A professional reader gets the figures straight after the definition.
    ordered = [intro, worked, *body] if voice.professional else [intro, *body, worked]
    paragraphs = voices.shaped(voice, "educational", ordered, seed, explainer.explains)
    return assemble(
        brief,
        TEMPLATE_VERSION,
        fill(voices.choose(voice, explainer.titles, seed, "title")),
        paragraphs,
        used,
        explainer=explainer.key,
        topic=brief.topic,
    )
