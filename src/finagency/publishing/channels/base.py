"""What every channel adapter takes and gives: a delivery in, a sent post (or a classified
error) out. Adapters know their platform's wire format and nothing of the database.

Errors are classified by what is safe to do next:
- `retry`: the platform certainly did not publish (a 429, a 5xx answer, a refused or timed-out
  connection before the request was sent); the dispatcher tries again after a backoff, honouring
  `retry_after` when the platform gave one;
- `fail`: it never will as things stand (401/403 credentials, 400/422 validation): no retry;
- `unknown`: the request went out and no answer came back (a read timeout, a dropped
  connection): the post may exist. Never resent automatically; a person resolves it. An adapter
  whose platform deduplicates by key (`idempotent = True`, the webhook) may treat it as `retry`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

ErrorKind = Literal["retry", "fail", "unknown"]


class ChannelError(Exception):
    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status_code = status_code
        self.retry_after = retry_after


class ChannelConfigError(ValueError):
    """A channel's config or credentials are incomplete or malformed (a 422 at creation)."""


@dataclass(frozen=True)
class MediaFile:
    path: Path
    content_type: str
    alt_text: str | None = None
    url: str | None = None  # the public URL, for platforms that fetch images themselves


@dataclass(frozen=True)
class Delivery:
    publication_id: int
    idempotency_key: str
    content_id: int
    revision_number: int
    content_type: str
    title: str
    # The revision's rendering for this channel type (content/renderings.py shapes).
    rendering: dict[str, Any]
    media: tuple[MediaFile, ...] = ()
    simulated: bool = False


@dataclass(frozen=True)
class Sent:
    post_id: str
    url: str | None = None
    # What a retraction needs later (every post id of a thread, a chat id …).
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verified:
    identity: str  # the bot's username, the account, the SMTP server …
    expires_at: datetime | None = None  # when the credential runs out, where the platform says


class Adapter(Protocol):
    type: str
    # True when the platform deduplicates a resent request by its key (no duplicate possible).
    idempotent: bool

    def send(self, delivery: Delivery) -> Sent: ...

    def verify(self) -> Verified: ...

    def retract(self, sent: Sent) -> bool:
        """Delete the post; False where the platform cannot (then a correction is published)."""
        ...
