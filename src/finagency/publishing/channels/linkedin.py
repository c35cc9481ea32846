"""LinkedIn: posts for a person or an organisation page through the versioned Posts API."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx

from finagency.publishing.channels.base import (
    ChannelConfigError,
    ChannelError,
    Delivery,
    Sent,
    Verified,
    credential_expiry,
    required_text,
    transport_error,
)
from finagency.retry_after import retry_after_seconds
from finagency.settings import Settings

TYPE = "linkedin"
SECRET_FIELDS = ("access_token",)
# LinkedIn sunsets a version about a year after its release; a channel may pin a newer one.
LINKEDIN_VERSION = "202601"
_AUTHOR = re.compile(r"^urn:li:(person|organization):([A-Za-z0-9_-]+)$")
_VERSION = re.compile(r"^20\d{2}(0[1-9]|1[0-2])$")
# "Little text format": an unescaped reserved character silently cuts the post there.
_RESERVED = re.compile(r"([\\|{}@\[\]()<>#*_~])")


def escape_little_text(text: str) -> str:
    return _RESERVED.sub(r"\\\1", text)


def _author(config: dict[str, Any]) -> str:
    value = config.get("author")
    if value in (None, ""):
        raise ChannelConfigError(
            "author is required: urn:li:person:<id> or urn:li:organization:<id>"
        )
    if not isinstance(value, str) or not _AUTHOR.match(value.strip()):
        raise ChannelConfigError(
            f"author {value!r} is not a person or organization URN "
            "(urn:li:person:<id> or urn:li:organization:<id>)"
        )
    return value.strip()


def _version(config: dict[str, Any]) -> str:
    value = config.get("version") or LINKEDIN_VERSION
    if not isinstance(value, str) or not _VERSION.match(value):
        raise ChannelConfigError(f"version {value!r} is not a LinkedIn-Version such as 202601")
    return value


def _access_token(credentials: dict[str, Any]) -> str:
    return required_text(
        credentials,
        "access_token",
        "a 3-legged member token with w_member_social (or w_organization_social for a page)",
    )


def check(config: dict[str, Any], credentials: dict[str, Any]) -> None:
    _author(config)
    _version(config)
    _access_token(credentials)
    credential_expiry(credentials)


def create(
    config: dict[str, Any],
    credentials: dict[str, Any],
    settings: Settings,
    client: httpx.Client | None = None,
) -> LinkedInChannel:
    try:
        author, version = _author(config), _version(config)
        token, expiry = _access_token(credentials), credential_expiry(credentials)
    except ChannelConfigError as error:  # nothing was sent, and nothing will be as things stand
        raise ChannelError("fail", f"linkedin: {error}") from None
    return LinkedInChannel(
        author, version, token, expiry, settings.linkedin_base_url, settings.publish_timeout, client
    )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:  # a gateway's HTML page, an empty body
        return {}
    return body if isinstance(body, dict) else {}


def throttle_wait(response: httpx.Response, now: datetime) -> float | None:
    """Seconds to wait after a 429: Retry-After when given (seconds or a date); else, for a daily
    limit, until midnight UTC when LinkedIn resets it."""
    wait = retry_after_seconds(response.headers.get("retry-after"), now)
    if wait is not None:
        return wait
    if "DAY limit" in str(_json(response).get("message")):
        midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
        return (midnight - now).total_seconds()
    return None


class LinkedInChannel:
    type = TYPE
    idempotent = False

    def __init__(
        self,
        author: str,
        version: str,
        token: str,
        token_expires_at: datetime | None,
        base_url: str,
        timeout: float,
        client: httpx.Client | None = None,
    ) -> None:
        self.author = author
        self.token_expires_at = token_expires_at
        self._base_url = base_url.rstrip("/")
        self._auth = {"Authorization": f"Bearer {token}"}
        self._rest_headers = {
            **self._auth,
            "LinkedIn-Version": version,
            "X-Restli-Protocol-Version": "2.0.0",
        }
        self._timeout = timeout
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=timeout)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def send(self, delivery: Delivery) -> Sent:
        text = delivery.rendering.get("text")
        if not isinstance(text, str) or not text:
            raise ChannelError("fail", "linkedin: the rendering has no text")
        body = {
            "author": self.author,
            "commentary": escape_little_text(text),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        response = self._call("POST", "/rest/posts", "create post", json=body)
        urn = response.headers.get("x-restli-id")  # an empty 201: the id is in this header
        if not urn:
            raise ChannelError(
                "unknown",
                f"linkedin create post: answered {response.status_code} without x-restli-id",
                status_code=response.status_code,
            )
        return Sent(post_id=urn, url=f"https://www.linkedin.com/feed/update/{urn}/")

    def verify(self) -> Verified:
        match = _AUTHOR.match(self.author)
        assert match is not None  # checked in create()
        kind, author_id = match.groups()
        if kind == "person":
            # The OpenID userinfo: `sub` is the person id the author URN is made of.
            info = _json(self._call("GET", "/v2/userinfo", "userinfo", rest=False))
            if info.get("sub") != author_id:
                raise ChannelError(
                    "fail",
                    f"linkedin: the token belongs to urn:li:person:{info.get('sub')}, "
                    f"not to the author {self.author}",
                )
            name = info.get("name")
        else:
            page = _json(self._call("GET", f"/rest/organizations/{author_id}", "organization"))
            name = page.get("localizedName")
        identity = f"{name} ({self.author})" if name else self.author
        return Verified(identity=identity, expires_at=self.token_expires_at)

    def retract(self, sent: Sent) -> bool:
        try:
            self._call("DELETE", f"/rest/posts/{quote(sent.post_id, safe='')}", "delete post")
        except ChannelError as error:
            if error.status_code != 404:  # a 404 is a post already gone
                raise
        return True

    def _call(
        self, method: str, path: str, what: str, rest: bool = True, **request: Any
    ) -> httpx.Response:
        """A successful answer, or a ChannelError classified by what is safe to do next."""
        try:
            response = self._client.request(
                method,
                f"{self._base_url}{path}",
                headers=self._rest_headers if rest else self._auth,
                timeout=self._timeout,
                **request,
            )
        except httpx.HTTPError as error:
            raise transport_error(error, f"linkedin {what}") from None
        if response.is_success:
            return response
        status = response.status_code
        body = _json(response)
        text = " ".join(str(body[key]) for key in ("code", "message") if body.get(key))
        message = f"linkedin {what} answered {status}: {text or response.reason_phrase}"
        if status == 426:  # the pinned version was sunset: a configuration matter
            message += "; set a newer version in the channel's config"
        if status == 429:
            wait = throttle_wait(response, datetime.now(UTC))
            raise ChannelError("retry", message, status_code=status, retry_after=wait)
        if status >= 500:
            raise ChannelError("retry", message, status_code=status)
        raise ChannelError("fail", message, status_code=status)
