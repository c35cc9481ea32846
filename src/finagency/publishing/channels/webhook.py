"""Webhook channel: a signed JSON POST per delivery, carrying an Idempotency-Key.

Signing follows our convention (reference WIRE_FORMATS §9): `X-Signature-Timestamp: <unix
seconds>` and `X-Signature-256: sha256=<hex HMAC-SHA256(secret, f"{ts}." + raw body)>`, over the
exact bytes sent. The Idempotency-Key is the publication's key, the same on every retry, so the
receiver deduplicates: a request that went out without an answer may safely be sent again
(`idempotent = True`, a read timeout is `retry`, not `unknown`).

Events: a publication (`"type": "publication"`), a `ping` (verify) and a `retraction`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from finagency.publishing.channels.base import (
    ChannelConfigError,
    ChannelError,
    Delivery,
    Sent,
    Verified,
)
from finagency.retry_after import retry_after_seconds
from finagency.settings import Settings

TYPE = "webhook"
SECRET_FIELDS = ("secret",)
MIN_SECRET_LENGTH = 16
CONFIG_FIELDS = {"url", "name"}  # `name` may be added by the channel service
# Plain http is accepted only where it never leaves the machine.
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
USER_AGENT = "finagency"
# Answers after which the receiver certainly did not take the event, or will dedupe a resend.
RETRY_STATUSES = {408, 409, 425, 429}
MAX_POST_ID_LENGTH = 200


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Signature-256 value for `body` sent at `timestamp`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def check(config: dict[str, Any], credentials: dict[str, Any] | None) -> None:
    unknown = set(config) - CONFIG_FIELDS
    if unknown:
        raise ChannelConfigError(
            f"webhook: unknown config field(s) {', '.join(sorted(unknown))}; expected url"
        )
    url = config.get("url")
    if not isinstance(url, str) or not url:
        raise ChannelConfigError("webhook: config.url is required (https://…)")
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ChannelConfigError(f"webhook: config.url {url!r} is not an http(s) URL")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise ChannelConfigError(
            "webhook: config.url must use https (plain http only for 127.0.0.1/localhost)"
        )
    if parts.username or parts.password:
        raise ChannelConfigError("webhook: put no credentials in config.url; use the secret")
    secret = (credentials or {}).get("secret")
    if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
        raise ChannelConfigError(
            f"webhook: credentials.secret is required, at least {MIN_SECRET_LENGTH} characters"
        )
    extra = set(credentials or {}) - set(SECRET_FIELDS)
    if extra:
        raise ChannelConfigError(
            f"webhook: unknown credential(s) {', '.join(sorted(extra))}; expected secret"
        )


def create(
    config: dict[str, Any],
    credentials: dict[str, Any] | None,
    settings: Settings,
    client: httpx.Client | None = None,
) -> WebhookAdapter:
    check(config, credentials)
    assert credentials is not None  # checked above
    return WebhookAdapter(
        url=config["url"],
        secret=credentials["secret"],
        public_base_url=settings.public_base_url,
        client=client or httpx.Client(timeout=settings.publish_timeout, follow_redirects=False),
        owns_client=client is None,
    )


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _retry_after(response: httpx.Response) -> float | None:
    return retry_after_seconds(response.headers.get("retry-after"))


def _post_id(response: httpx.Response, key: str) -> str:
    """The receiver's id for the event when its answer names one, else our key."""
    try:
        answer = response.json()
    except ValueError:
        return key
    if isinstance(answer, dict):
        found = answer.get("id")
        if isinstance(found, str | int) and not isinstance(found, bool):
            text = str(found)
            if 0 < len(text) <= MAX_POST_ID_LENGTH:
                return text
    return key


class WebhookAdapter:
    type = TYPE
    idempotent = True

    def __init__(
        self,
        *,
        url: str,
        secret: str,
        public_base_url: str,
        client: httpx.Client,
        owns_client: bool = False,
    ) -> None:
        self.url = url
        self._secret = secret
        self._public_base_url = public_base_url.rstrip("/")
        self._client = client
        self._owns_client = owns_client

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def payload(self, delivery: Delivery) -> dict[str, Any]:
        rendering = delivery.rendering
        return {
            "type": "publication",
            "publication_id": delivery.publication_id,
            "idempotency_key": delivery.idempotency_key,
            "content_id": delivery.content_id,
            "revision": delivery.revision_number,
            "content_type": delivery.content_type,
            "title": rendering.get("title", delivery.title),
            "text": rendering.get("text", ""),
            "disclaimer": rendering.get("disclaimer", ""),
            "data": rendering.get("data", {}),
            "media": [
                media.url or f"{self._public_base_url}/media/{media.path.name}"
                for media in delivery.media
            ],
            "simulated": delivery.simulated,
            "sent_at": _utc_now(),
        }

    def send(self, delivery: Delivery) -> Sent:
        key = delivery.idempotency_key
        response = self._post(self.payload(delivery), key)
        return Sent(
            post_id=_post_id(response, key),
            data={"publication_id": delivery.publication_id, "idempotency_key": key},
        )

    def verify(self) -> Verified:
        key = f"ping-{uuid.uuid4()}"
        self._post({"type": "ping", "idempotency_key": key, "sent_at": _utc_now()}, key)
        return Verified(identity=urlsplit(self.url).hostname or self.url)

    def retract(self, sent: Sent) -> bool:
        """POST a retraction event; False when the receiver refuses it (it takes none)."""
        original = str(sent.data.get("idempotency_key") or sent.post_id)
        # Derived, not random: a retried retraction is deduplicated like a delivery.
        key = f"retraction-{original}"
        event = {
            "type": "retraction",
            "publication_id": sent.data.get("publication_id"),
            "idempotency_key": original,
            "post_id": sent.post_id,
            "sent_at": _utc_now(),
        }
        try:
            self._post(event, key)
        except ChannelError as error:
            if error.kind == "fail" and error.status_code not in {401, 403}:
                return False
            raise
        return True

    def _post(self, event: dict[str, Any], key: str) -> httpx.Response:
        body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": key,
            "X-Signature-Timestamp": str(timestamp),
            "X-Signature-256": sign(self._secret, timestamp, body),
        }
        try:
            response = self._client.post(self.url, content=body, headers=headers)
        except httpx.TimeoutException as error:
            # Sent or not, the receiver dedupes on the key: sending again is safe.
            raise ChannelError("retry", f"webhook: timed out ({type(error).__name__})") from error
        except httpx.TransportError as error:
            raise ChannelError("retry", f"webhook: {type(error).__name__}: {error}") from error
        status = response.status_code
        if 200 <= status < 300:
            return response
        message = f"webhook answered {status}: {response.text[:200]}"
        if status in RETRY_STATUSES or status >= 500:
            raise ChannelError(
                "retry", message, status_code=status, retry_after=_retry_after(response)
            )
        if 300 <= status < 400:
            message = f"webhook answered a redirect ({status}); configure the final URL"
        raise ChannelError("fail", message, status_code=status)
