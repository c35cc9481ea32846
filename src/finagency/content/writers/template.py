"""The template writer: deterministic, offline prose from a snapshot (the embedded default).

Every figure it writes is copied from the snapshot, formatted the way the fact check reads it
back (prices with two decimals, Indian digit grouping for rupee amounts, changes in percent with
two decimals). Fields flagged unverified, suspect or stale are never written: the instrument is
reported as unavailable instead. Variation (verbs, order of phrases) is chosen by a seeded hash,
so the same request always gives the same text. Each content type has its own versioned
template in `templates/`; the brief's audience and tone shape them all through `templates/voice.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from finagency.content.renderings import Draft
from finagency.content.writers import Brief, WriterError, Written
from finagency.content.writers.templates import (
    breaking_alert,
    earnings_preview,
    educational,
    news_analysis,
    sector_report,
)
from finagency.content.writers.templates import market_update as _market_update
from finagency.content.writers.templates import voice as voices
from finagency.content.writers.templates.common import (
    SIMULATED_MARK,
    UNUSABLE,
    WRITER,
    format_amount,
    indian_grouping,
    provenance,
)
from finagency.content.writers.templates.market_update import market_update

__all__ = [
    "SIMULATED_MARK",
    "TEMPLATES",
    "TEMPLATE_VERSION",
    "UNUSABLE",
    "WRITER",
    "TemplateWriter",
    "format_amount",
    "indian_grouping",
    "market_update",
]

TEMPLATE_VERSION = _market_update.TEMPLATE_VERSION  # kept for callers written before the others
_MODULES: dict[str, ModuleType] = {
    "market_update": _market_update,
    "news_analysis": news_analysis,
    "educational": educational,
    "earnings_preview": earnings_preview,
    "sector_report": sector_report,
    "breaking_alert": breaking_alert,
}
# content type -> (template version, write)
TEMPLATES: dict[str, tuple[str, Callable[[Brief], Draft]]] = {
    content_type: (module.TEMPLATE_VERSION, module.write)
    for content_type, module in _MODULES.items()
}


class TemplateWriter:
    name = WRITER

    def write(self, brief: Brief) -> Written:
        if brief.type not in TEMPLATES:
            known = ", ".join(TEMPLATES)
            raise WriterError(f"the template writer cannot write {brief.type!r}; known: {known}")
        voices.of(brief)  # an unknown audience or tone fails before any type's own checks
        version, write = TEMPLATES[brief.type]
        return Written(draft=write(brief), provenance=provenance(brief.snapshot, version))
