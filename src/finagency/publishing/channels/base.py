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

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx

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


def required_text(values: dict[str, Any], key: str, hint: str) -> str:
    """A non-empty string setting or credential, stripped; else a ChannelConfigError with `hint`
    (never the value: it may be a secret pasted with a typo)."""
    value = values.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ChannelConfigError(f"{key} is required: {hint}")
    return value.strip()


# Failures before the request left: nothing can have been published.
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def transport_error(
    error: httpx.HTTPError, what: str, scrub: Callable[[str], str] = str
) -> ChannelError:
    """An httpx failure classified: `retry` when the request never left, else `unknown` (it went
    out and no answer came back: the post may exist). `scrub` removes secrets from the text."""
    if isinstance(error, NOT_SENT):
        return ChannelError("retry", scrub(f"{what}: cannot connect ({error})"))
    return ChannelError("unknown", scrub(f"{what}: no answer ({type(error).__name__}: {error})"))


def credential_expiry(credentials: dict[str, Any]) -> datetime | None:
    """The optional `expires_at` of a credential (ISO 8601 with a time zone)."""
    value = credentials.get("expires_at")
    if value in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise ChannelConfigError(
            f"expires_at {value!r} is not an ISO 8601 time such as 2026-03-01T00:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise ChannelConfigError(f"expires_at {value!r} needs a time zone, e.g. …T00:00:00Z")
    return moment


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

    def close(self) -> None:
        """Release the connections the adapter opened itself."""
        ...
