"""A draft's text with each compliance finding marked in place, escaped safely.

Every piece of the text goes through markupsafe.escape; only the <mark> tags are ours. Each
finding is numbered by its place in the findings list: its marks point at that list entry
(aria-describedby), which says the rule and the message, so that a screen reader announces
them too. Overlapping findings split the text where any of them starts or ends; a finding of
something missing (start == end) is an empty marker at its place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from markupsafe import Markup, escape

SEVERITY_ORDER = {"warn": 1, "block": 2}


@dataclass(frozen=True)
class Mark:
    number: int  # 1-based place in the findings list
    rule: str
    severity: str
    message: str
    start: int
    end: int

    @property
    def label(self) -> str:
        return f"{self.rule}: {self.message}"


def marks_of(findings: Sequence[object], text_length: int) -> list[Mark]:
    """Findings (rows with rule, severity, message, start, end) as marks inside the text."""
    marks = []
    for number, finding in enumerate(findings, start=1):
        start = min(max(int(getattr(finding, "start", 0)), 0), text_length)
        end = min(max(int(getattr(finding, "end", 0)), start), text_length)
        marks.append(
            Mark(
                number,
                str(getattr(finding, "rule", "")),
                str(getattr(finding, "severity", "")),
                str(getattr(finding, "message", "")),
                start,
                end,
            )
        )
    return marks


def _open_tag(covering: list[Mark], first_of: set[int]) -> Markup:
    worst = max(covering, key=lambda m: SEVERITY_ORDER.get(m.severity, 0))
    described_by = " ".join(f"finding-{m.number}" for m in covering)
    title = "; ".join(m.label for m in covering)
    # The first piece of each finding is where the findings list links to.
    anchor = next((m for m in covering if m.number in first_of), None)
    id_attribute = Markup(' id="mark-{}"').format(anchor.number) if anchor else Markup("")
    for mark in covering:
        first_of.discard(mark.number)
    return Markup('<mark class="finding finding-{}"{} aria-describedby="{}" title="{}">').format(
        worst.severity, id_attribute, described_by, title
    )


def _point(mark: Mark) -> Markup:
    return Markup(
        '<mark class="finding finding-point finding-{}" id="mark-{}" aria-describedby="finding-{}"'
        ' title="{}"><span class="visually-hidden">(missing here)</span></mark>'
    ).format(mark.severity, mark.number, mark.number, mark.label)


def highlighted(text: str, marks: Sequence[Mark]) -> Markup:
    spans = [m for m in marks if m.end > m.start]
    points = [m for m in marks if m.end == m.start]
    boundaries = sorted({0, len(text)} | {m.start for m in marks} | {m.end for m in spans})
    first_of = {m.number for m in spans}
    pieces: list[Markup] = []
    for start, end in pairwise(boundaries):
        pieces.extend(_point(m) for m in points if m.start == start)
        covering = [m for m in spans if m.start <= start and end <= m.end]
        piece = escape(text[start:end])
        if covering:
            piece = _open_tag(covering, first_of) + piece + Markup("</mark>")
        pieces.append(piece)
    pieces.extend(_point(m) for m in points if m.start == len(text))
    return Markup("").join(pieces)
