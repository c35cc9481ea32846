"""X: posts through API v2 with an OAuth 2.0 user access token; a long text goes out as a thread,
each post a reply to the one before."""

from __future__ import annotations

import re
import time
from datetime import datetime
from typing import Any

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
from finagency.settings import Settings

TYPE = "x"
SECRET_FIELDS = ("access_token",)
_USERNAME = re.compile(r"^[A-Za-z0-9_]{1,15}$")


def _username(config: dict[str, Any]) -> str | None:
    value = config.get("username")
    if value in (None, ""):
        return None
    name = value.strip().removeprefix("@") if isinstance(value, str) else ""
    if not _USERNAME.match(name):
        raise ChannelConfigError(
            f"username {value!r} is not an X handle (1 to 15 letters, digits or _, e.g. @acme)"
        )
    return name


def _access_token(credentials: dict[str, Any]) -> str:
    return required_text(
        credentials,
        "access_token",
        "an OAuth 2.0 user access token with the scopes tweet.read tweet.write users.read",
    )


def check(config: dict[str, Any], credentials: dict[str, Any]) -> None:
    _username(config)
    _access_token(credentials)
    credential_expiry(credentials)


def create(
    config: dict[str, Any],
    credentials: dict[str, Any],
    settings: Settings,
    client: httpx.Client | None = None,
) -> XChannel:
    try:
        username, token = _username(config), _access_token(credentials)
        expiry = credential_expiry(credentials)
    except ChannelConfigError as error:  # nothing was sent, and nothing will be as things stand
        raise ChannelError("fail", f"x: {error}") from None
    return XChannel(token, username, expiry, settings.x_base_url, settings.publish_timeout, client)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:  # a gateway's HTML page, an empty body
        return {}
    return body if isinstance(body, dict) else {}


def _problem(response: httpx.Response) -> str:
    """X's error text from any of its three shapes: problem details, `errors`, `error`."""
    body = _json(response)
    detail = body.get("detail") or body.get("title") or body.get("error")
    errors = body.get("errors")
    if not isinstance(errors, list):
        errors = []
    messages = [str(e["message"]) for e in errors if isinstance(e, dict) and e.get("message")]
    parts = [str(detail)] if detail else []
    return "; ".join(parts + messages) or response.reason_phrase or "no detail"


def rate_limit_wait(headers: httpx.Headers, now: float) -> float | None:
    """Seconds until X lifts the limit: the 24-hour cap's reset when that cap is spent, else the
    window's; one second more, as the reset second itself is still limited."""
    reset = headers.get("x-rate-limit-reset")
    if headers.get("x-user-limit-24hour-remaining") == "0":
        reset = headers.get("x-user-limit-24hour-reset") or reset
    try:
        return max(0.0, float(str(reset)) - now) + 1
    except ValueError:
        return None


class XChannel:
    type = TYPE
    idempotent = False

    def __init__(
        self,
        token: str,
        username: str | None,
        token_expires_at: datetime | None,
        base_url: str,
        timeout: float,
        client: httpx.Client | None = None,
    ) -> None:
        self.username = username
        self.token_expires_at = token_expires_at
        self._base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self._timeout = timeout
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=timeout)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def send(self, delivery: Delivery) -> Sent:
        posts = delivery.rendering.get("posts")
        if not isinstance(posts, list) or not posts or not all(isinstance(p, str) for p in posts):
            raise ChannelError("fail", "x: the rendering has no posts")
        ids: list[str] = []
        for number, text in enumerate(posts, start=1):
            body: dict[str, Any] = {"text": text}
            if ids:
                body["reply"] = {"in_reply_to_tweet_id": ids[-1]}
            try:
                ids.append(self._create_post(body))
            except ChannelError as error:
                if not ids:
                    raise
                # Part of the thread is out: resending would post its first posts again.
                raise ChannelError(
                    "unknown",
                    f"x: the thread stopped at post {number} of {len(posts)}; already "
                    f"published: {', '.join(ids)}; {error.message}",
                    status_code=error.status_code,
                ) from None
        return Sent(
            post_id=ids[0],
            url=f"https://x.com/{self.username or 'i'}/status/{ids[0]}",
            data={"post_ids": ids},
        )

    def verify(self) -> Verified:
        user = _json(self._call("GET", "/2/users/me", "users/me")).get("data") or {}
        if not user.get("username"):
            raise ChannelError("unknown", "x users/me: answered without a username")
        return Verified(identity=f"@{user['username']}", expires_at=self.token_expires_at)

    def retract(self, sent: Sent) -> bool:
        # The last reply first: a retraction stopped half-way leaves the head of the thread.
        for post_id in reversed(sent.data.get("post_ids") or [sent.post_id]):
            try:
                self._call("DELETE", f"/2/tweets/{post_id}", "delete post")
            except ChannelError as error:
                if error.status_code != 404:  # a 404 is a post already gone
                    raise
        return True

    def _create_post(self, body: dict[str, Any]) -> str:
        response = self._call("POST", "/2/tweets", "create post", json=body)
        post_id = (_json(response).get("data") or {}).get("id")
        if not post_id:
            raise ChannelError(
                "unknown",
                f"x create post: answered {response.status_code} without the post's id",
                status_code=response.status_code,
            )
        return str(post_id)

    def _call(self, method: str, path: str, what: str, **request: Any) -> httpx.Response:
        """A successful answer, or a ChannelError classified by what is safe to do next."""
        try:
            response = self._client.request(
                method,
                f"{self._base_url}{path}",
                headers=self._headers,
                timeout=self._timeout,
                **request,
            )
        except httpx.HTTPError as error:
            raise transport_error(error, f"x {what}") from None
        if response.is_success:
            return response
        status = response.status_code
        message = f"x {what} answered {status}: {_problem(response)}"
        if status == 429:
            wait = rate_limit_wait(response.headers, time.time())
            raise ChannelError("retry", message, status_code=status, retry_after=wait)
        if status >= 500:
            raise ChannelError("retry", message, status_code=status)
        raise ChannelError("fail", message, status_code=status)
