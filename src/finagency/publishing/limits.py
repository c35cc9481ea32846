"""Rate budgets per channel: posts per hour, per day, and a minimum spacing between posts.

Defaults per channel type come from FINAGENCY_PUBLISH_LIMITS ("linkedin:2/h,5/d;x:5/h,20/d;
telegram:10/h,50/d;…", an `Ns` part sets the spacing in seconds); a channel may override any of
them. Over budget means deferred to when the budget allows, never dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from finagency.publishing.models import CHANNEL_TYPES

_PART = re.compile(r"^(\d+)/(h|d)$|^(\d+(?:\.\d+)?)s$")
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Budget:
    per_hour: int | None = None
    per_day: int | None = None
    min_spacing_seconds: float = 0.0

    def override(self, limits: dict[str, Any]) -> Budget:
        known = {
            k: v for k, v in limits.items() if k in {"per_hour", "per_day", "min_spacing_seconds"}
        }
        return replace(self, **known)


def parse_limits(text: str) -> dict[str, Budget]:
    """ "type:N/h,N/d,Ns;…" → {type: Budget}; a ValueError names what is wrong."""
    budgets: dict[str, Budget] = {}
    for entry in filter(None, (part.strip() for part in text.split(";"))):
        channel_type, _, spec = entry.partition(":")
        channel_type = channel_type.strip()
        if channel_type not in CHANNEL_TYPES:
            raise ValueError(f"unknown channel type {channel_type!r} in {entry!r}")
        values: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in spec.split(","))):
            match = _PART.match(part)
            if match is None:
                raise ValueError(f"{part!r} in {entry!r}: expected N/h, N/d or Ns")
            if match.group(3) is not None:
                values["min_spacing_seconds"] = float(match.group(3))
            else:
                key = "per_hour" if match.group(2) == "h" else "per_day"
                if int(match.group(1)) < 1:
                    raise ValueError(f"{part!r} in {entry!r}: a budget allows at least 1 post")
                values[key] = int(match.group(1))
        budgets[channel_type] = Budget(**values)
    return budgets


@dataclass(frozen=True)
class Usage:
    """What a channel has used: the start times of its posts in the last day (sent, sending or
    claimed), newest last."""

    starts: list[datetime]


def next_allowed(budget: Budget, usage: Usage, now: datetime) -> datetime:
    """The earliest moment at or after `now` when one more post fits the budget."""
    starts = sorted(usage.starts)
    allowed = now
    while True:  # each rule may push the moment later; stop when none does
        candidate = allowed
        if starts and budget.min_spacing_seconds:
            spaced = starts[-1] + timedelta(seconds=budget.min_spacing_seconds)
            candidate = max(candidate, spaced)
        for limit, window in ((budget.per_hour, HOUR), (budget.per_day, DAY)):
            if limit is None:
                continue
            inside = [start for start in starts if start > candidate - window]
            if len(inside) >= limit:
                # Wait until enough of them have left the window.
                candidate = max(candidate, inside[len(inside) - limit] + window)
        if candidate == allowed:
            return allowed
        allowed = candidate
