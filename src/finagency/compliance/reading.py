"""Reading a text in sentences and clauses, once, for the language rules of `rules.py`.

How a phrase is read in its sentence (promissory, advice and urgency rules):
- Sentences end at `.`, `!` or `?` followed by a space or the end (not after an abbreviation such as
  "Rs." "e.g." "vs." "No." and never inside a number such as 1.5) and at every line break.
- Clauses end where sentences end, at `,` `;` `:` `(` `)` dashes, and at the words and, but,
  however, although, though, whereas, yet, while, because, so.
- A match is *negated*, a warning to investors rather than a promise, when
  - a negation word (not, no, never, nothing, none, neither, nor, nobody, without, cannot, or a
    word ending in n't) stands before it in the same clause with at most 5 words in between and
    is not a non-negating idiom ("not only", "no doubt", "don't miss", "can't go wrong", "No. 1" …):
    "returns are not guaranteed", "no investment is risk-free", "there is no such thing as a
    sure-shot trade", "past performance does not guarantee future results";
  - or a caution frame stands before it in the clause within 8 words ("beware of", "SEBI warns
    against", "anyone promising", "so-called", "claims of" …);
  - or a caution frame follows it in the clause within 6 words ("… are a myth", "… don't exist",
    "… is a red flag", "… too good to be true").
  A negation inside the phrase itself ("can't lose", "no risk") does not count.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from functools import cached_property, lru_cache

_CI = re.IGNORECASE
NEGATION_WINDOW = 5  # words allowed between a negation word and the phrase it negates
CAUTION_BEFORE_WINDOW = 8
CAUTION_AFTER_WINDOW = 6

_SENTENCE_END = re.compile(r"[.!?]+(?=[\s\"'’”)\]]|$)|\n")
_ABBREVIATION = re.compile(
    r"(?:^|[\s(])(?:rs|vs|no|nos|mr|mrs|ms|dr|inc|ltd|co|corp|st|approx|est|jan|feb|mar|apr|jun|"
    r"jul|aug|sep|sept|oct|nov|dec|e\.g|i\.e|u\.s|u\.k|etc|fig|ref)$",
    _CI,
)
_CLAUSE_BREAK = re.compile(
    r"[,;:()\[\]]|\s[-–—]+\s|[–—]"
    r"|\b(?:and|but|however|although|though|whereas|yet|while|because|so)\b(?![-'’])",
    _CI,
)
_WORD = re.compile(r"\w+")
_NEGATION = re.compile(
    r"\b(?:not|no|never|nothing|none|neither|nor|nobody|without|cannot)\b"
    r"|\b\w+n['’]t\b|\b(?:dont|doesnt|didnt|isnt|arent|wasnt|werent|cant|wont|shouldnt)\b",
    _CI,
)
# Negation words that, in these idioms, do not negate what follows.
_NON_NEGATING = re.compile(
    r"(?:not|\w*n['’]?t|cannot)\s+(?:only|just|merely|miss|wait|hesitate|delay|lose|fail|"
    r"go\s+wrong|last)\b"
    r"|no\s+(?:doubt|wonder|matter|brainer|questions?\s+asked)\b|no-brainer|no\.?\s*\d"
    r"|nothing\s+but\b|never\s+(?:before|been|better)\b|none\s+other\b|without\s+(?:a\s+)?doubt\b",
    _CI,
)
_CAUTION_BEFORE = re.compile(
    r"\b(?:beware|be\s+(?:wary|careful|cautious|sceptical|skeptical)|watch\s+out\s+for"
    r"|stay\s+away\s+from|avoid\s+(?:any(?:one)?|all|so-called)|warn(?:s|ed|ing)?|cautions?"
    r"|cautioned|red\s+flags?|scams?|frauds?|fraudulent|myths?|so-called|fake|misleading|illegal"
    r"|(?:anyone|someone|those|people|advisers?|advisors?|tipsters?|finfluencers?|schemes?|apps?)"
    r"\s+(?:who\s+|that\s+)?(?:promis|offer|claim|guarantee|sell|push|tout)\w*"
    r"|claims?\s+(?:of|that)|too\s+good\s+to\s+be\s+true)\b",
    _CI,
)
_CAUTION_AFTER = re.compile(
    r"\b(?:is|are|was|were)\s+(?:(?:a|an|just|only|always|often|usually|mostly|simply|"
    r"typically)\s+)*(?:myths?|red\s+flags?|warning\s+signs?|scams?|frauds?|fraudulent|illegal|"
    r"impossible|unrealistic|fiction|fantasy|misleading|fake|lies|lie|prohibited|banned|"
    r"not\s+(?:real|possible|allowed|permitted))\b"
    r"|\b(?:do|does|did)(?:n['’]?t|\s+not)\s+exist\b|\btoo\s+good\s+to\s+be\s+true\b",
    _CI,
)


class Reading:
    """Sentence and clause boundaries, words, negations and cautions of one text, found once."""

    def __init__(self, text: str) -> None:
        self.text = text
        sentence_breaks = self._sentence_breaks()
        self.sentence_starts, self.sentence_ends = self._segments(sentence_breaks)
        clause_breaks = sorted(sentence_breaks + [m.span() for m in _CLAUSE_BREAK.finditer(text)])
        self.clause_starts, self.clause_ends = self._segments(clause_breaks)

    @cached_property
    def word_starts(self) -> list[int]:
        return [m.start() for m in _WORD.finditer(self.text)]

    @cached_property
    def negations(self) -> list[int]:
        text = self.text
        return [
            m.end() for m in _NEGATION.finditer(text) if not _NON_NEGATING.match(text, m.start())
        ]

    @cached_property
    def cautions_before(self) -> list[int]:
        return [m.start() for m in _CAUTION_BEFORE.finditer(self.text)]

    @cached_property
    def cautions_after(self) -> list[int]:
        return [m.start() for m in _CAUTION_AFTER.finditer(self.text)]

    def _sentence_breaks(self) -> list[tuple[int, int]]:
        breaks = []
        for match in _SENTENCE_END.finditer(self.text):
            start = match.start()
            if match.group() == "." and _ABBREVIATION.search(self.text, max(0, start - 8), start):
                continue
            breaks.append(match.span())
        return breaks

    def _segments(self, breaks: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
        starts, ends, position = [0], [], 0
        for start, end in breaks:
            if start < position:  # overlapping separators: merge them
                position = max(position, end)
                starts[-1] = position
                continue
            ends.append(start)
            starts.append(end)
            position = end
        ends.append(len(self.text))
        return starts, ends

    @staticmethod
    def _locate(starts: list[int], ends: list[int], position: int) -> tuple[int, int]:
        index = max(0, bisect_right(starts, position) - 1)
        return starts[index], ends[index]

    def clause(self, position: int) -> tuple[int, int]:
        return self._locate(self.clause_starts, self.clause_ends, position)

    def sentence(self, position: int) -> tuple[int, int]:
        return self._locate(self.sentence_starts, self.sentence_ends, position)

    def words_between(self, start: int, end: int) -> int:
        return max(0, bisect_left(self.word_starts, end) - bisect_left(self.word_starts, start))

    def negated(self, start: int, end: int) -> bool:
        """Whether the phrase at [start, end) is negated or framed as a caution (module doc)."""
        clause_start, clause_end = self.clause(start)
        index = bisect_right(self.negations, start) - 1
        if index >= 0:
            negation_end = self.negations[index]
            if negation_end > clause_start and (
                self.words_between(negation_end, start) <= NEGATION_WINDOW
            ):
                return True
        index = bisect_left(self.cautions_before, start) - 1
        if index >= 0:
            caution = self.cautions_before[index]
            if caution >= clause_start and self.words_between(caution, start) <= (
                CAUTION_BEFORE_WINDOW + 1
            ):
                return True
        index = bisect_left(self.cautions_after, end)
        if index < len(self.cautions_after):
            caution = self.cautions_after[index]
            if caution < clause_end and self.words_between(end, caution) <= CAUTION_AFTER_WINDOW:
                return True
        return False


@lru_cache(maxsize=64)
def reading(text: str) -> Reading:
    return Reading(text)
