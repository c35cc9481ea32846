"""Near-duplicate detection: word shingles, a 64-bit SimHash to skip clearly different texts, and
the exact Jaccard similarity of the shingle sets for the rest.

A text is lower-cased and cut into word tokens (numbers such as 24,500.50 are one token); the
profile's disclaimer is removed first, because every post carries it and it would make all short
posts look alike. Each 3-word shingle is hashed to 64 bits with BLAKE2b; bit i of the SimHash is set
when most shingles have bit i set. A draft is a near duplicate of a recent text when at least
`THRESHOLD` (0.7) of their combined shingles are shared (Jaccard): one changed word or an added
sentence in a 60-word post stays above 0.85, while the same template filled with another day's
figures falls to about 0.55. SimHash distance grows as similarity falls (0.7 gives about 12 of 64
bits, unrelated texts about 32), so pairs more than `PREFILTER_DISTANCE` bits apart are skipped
without comparing sets. Texts under `MIN_TOKENS` words are not compared. Fingerprints are cached
by (text, disclaimer), so the recent texts compared against every draft are fingerprinted once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from hashlib import blake2b

import numpy as np

from finagency.compliance.findings import CheckContext, Finding, Severity
from finagency.compliance.rules import required_disclaimer

NEAR_DUPLICATE = "near_duplicate"
SEVERITY = Severity.block
SHINGLE_WORDS = 3
THRESHOLD = 0.7  # Jaccard similarity of the shingle sets at which a text is a near duplicate
PREFILTER_DISTANCE = 24  # SimHash bits; beyond this the texts are far below THRESHOLD
MIN_TOKENS = 8  # shorter texts say too little to call them copies of each other

_TOKEN = re.compile(r"\w+(?:[.,'’]\w+)*")


def _tokens(text: str, disclaimer: str) -> list[str]:
    tokens = _TOKEN.findall(text.casefold())
    if disclaimer:
        joined, removed = f" {' '.join(tokens)} ", " ".join(_TOKEN.findall(disclaimer.casefold()))
        if removed:
            tokens = joined.replace(f" {removed} ", " ").split()
    return tokens


@dataclass(frozen=True)
class Fingerprint:
    simhash: int
    shingles: frozenset[int]  # the 64-bit hashes of the text's shingles

    def similarity(self, other: Fingerprint) -> float:
        """Jaccard similarity of the two shingle sets."""
        common = len(self.shingles & other.shingles)
        return common / (len(self.shingles) + len(other.shingles) - common)


def _simhash(digests: bytes, count: int) -> int:
    bits = np.unpackbits(np.frombuffer(digests, dtype=np.uint8)).reshape(count, 64)
    majority = bits.sum(axis=0, dtype=np.int64) * 2 > count
    return int.from_bytes(np.packbits(majority).tobytes(), "big")


@lru_cache(maxsize=8192)
def fingerprint(text: str, disclaimer: str = "") -> Fingerprint | None:
    """The fingerprint of `text` without `disclaimer`; None when it has under MIN_TOKENS words."""
    tokens = _tokens(text, disclaimer)
    if len(tokens) < MIN_TOKENS:
        return None
    width = SHINGLE_WORDS
    shingles = {" ".join(tokens[i : i + width]) for i in range(len(tokens) - width + 1)}
    digests = b"".join(blake2b(s.encode(), digest_size=8).digest() for s in shingles)
    hashes = frozenset(int.from_bytes(digests[i : i + 8], "big") for i in range(0, len(digests), 8))
    return Fingerprint(_simhash(digests, len(shingles)), hashes)


def distance(first: int, second: int) -> int:
    return (first ^ second).bit_count()


def near_duplicate(ctx: CheckContext) -> list[Finding]:
    """Block a text that shares THRESHOLD or more of its shingles with a recent text."""
    if not ctx.recent_texts:
        return []
    disclaimer = required_disclaimer(ctx)
    own = fingerprint(ctx.text, disclaimer)
    if own is None:
        return []
    closest: tuple[float, int] | None = None
    for index, recent in enumerate(ctx.recent_texts):
        other = fingerprint(recent, disclaimer)
        if other is None or distance(own.simhash, other.simhash) > PREFILTER_DISTANCE:
            continue
        similar = own.similarity(other)
        if similar >= THRESHOLD and (closest is None or similar > closest[0]):
            closest = (similar, index)
    if closest is None:
        return []
    similar, index = closest
    message = (
        f"Near-duplicate of recent text #{index + 1}: {similar:.0%} of its word shingles are the "
        f"same (the limit is {THRESHOLD:.0%})"
    )
    return [Finding(NEAR_DUPLICATE, SEVERITY, message, 0, len(ctx.text))]
