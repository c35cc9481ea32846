"""What every compliance rule takes and gives: a check context in, findings out.

Compliance knows nothing of the database, publishing or HTTP: callers hand it the text, the
snapshot the text was written from, the organisation's settings and the recent texts to compare
against, and get back findings with the exact character span they flag.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    block = "block"  # prevents approval (an admin may override with a written reason)
    warn = "warn"


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: Severity
    message: str
    start: int  # character offsets into the text; start == end for "something is missing"
    end: int


@dataclass(frozen=True)
class SnapshotView:
    """A market snapshot as compliance sees it: `instruments` has the stored JSON shape,
    {symbol: {"name", "asset_class", "currency", "as_of", "last_trading_date",
              "fields": {field: {"value": float | None, "source": str | None,
                                 "flags": [...]}}}}."""

    id: int
    as_of: datetime
    instruments: dict[str, Any]


@dataclass(frozen=True)
class CheckContext:
    text: str
    channel_type: str  # x, linkedin, telegram, email, webhook, file
    content_type: str  # market_update, news_analysis, educational, earnings_preview, …
    profile: str  # "us" (SEC marketing rule / FINRA 2210 style) or "in" (SEBI style)
    now: datetime
    snapshot: SnapshotView | None = None
    registered_adviser: bool = False
    disclaimer: str = ""
    extra_banned_phrases: tuple[str, ...] = ()
    # Revisions approved, scheduled or published for the same channel type in the last N days.
    recent_texts: tuple[str, ...] = ()
    max_length: int | None = None
    simulated_allowed: bool = True
    extra: dict[str, Any] = field(default_factory=dict)


Rule = Callable[[CheckContext], list[Finding]]
