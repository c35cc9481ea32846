"""news_analysis: the news, attributed; how the idea's symbols moved; where they stand in
their 52-week range (for a professional reader, the moves first). No claim that the news
caused the move: the snapshot cannot show it."""

from __future__ import annotations

from finagency.content.renderings import Draft
from finagency.content.writers import Brief
from finagency.content.writers.templates import news, phrases
from finagency.content.writers.templates import voice as voices
from finagency.content.writers.templates.common import (
    assemble,
    day_text,
    joined,
    name_of,
    pick,
    present,
    quote_data,
    trading_day,
)

TEMPLATE_VERSION = "news_analysis/2"
MAX_SYMBOLS = 4  # beyond a handful the piece stops being about one story
_CAVEAT = (
    "A single session's move has many causes, and these figures do not show that this news "
    "drove it.",
    "Prices react to many things at once; the figures above do not establish that the report "
    "moved them.",
    "The snapshot records the moves, not their causes: other news and flows may account for "
    "them as well.",
)


def write(brief: Brief) -> Draft:
    idea = news.require_idea(brief.idea, "news_analysis")
    snapshot, seed, voice = brief.snapshot, brief.seed, voices.of(brief)
    found = present(snapshot, brief.symbols, idea.symbols)[:MAX_SYMBOLS]
    entries = {symbol: snapshot.instruments[symbol] for symbol in found}
    names = [name_of(symbol, entries[symbol]) for symbol in found]
    story = news.news(idea, snapshot, seed, names)
    moves = " ".join(phrases.move(symbol, entries[symbol], seed, voice) for symbol in found)
    context = [
        sentence
        for symbol in found
        if (sentence := phrases.range_context(symbol, entries[symbol], seed, voice)) is not None
    ]
    paragraphs = [moves, story.text] if voice.professional else [story.text, moves]
    paragraphs += [" ".join(context), voices.choose(voice, _CAVEAT, seed, "caveat")]
    paragraphs = voices.shaped(voice, "news_analysis", paragraphs, seed)
    day = trading_day(entries[found[0]])
    title = pick(("News analysis: {}", "In the news: {}", "{}: the news and the numbers"), seed)
    title = title.format(joined([*names[:2], "others"] if len(names) > 2 else names))
    if day:
        title = f"{title}, {day_text(day)}"
    return assemble(
        brief,
        TEMPLATE_VERSION,
        title,
        paragraphs,
        found,
        idea_id=idea.id,
        sources=list(story.sources),
        headlines=list(story.quoted),
        instruments=[quote_data(symbol, entries[symbol]) for symbol in found],
    )
