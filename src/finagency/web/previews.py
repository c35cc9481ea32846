"""Each channel's rendering as the reader will see it, from the rendering stored with the
revision (the very text that is sent)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

# Telegram's MarkdownV2 escapes; the reader sees the character without its backslash.
_ESCAPED = re.compile(r"\\(.)", re.DOTALL)
CHANNEL_LABELS = {
    "x": "X",
    "linkedin": "LinkedIn",
    "telegram": "Telegram",
    "email": "E-mail",
    "webhook": "Webhook (JSON)",
    "file": "File channel",
}


@dataclass(frozen=True)
class Paragraph:
    text: str
    emphasis: str = ""  # "strong", "em" or ""


@dataclass(frozen=True)
class Preview:
    channel: str
    label: str
    error: str | None = None
    posts: list[str] = field(default_factory=list)  # X: one entry per post of the thread
    subject: str | None = None  # e-mail
    paragraphs: list[Paragraph] = field(default_factory=list)
    code: str | None = None  # structured channels: the JSON as sent


def _telegram(text: str) -> list[Paragraph]:
    """Undo the escaping; whole-paragraph *bold* (the title) and _italic_ (the disclaimer)."""
    paragraphs = []
    for raw in text.split("\n\n"):
        emphasis = ""
        if len(raw) > 1 and raw.startswith("*") and raw.endswith("*") and not raw.endswith("\\*"):
            raw, emphasis = raw[1:-1], "strong"
        elif len(raw) > 1 and raw.startswith("_") and raw.endswith("_") and not raw.endswith("\\_"):
            raw, emphasis = raw[1:-1], "em"
        paragraphs.append(Paragraph(_ESCAPED.sub(r"\1", raw), emphasis))
    return paragraphs


def _plain(text: str) -> list[Paragraph]:
    return [Paragraph(p) for p in text.split("\n\n") if p.strip()]


def preview(channel: str, rendering: dict[str, Any]) -> Preview:
    label = CHANNEL_LABELS.get(channel, channel)
    if "error" in rendering:
        return Preview(channel, label, error=str(rendering["error"]))
    if channel == "x":
        return Preview(channel, label, posts=[str(p) for p in rendering.get("posts", [])])
    if channel == "telegram":
        return Preview(channel, label, paragraphs=_telegram(str(rendering.get("text", ""))))
    if channel == "email":
        return Preview(
            channel,
            label,
            subject=str(rendering.get("subject", "")),
            paragraphs=_plain(str(rendering.get("text", ""))),
        )
    if channel == "webhook":
        return Preview(channel, label, code=json.dumps(rendering, indent=2, ensure_ascii=False))
    # LinkedIn, the file channel and any other: the plain text as sent.
    return Preview(channel, label, paragraphs=_plain(str(rendering.get("text", ""))))


def previews(renderings: dict[str, Any]) -> list[Preview]:
    return [preview(channel, dict(rendering)) for channel, rendering in renderings.items()]
