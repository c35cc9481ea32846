"""What changed between two revisions of a draft, word by word, as escaped HTML.

Words (and the whitespace between them) are compared rather than characters, so an edit
reads as the editor made it: "will surely double" → "may rise" is one deletion and one
insertion, not a scatter of letters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

from markupsafe import Markup, escape

# A word, a run of spaces, a line break, or one punctuation mark: the units compared.
TOKEN = re.compile(r"\n|[^\S\n]+|\w+|[^\w\s]", re.UNICODE)


@dataclass(frozen=True)
class RevisionDiff:
    old_number: int
    new_number: int
    html: Markup
    inserted: int  # words added
    deleted: int  # words removed

    @property
    def unchanged(self) -> bool:
        return self.inserted == 0 and self.deleted == 0


def _words(tokens: list[str]) -> int:
    return sum(1 for token in tokens if not token.isspace())


def _segments(before: list[str], after: list[str]) -> list[tuple[bool, str, str]]:
    """(changed, old text, new text) runs; a change, a space, a change read as one change."""
    # autojunk off: a long draft's frequent words ("the") must still line up.
    matcher = SequenceMatcher(None, before, after, autojunk=False)
    segments: list[tuple[bool, str, str]] = []
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        old, new = "".join(before[a1:a2]), "".join(after[b1:b2])
        segments.append((op != "equal", old, new))
    merged: list[tuple[bool, str, str]] = []
    for index, (changed, old, new) in enumerate(segments):
        between_changes = (
            not changed
            and old.isspace()
            and "\n" not in old
            and 0 < index < len(segments) - 1
            and segments[index - 1][0]
            and segments[index + 1][0]
        )
        if (changed or between_changes) and merged and merged[-1][0]:
            _, old_before, new_before = merged[-1]
            merged[-1] = (True, old_before + old, new_before + new)
        else:
            merged.append((changed or between_changes, old, new))
    return merged


def diff(old: str, new: str, old_number: int, new_number: int) -> RevisionDiff:
    pieces: list[Markup] = []
    inserted = deleted = 0
    for changed, before, after in _segments(TOKEN.findall(old), TOKEN.findall(new)):
        if not changed:
            pieces.append(escape(before))
            continue
        if before:
            deleted += _words(TOKEN.findall(before))
            pieces.append(Markup("<del>{}</del>").format(before))  # format() escapes it
        if after:
            inserted += _words(TOKEN.findall(after))
            pieces.append(Markup("<ins>{}</ins>").format(after))
    return RevisionDiff(old_number, new_number, Markup("").join(pieces), inserted, deleted)
