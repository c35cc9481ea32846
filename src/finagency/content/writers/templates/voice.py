"""The voice of a template draft: who it is for (audience) and how it sounds (tone).

- `retail` (default): plain words, and where a market term first appears a short plain-language
  gloss, once per draft. `professional`: terser, no glosses, the figures first.
- `neutral` (default): the house voice. `formal`: no contractions, no second person, complete
  sentences. `conversational`: a short friendly opener and second person where natural, still
  factual: no urgency, no hype.

Glosses and openers hold no figure (every number must trace to the snapshot) and no advice,
promise or urgency wording; the compliance rules read them like any other sentence.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from finagency.content.writers import AUDIENCES, TONES, Brief, WriterError
from finagency.content.writers.templates.common import pick


@dataclass(frozen=True)
class Voice:
    audience: str = AUDIENCES[0]
    tone: str = TONES[0]

    @property
    def retail(self) -> bool:
        return self.audience == "retail"

    @property
    def professional(self) -> bool:
        return self.audience == "professional"

    @property
    def formal(self) -> bool:
        return self.tone == "formal"

    @property
    def conversational(self) -> bool:
        return self.tone == "conversational"


DEFAULT = Voice()


def of(brief: Brief) -> Voice:
    """The brief's voice; an audience or tone this writer does not know is an error naming the
    known ones."""
    if brief.audience not in AUDIENCES:
        known = ", ".join(AUDIENCES)
        raise WriterError(f"unknown audience {brief.audience!r}; known audiences: {known}")
    if brief.tone not in TONES:
        raise WriterError(f"unknown tone {brief.tone!r}; known tones: {', '.join(TONES)}")
    return Voice(brief.audience, brief.tone)


# ---------------------------------------------------------------- formal wording

# Contractions and the second person; a possessive ("Apple's", "a day's move") is neither.
INFORMAL = re.compile(
    r"\w+n['’]t\b|\b(?:it|that|here|there|what|who|where|how|let|he|she)['’]s\b"
    r"|\b\w+['’](?:re|ve|ll|d|m)\b|\byou(?:r|rs|rself|rselves)?\b",
    re.IGNORECASE,
)


def is_formal(text: str) -> bool:
    return INFORMAL.search(text) is None


def choose(voice: Voice, options: Sequence[str], *keys: object) -> str:
    """A phrasing chosen by seed; a formal voice chooses only among the formal ones."""
    if voice.formal:
        formal = [option for option in options if is_formal(option)]
        options = formal or options  # a module's options always include a formal one (tested)
    return pick(options, *keys)


UP_VERBS = {"formal": ("rose", "advanced"), "other": ("rose", "gained", "advanced")}
DOWN_VERBS = {"formal": ("fell", "declined"), "other": ("fell", "slipped", "declined")}
FLAT_VERBS = {"formal": ("was unchanged",), "other": ("was unchanged", "held steady")}


def verbs(voice: Voice, way: int) -> tuple[str, ...]:
    """The verbs for a move up (way > 0), down (< 0) or none (0) in this voice."""
    table = UP_VERBS if way > 0 else DOWN_VERBS if way < 0 else FLAT_VERBS
    return table["formal" if voice.formal else "other"]


# ---------------------------------------------------------------- conversational openers

OPENERS: dict[str, tuple[str, ...]] = {
    "market_update": (
        "Here's your quick look at the markets.",
        "Here's a short market round-up for you.",
    ),
    "news_analysis": (
        "You may have seen this story; here's what the figures show.",
        "Here's the news, with the figures you'd want next to it.",
    ),
    "educational": (
        "Here's a short explainer for you.",
        "If you've ever wondered about this, here's a plain guide.",
    ),
    "earnings_preview": (
        "If you're following this company's results, here's where its stock stands.",
        "Here's the picture going into the results, if you're following them.",
    ),
    "sector_report": (
        "Here's how the group moved, in case you're following it.",
        "Here's your round-up of the sector.",
    ),
    "breaking_alert": ("Here's a quick one for you.", "A short update for you."),
}


# ---------------------------------------------------------------- retail glosses


@dataclass(frozen=True)
class Gloss:
    key: str
    term: re.Pattern[str]
    plain: str  # neutral and formal
    friendly: str  # conversational


GLOSSES = (
    Gloss(
        "previous_close",
        re.compile(r"\bprevious close\b", re.IGNORECASE),
        "The previous close is the last price of the prior trading session, the reference "
        "point for a day's change.",
        "In case the term is new to you, the previous close is the last price of the session "
        "before: it's the mark a day's move is measured from.",
    ),
    Gloss(
        "week52",
        re.compile(r"\b52-week (?:range|high|low)\b", re.IGNORECASE),
        "The 52-week high and low are the highest and lowest prices of roughly the past year.",
        "You can think of the 52-week high and low as the top and bottom of roughly the past "
        "year's prices.",
    ),
    Gloss(
        "eps",
        re.compile(r"\bearnings per share\b", re.IGNORECASE),
        "Earnings per share is a company's profit divided by the number of its shares.",
        "Earnings per share, in plain terms, is a company's profit divided by the number of "
        "its shares.",
    ),
    Gloss(
        "margin",
        re.compile(r"\bprofit margins?\b", re.IGNORECASE),
        "A profit margin is the share of sales that is left as profit.",
        "A profit margin, put simply, is the share of sales a company gets to keep as profit.",
    ),
)
# The end of a sentence: not a decimal point, not inside a quotation (“… 5.2%.” goes on).
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


def _after_sentence(paragraph: str, position: int, sentence: str, glosses: list[str]) -> str:
    """`sentence` after the one around `position` and after the glosses already placed there."""
    found = _SENTENCE_END.search(paragraph, position)
    end = found.end() if found else len(paragraph)
    placed = True
    while placed:
        placed = False
        for gloss in glosses:
            if paragraph.startswith(f" {gloss}", end):
                end, placed = end + 1 + len(gloss), True
    return f"{paragraph[:end]} {sentence}{paragraph[end:]}"


def glossed(voice: Voice, paragraphs: list[str], explained: Collection[str] = ()) -> list[str]:
    """For a retail reader, each term's gloss after the sentence where it first appears; a term
    the draft itself explains (an explainer on it) gets none."""
    if not voice.retail:
        return paragraphs
    result = list(paragraphs)
    placed: list[str] = []
    for gloss in GLOSSES:
        if gloss.key in explained:
            continue
        for index, paragraph in enumerate(result):
            match = gloss.term.search(paragraph)
            if match:
                sentence = gloss.friendly if voice.conversational else gloss.plain
                result[index] = _after_sentence(paragraph, match.end(), sentence, placed)
                placed.append(sentence)
                break
    return result


def shaped(
    voice: Voice,
    content_type: str,
    paragraphs: list[str],
    seed: int,
    explained: Collection[str] = (),
) -> list[str]:
    """The paragraphs in this voice: glossed for retail, with an opener when conversational."""
    result = glossed(voice, [paragraph for paragraph in paragraphs if paragraph], explained)
    if voice.conversational and result:
        opener = pick(OPENERS[content_type], seed, "opener")
        result[0] = f"{opener} {result[0]}"
    return result
