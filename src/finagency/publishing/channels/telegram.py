"""Telegram: a bot posts to a chat or a channel through the Bot API.

The bot token is part of every URL (`…/bot<token>/<method>`), so error messages name the method,
never the URL, and transport errors are re-raised without their cause (which carries the request).
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from finagency.publishing.channels.base import (
    ChannelConfigError,
    ChannelError,
    Delivery,
    MediaFile,
    Sent,
    Verified,
    required_text,
    transport_error,
)
from finagency.settings import Settings

TYPE = "telegram"
SECRET_FIELDS = ("bot_token",)
CAPTION_LIMIT = 1024
MAX_PHOTO_BYTES = 10 * 1024 * 1024
# As @BotFather gives it: the bot's numeric id, a colon, then a 35-character secret.
_BOT_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]{30,}$")
_CHANNEL_NAME = re.compile(r"^@[A-Za-z][A-Za-z0-9_]{3,31}$")
_CHAT_NUMBER = re.compile(r"^-?\d+$")


def _chat_id(config: dict[str, Any]) -> int | str:
    value = config.get("chat_id")
    if isinstance(value, str):
        value = value.strip()
        if _CHAT_NUMBER.match(value):
            value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and value != 0:
        return value
    if isinstance(value, str) and _CHANNEL_NAME.match(value):
        return value
    if value in (None, ""):
        raise ChannelConfigError(
            "chat_id is required: a chat id such as -1001234567890 or a channel's @username"
        )
    raise ChannelConfigError(
        f"chat_id {value!r} is neither a chat id (a number such as -1001234567890) "
        "nor a channel's @username (5 to 32 letters, digits or _)"
    )


def _bot_token(credentials: dict[str, Any]) -> str:
    token = required_text(credentials, "bot_token", "the token @BotFather gave the bot")
    if not _BOT_TOKEN.match(token):
        # Never echo the value: it may be a real token pasted with a typo.
        raise ChannelConfigError(
            "bot_token is not shaped like a bot token (digits, a colon, then at least 30 "
            "letters, digits, - or _, as in 123456:ABC-DEF…)"
        )
    return token.strip()


def check(config: dict[str, Any], credentials: dict[str, Any]) -> None:
    _chat_id(config)
    _bot_token(credentials)


def create(
    config: dict[str, Any],
    credentials: dict[str, Any],
    settings: Settings,
    client: httpx.Client | None = None,
) -> TelegramChannel:
    try:
        chat_id, token = _chat_id(config), _bot_token(credentials)
    except ChannelConfigError as error:  # nothing was sent, and nothing will be as things stand
        raise ChannelError("fail", f"telegram: {error}") from None
    return TelegramChannel(
        chat_id, token, settings.telegram_base_url, settings.publish_timeout, client
    )


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:  # a gateway's HTML page, an empty body
        return {}
    return body if isinstance(body, dict) else {}


class TelegramChannel:
    type = TYPE
    idempotent = False

    def __init__(
        self,
        chat_id: int | str,
        token: str,
        base_url: str,
        timeout: float,
        client: httpx.Client | None = None,
    ) -> None:
        self.chat_id = chat_id
        self._token = token
        self._bot_url = f"{base_url.rstrip('/')}/bot{token}"
        self._timeout = timeout
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=timeout)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def send(self, delivery: Delivery) -> Sent:
        text = str(delivery.rendering.get("text") or "")
        if not text:
            raise ChannelError("fail", "telegram: the rendering has no text")
        parse_mode = str(delivery.rendering.get("parse_mode") or "MarkdownV2")
        image = next((m for m in delivery.media if m.content_type.startswith("image/")), None)
        if image is None:
            messages = [self._send_message(text, parse_mode)]
        elif (
            len(text) <= CAPTION_LIMIT
        ):  # escapes count here, not on Telegram: errs on the safe side
            messages = [self._send_photo(image, text, parse_mode)]
        else:
            photo = self._send_photo(image, None, parse_mode)
            try:
                messages = [photo, self._send_message(text, parse_mode)]
            except ChannelError as error:
                # Half of the post is out: resending would repeat the photo.
                raise ChannelError(
                    "unknown",
                    f"telegram: the photo went out as message {photo.get('message_id')} "
                    f"but the text did not: {error.message}",
                    status_code=error.status_code,
                ) from None
        ids = [int(message["message_id"]) for message in messages]
        chat = messages[0].get("chat") or {}
        username = chat.get("username") or (
            self.chat_id[1:] if isinstance(self.chat_id, str) else None
        )
        return Sent(
            post_id=str(ids[0]),
            url=f"https://t.me/{username}/{ids[0]}" if username else None,
            data={"chat_id": chat.get("id", self.chat_id), "message_ids": ids},
        )

    def verify(self) -> Verified:
        bot = self._call("getMe")
        return Verified(identity=f"@{bot['username']}")  # bot tokens do not expire

    def retract(self, sent: Sent) -> bool:
        chat_id = sent.data.get("chat_id", self.chat_id)
        for message_id in sent.data.get("message_ids") or [int(sent.post_id)]:
            try:
                self._call("deleteMessage", json={"chat_id": chat_id, "message_id": message_id})
            except ChannelError as error:
                if "message to delete not found" in error.message:
                    continue  # already gone: what a retraction wants
                if "message can't be deleted" in error.message:
                    return False  # too old for this chat: a correction goes out instead
                raise
        return True

    def _send_message(self, text: str, parse_mode: str) -> dict[str, Any]:
        body = {
            "chat_id": self.chat_id,
            "text": text,
            "parse_mode": parse_mode,
            "disable_web_page_preview": True,
        }
        return dict(self._call("sendMessage", json=body))

    def _send_photo(self, image: MediaFile, caption: str | None, parse_mode: str) -> dict[str, Any]:
        try:
            content = image.path.read_bytes()
        except OSError as error:
            raise ChannelError(
                "fail", f"telegram: cannot read the image {image.path.name}: {error.strerror}"
            ) from None
        if len(content) > MAX_PHOTO_BYTES:
            raise ChannelError("fail", f"telegram: the image {image.path.name} exceeds 10 MB")
        fields = {"chat_id": str(self.chat_id)}
        if caption:
            fields |= {"caption": caption, "parse_mode": parse_mode}
        photo = {"photo": (image.path.name, content, image.content_type)}
        return dict(self._call("sendPhoto", data=fields, files=photo))

    def _call(self, method: str, **request: Any) -> Any:
        """The method's `result`, or a ChannelError classified by what is safe to do next."""
        try:
            response = self._client.post(
                f"{self._bot_url}/{method}", timeout=self._timeout, **request
            )
        except httpx.HTTPError as error:
            raise transport_error(error, method, scrub=self._safe) from None
        body = _json(response)
        status = response.status_code
        if response.is_success:
            if body.get("ok") is True and "result" in body:
                return body["result"]
            raise ChannelError(
                "unknown",
                f"telegram {method}: answered {status} without a result",
                status_code=status,
            )
        description = body.get("description") or response.reason_phrase or "no description"
        message = self._safe(f"{method} answered {status}: {description}")
        parameters = body.get("parameters") or {}
        if "migrate_to_chat_id" in parameters:
            message += f"; the group is now chat {parameters['migrate_to_chat_id']}: update chat_id"
        if status == 429 or status >= 500:
            wait = parameters.get("retry_after")  # Telegram says it in the body, not a header
            retry_after = float(wait) if isinstance(wait, int | float) else None
            raise ChannelError("retry", message, status_code=status, retry_after=retry_after)
        raise ChannelError("fail", message, status_code=status)

    def _safe(self, text: str) -> str:
        return "telegram " + text.replace(self._token, "<bot token>")
