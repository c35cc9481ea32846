"""breaking_alert: the idea's headline, attributed, and the latest move; short and factual, with
no urgency words (wire banners such as "BREAKING:" are dropped). The longest version that fits
one X post with the disclaimer is chosen; when none fits (a long disclaimer), the full one. A
professional reader gets the move before the news."""

from __future__ import annotations

from finagency.compliance.rules import x_length
from finagency.content.renderings import X_LIMIT, Draft
from finagency.content.writers import Brief
from finagency.content.writers.templates import news, phrases
from finagency.content.writers.templates import voice as voices
from finagency.content.writers.templates.common import (
    assemble,
    name_of,
    pick,
    present,
    quote_data,
)

TEMPLATE_VERSION = "breaking_alert/2"
SIMULATED_NOTE = "Simulated figures, not exchange data."


def write(brief: Brief) -> Draft:
    idea = news.require_idea(brief.idea, "breaking_alert")
    snapshot, seed, voice = brief.snapshot, brief.seed, voices.of(brief)
    symbol = present(snapshot, brief.symbols, idea.symbols)[0]
    entry = snapshot.instruments[symbol]
    name = name_of(symbol, entry)
    story = news.news(idea, snapshot, seed, [name], most=1)
    move = phrases.move(symbol, entry, seed, voice)
    short = phrases.short_move(symbol, entry, seed, voice)
    titles = (pick((f"Market alert: {name}", f"News alert: {name}"), seed), f"Alert: {name}")
    mention = news.brief_mention(idea, snapshot, name)
    versions = [
        (titles[0], [story.text, move], story.quoted),
        (titles[0], [story.text, short], story.quoted),
        (titles[1], [story.text, short], story.quoted),
        (titles[1], [mention, short], ()),
    ]
    drafts = [
        assemble(
            brief,
            TEMPLATE_VERSION,
            title,
            voices.shaped(
                voice,
                "breaking_alert",
                paragraphs[::-1] if voice.professional else paragraphs,
                seed,
            ),
            [symbol],
            simulated_note=SIMULATED_NOTE,
            idea_id=idea.id,
            headlines=list(quoted),
            instruments=[quote_data(symbol, entry)],
        )
        for title, paragraphs, quoted in versions
    ]
    fitting = (draft for draft in drafts if x_length(draft.plain_text) <= X_LIMIT)
    # Nothing fits (a long disclaimer): it becomes a thread anyway, so keep the full version.
    return next(fitting, drafts[0])
