"""Writers turn a brief into a draft. They share one interface so the service never cares which.

A brief holds everything a writer may use and nothing else: the snapshot (the only allowed source
of figures), the research idea with its news headlines, the topic, audience and tone, and the
disclaimer the profile requires. A writer gives back the draft and its provenance; a model writer
adds the model, the prompt hash, token usage and cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from finagency.compliance.findings import SnapshotView
from finagency.content.renderings import Draft

# What a brief may ask of a writer's voice; the first of each is the default.
AUDIENCES = ("retail", "professional")
TONES = ("neutral", "formal", "conversational")


class WriterError(Exception):
    """A writer could not produce a usable draft; the request fails with this message."""


@dataclass(frozen=True)
class NewsHeadline:
    title: str
    source: str
    url: str | None = None
    published_at: str | None = None  # ISO 8601


@dataclass(frozen=True)
class IdeaBrief:
    id: int
    title: str
    urgency: str  # low, normal, high, breaking
    event: str | None
    symbols: tuple[str, ...]
    reasons: tuple[str, ...]
    headlines: tuple[NewsHeadline, ...]


@dataclass(frozen=True)
class Brief:
    type: str  # one of service.CONTENT_TYPES
    symbols: tuple[str, ...]
    snapshot: SnapshotView
    disclaimer: str
    seed: int  # chooses among phrasings: the same request always gives the same text
    topic: str | None = None
    idea: IdeaBrief | None = None
    audience: str = "retail"
    tone: str = "neutral"


@dataclass(frozen=True)
class Written:
    draft: Draft
    # snapshot_id, writer, template_version, model, prompt_hash (and for models: usage, cost_usd)
    provenance: dict[str, Any] = field(default_factory=dict)


class Writer(Protocol):
    name: str

    def write(self, brief: Brief) -> Written: ...


def create_writer(settings: Any) -> Writer:
    """The writer FINAGENCY_WRITER names, configured from the settings."""
    if settings.writer == "openai":
        from finagency.content.writers.openai import OpenAIWriter

        return OpenAIWriter.from_settings(settings)
    if settings.writer == "anthropic":
        from finagency.content.writers.anthropic import AnthropicWriter

        return AnthropicWriter.from_settings(settings)
    from finagency.content.writers.template import TemplateWriter

    return TemplateWriter()
