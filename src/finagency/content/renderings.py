"""One draft, rendered for each channel type within that channel's limits.

A draft is a title, paragraphs and a disclaimer. Each channel type gets its own rendering:
X (posts of at most 280 characters, numbered as a thread when one is not enough), LinkedIn
(at most 3,000), Telegram (at most 4,096, MarkdownV2-escaped), e-mail (subject, plain text and
HTML), webhook (JSON) and file (the plain text and the structured JSON).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

from finagency.compliance.rules import x_length

X_LIMIT = 280
LINKEDIN_LIMIT = 3000
TELEGRAM_LIMIT = 4096
CHANNEL_TYPES = ("x", "linkedin", "telegram", "email", "webhook", "file")
# Every character Telegram's MarkdownV2 treats as markup must be escaped in plain text.
_MARKDOWN_V2 = re.compile(r"([_*\[\]()~`>#+\-=|{}.!\\])")


class TooLong(ValueError):
    """The draft cannot fit the channel even split (e.g. one sentence longer than a post)."""


@dataclass(frozen=True)
class Draft:
    title: str
    paragraphs: list[str]
    disclaimer: str = ""
    data: dict[str, Any] = field(default_factory=dict)  # structured content for JSON channels

    @property
    def body(self) -> str:
        return "\n\n".join(self.paragraphs)

    @property
    def plain_text(self) -> str:
        parts = [self.title, *self.paragraphs]
        if self.disclaimer:
            parts.append(self.disclaimer)
        return "\n\n".join(parts)


def escape_markdown_v2(text: str) -> str:
    return _MARKDOWN_V2.sub(r"\\\1", text)


def _sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def x_thread(draft: Draft, limit: int = X_LIMIT) -> list[str]:
    """Posts of at most `limit` characters; numbered "1/n" when more than one is needed.

    Sentences are never cut: a post ends at a sentence boundary, and the disclaimer travels in
    the last post (or a post of its own). Lengths are X's weighted ones (₹ or an emoji counts
    two, a link 23), the same the length rule checks.
    """
    whole = draft.plain_text
    if x_length(whole) <= limit:
        return [whole]
    units = [draft.title, *[s for p in draft.paragraphs for s in _sentences(p)]]
    if draft.disclaimer:
        units.append(draft.disclaimer)
    marker_room = len(" 99/99")
    posts: list[str] = []
    current = ""
    for unit in units:
        if x_length(unit) + marker_room > limit:
            raise TooLong(f"a sentence of {x_length(unit)} characters cannot fit a post of {limit}")
        candidate = f"{current} {unit}".strip() if current else unit
        if x_length(candidate) + marker_room <= limit:
            current = candidate
        else:
            posts.append(current)
            current = unit
    if current:
        posts.append(current)
    total = len(posts)
    return [f"{post} {n}/{total}" for n, post in enumerate(posts, start=1)]


def _fit(text: str, limit: int, channel: str) -> str:
    if len(text) > limit:
        raise TooLong(f"{channel}: {len(text)} characters, the limit is {limit}")
    return text


def render(draft: Draft, channel_type: str) -> dict[str, Any]:
    """The rendering for one channel type, as stored with the revision and sent as is."""
    if channel_type == "x":
        return {"posts": x_thread(draft)}
    if channel_type == "linkedin":
        return {"text": _fit(draft.plain_text, LINKEDIN_LIMIT, "linkedin")}
    if channel_type == "telegram":
        parts = [f"*{escape_markdown_v2(draft.title)}*"]
        parts += [escape_markdown_v2(p) for p in draft.paragraphs]
        if draft.disclaimer:
            parts.append(f"_{escape_markdown_v2(draft.disclaimer)}_")
        return {
            "text": _fit("\n\n".join(parts), TELEGRAM_LIMIT, "telegram"),
            "parse_mode": "MarkdownV2",
        }
    if channel_type == "email":
        body = "".join(f"<p>{html.escape(p)}</p>" for p in draft.paragraphs)
        footer = (
            f"<p><small>{html.escape(draft.disclaimer)}</small></p>" if draft.disclaimer else ""
        )
        return {
            "subject": draft.title,
            "text": draft.plain_text,
            "html": f"<h1>{html.escape(draft.title)}</h1>{body}{footer}",
        }
    if channel_type == "webhook":
        return {
            "title": draft.title,
            "text": draft.body,
            "disclaimer": draft.disclaimer,
            "data": draft.data,
        }
    if channel_type == "file":
        return {
            "text": draft.plain_text,
            "json": {
                "title": draft.title,
                "paragraphs": draft.paragraphs,
                "disclaimer": draft.disclaimer,
                "data": draft.data,
            },
        }
    raise ValueError(f"unknown channel type {channel_type!r}; known: {', '.join(CHANNEL_TYPES)}")
