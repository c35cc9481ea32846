"""Compliance profiles: which rules run and which disclaimer is required.

`us` follows the SEC marketing rule and FINRA Rule 2210 (no promissory or exaggerated claims, no
projections of performance, fair and balanced with risk disclosure); `in` follows SEBI's rules for
research analysts, investment advisers and finfluencers (no assured returns, no buy/sell calls or
targets from unregistered persons, the standard market-risk statement). Both run every rule; they
differ in the required disclaimer, which the organisation's settings may replace.

The fact check and freshness rules are imported when a profile is first used; while their modules
are missing (they are written separately) the profiles run without them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from typing import cast

from finagency.compliance import rules, similarity
from finagency.compliance.findings import Rule

# Short enough to sit in the last post of an X thread (X counts at most 280 a post).
US_DISCLAIMER = (
    "Not investment advice. Past performance does not guarantee future results. Investing "
    "involves risk, including loss of principal."
)
IN_DISCLAIMER = (
    "Not investment advice; we are not SEBI-registered investment advisers or research analysts. "
    "Investments in securities market are subject to market risks. Read all the related "
    "documents carefully before investing."
)


@dataclass(frozen=True)
class Profile:
    name: str
    title: str
    disclaimer: str
    rules: tuple[Rule, ...]


_TITLES_AND_DISCLAIMERS = {
    "us": ("United States: SEC marketing rule and FINRA Rule 2210", US_DISCLAIMER),
    "in": ("India: SEBI (research analysts, investment advisers, finfluencers)", IN_DISCLAIMER),
}
PROFILE_NAMES = tuple(_TITLES_AND_DISCLAIMERS)


def _optional_rule(module: str, name: str) -> Rule | None:
    """A rule from a module of this package, or None while that module does not exist yet."""
    qualified = f"finagency.compliance.{module}"
    try:
        found = importlib.import_module(qualified)
    except ModuleNotFoundError as error:
        if error.name != qualified:
            raise
        return None
    return cast(Rule, getattr(found, name))


def _rules() -> tuple[Rule, ...]:
    extra = (_optional_rule("factcheck", "fact_check"), _optional_rule("freshness", "freshness"))
    return (
        *rules.TEXT_RULES,
        *(rule for rule in extra if rule is not None),
        similarity.near_duplicate,
    )


@cache
def get_profile(name: str) -> Profile:
    if name not in _TITLES_AND_DISCLAIMERS:
        known = ", ".join(PROFILE_NAMES)
        raise ValueError(f"Unknown compliance profile {name!r}; known profiles: {known}")
    title, disclaimer = _TITLES_AND_DISCLAIMERS[name]
    return Profile(name=name, title=title, disclaimer=disclaimer, rules=_rules())


def default_disclaimer(name: str) -> str:
    """The profile's default disclaimer; an unknown profile has none."""
    entry = _TITLES_AND_DISCLAIMERS.get(name)
    return entry[1] if entry else ""
