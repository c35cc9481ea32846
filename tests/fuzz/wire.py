"""Hypothesis strategies for what a remote party may send: any bytes, any JSON, and documents of
the right shape with a few parts gone wrong."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

# Any JSON document, NaN and Infinity included (json.dumps writes them, json.loads reads them).
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

plausible_prices = st.floats(min_value=0.01, max_value=1e6)
# Unix seconds of this century.
plausible_stamps = st.integers(min_value=946_684_800, max_value=1_900_000_000)
# What a broken provider puts where a figure belongs: out of range, non-finite, not a number.
bad_figures: st.SearchStrategy[Any] = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, -0.0, 1e300, -1e300, 2**63, 2**64, 10**20, float("nan")]),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.none(),
    st.booleans(),
    st.text(max_size=6),
)
hostile_values = st.one_of(bad_figures, json_values)

# Statuses that providers answer with, good and bad, mostly 200.
statuses = st.one_of(st.just(200), st.just(200), st.sampled_from([204, 400, 401, 404, 429, 503]))


def body_of(document: Any) -> bytes:
    return json.dumps(document).encode()


# A body that is not (or not only) JSON: text, HTML, truncated or binary.
raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    json_values.map(body_of),
    json_values.map(lambda document: body_of(document)[:-1]),
)


def _mutate(draw: st.DrawFn, node: Any) -> Any:
    """`node` with one part replaced by a hostile value or removed, somewhere below it."""
    if isinstance(node, dict) and node:
        key = draw(st.sampled_from(sorted(node)))
        action = draw(st.sampled_from(["descend", "descend", "replace", "remove"]))
        changed = dict(node)
        if action == "remove":
            del changed[key]
        else:
            changed[key] = _mutate(draw, node[key]) if action == "descend" else draw(hostile_values)
        return changed
    if isinstance(node, list) and node:
        index = draw(st.integers(min_value=0, max_value=len(node) - 1))
        changed_list = list(node)
        changed_list[index] = _mutate(draw, node[index])
        return changed_list
    return draw(hostile_values)


@st.composite
def mutated(draw: st.DrawFn, documents: st.SearchStrategy[Any], most: int = 3) -> Any:
    """A well-formed document from `documents` with up to `most` parts gone wrong."""
    document = draw(documents)
    for _ in range(draw(st.integers(min_value=0, max_value=most))):
        document = _mutate(draw, document)
    return document
