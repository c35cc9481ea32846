"""The Channels page's forms: the fields of each channel type, and a posted form read into what
the publishing service takes (a ChannelSpec, or the changes of an update).

Field names say where a value goes: `config.url`, `credentials.secret`, `limits.per_hour`,
`window.start`. Credentials are write-only: a refused form is shown again with what was typed,
except them, and a blank credential field on the detail page keeps the stored value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import FormData

from finagency.publishing import service as publishing_service
from finagency.web.actions import BadInput

MAX_VALUE = 2000
MAX_LINES = 30000  # a list of up to 100 recipients
WEEKDAYS = ((1, "Mon"), (2, "Tue"), (3, "Wed"), (4, "Thu"), (5, "Fri"), (6, "Sat"), (7, "Sun"))
ALL_WEEKDAYS = [str(number) for number, _ in WEEKDAYS]
LIMIT_LABELS = {
    "per_hour": "Posts per hour",
    "per_day": "Posts per day",
    "min_spacing_seconds": "Seconds between posts",
}


@dataclass(frozen=True)
class FormField:
    key: str
    label: str
    # text, url, number, lines (one value a line), checkbox, password, datetime (read as UTC)
    kind: str = "text"
    required: bool = False
    hint: str = ""
    placeholder: str = ""
    default: str = ""  # on the add form ("on" ticks a checkbox)
    pattern: str | None = None
    minlength: int | None = None
    # Write-only: never put back into a form, never shown (the service masks it).
    secret: bool = False


@dataclass(frozen=True)
class ChannelKind:
    type: str
    label: str
    about: str
    config: tuple[FormField, ...]
    credentials: tuple[FormField, ...]


def _expires_at(platform: str) -> FormField:
    return FormField(
        "expires_at",
        "Token expires at (UTC)",
        "datetime",
        hint=f"When the {platform} token runs out, if known; the page warns before then.",
    )


# Each type's fields, as publishing/channels/<type>.py `check()` wants them.
KINDS: dict[str, ChannelKind] = {
    kind.type: kind
    for kind in (
        ChannelKind(
            "file",
            "File (outbox)",
            "One JSON line per post in <data dir>/outbox/<name>.jsonl. No settings, no "
            "credentials: the name becomes the file name.",
            (),
            (),
        ),
        ChannelKind(
            "webhook",
            "Webhook",
            "A signed JSON POST to your URL for every post (X-Signature-256 with the secret).",
            (
                FormField(
                    "url",
                    "URL",
                    "url",
                    required=True,
                    hint="https://…; plain http only to 127.0.0.1 or localhost.",
                    placeholder="https://hooks.example.com/finagency",
                ),
            ),
            (
                FormField(
                    "secret",
                    "Signing secret",
                    "password",
                    required=True,
                    hint="At least 16 characters; the receiver checks signatures with it.",
                    minlength=16,
                    secret=True,
                ),
            ),
        ),
        ChannelKind(
            "email",
            "E-mail",
            "A text and HTML message to a list of recipients through your SMTP server.",
            (
                FormField(
                    "recipients",
                    "Recipients",
                    "lines",
                    required=True,
                    hint="One address a line (up to 100).",
                    placeholder="desk@example.com",
                ),
                FormField("host", "SMTP server", required=True, placeholder="smtp.example.com"),
                FormField(
                    "port",
                    "Port",
                    "number",
                    hint="587 for STARTTLS.",
                    placeholder="587",
                    default="587",
                ),
                FormField(
                    "starttls",
                    "Use STARTTLS",
                    "checkbox",
                    hint="Needed when a password is given.",
                    default="on",
                ),
                FormField("from", "From", placeholder="Desk <desk@example.com>"),
                FormField("reply_to", "Reply-To", placeholder="editors@example.com"),
                FormField(
                    "ca_file",
                    "CA file",
                    hint="A PEM file on the server, for a private certificate authority.",
                ),
            ),
            (
                FormField("username", "SMTP user name", secret=True, hint="With the password."),
                FormField(
                    "password",
                    "SMTP password",
                    "password",
                    hint="Both or neither; never sent without STARTTLS.",
                    secret=True,
                ),
            ),
        ),
        ChannelKind(
            "telegram",
            "Telegram",
            "Messages from your bot to a chat or channel (the bot must be able to post there).",
            (
                FormField(
                    "chat_id",
                    "Chat",
                    required=True,
                    hint="A chat id such as -1001234567890, or a channel's @username.",
                    placeholder="@acme_markets",
                ),
            ),
            (
                FormField(
                    "bot_token",
                    "Bot token",
                    "password",
                    required=True,
                    hint="As @BotFather gave it: 123456:ABC-DEF…",
                    secret=True,
                ),
            ),
        ),
        ChannelKind(
            "x",
            "X",
            "Posts (a thread when long) on an X account.",
            (
                FormField(
                    "username",
                    "Account",
                    hint="The @handle, for links to the posts (optional).",
                    placeholder="@acme",
                ),
            ),
            (
                FormField(
                    "access_token",
                    "Access token",
                    "password",
                    required=True,
                    hint="An OAuth 2.0 user token with tweet.read, tweet.write, users.read.",
                    secret=True,
                ),
                _expires_at("X"),
            ),
        ),
        ChannelKind(
            "linkedin",
            "LinkedIn",
            "Posts on a member's or an organization's feed.",
            (
                FormField(
                    "author",
                    "Author",
                    required=True,
                    hint="urn:li:person:<id> or urn:li:organization:<id>",
                    placeholder="urn:li:organization:123456",
                ),
                FormField(
                    "version",
                    "API version",
                    hint="A LinkedIn-Version such as 202601 (blank: the built-in one).",
                    pattern=r"20[0-9]{2}(0[1-9]|1[0-2])",
                ),
            ),
            (
                FormField(
                    "access_token",
                    "Access token",
                    "password",
                    required=True,
                    hint="A member token with w_member_social (w_organization_social for a page).",
                    secret=True,
                ),
                _expires_at("LinkedIn"),
            ),
        ),
    )
}


# The credential fields that are not secret (a token's expiry): the only ones a form shows again.
SHOWN_CREDENTIALS = {
    f"credentials.{f.key}" for kind in KINDS.values() for f in kind.credentials if not f.secret
}


def kind_of(channel_type: str) -> ChannelKind:
    kind = KINDS.get(channel_type)
    if kind is None:
        raise BadInput(f"Choose a channel type: {', '.join(KINDS)}.")
    return kind


# --- reading a posted form ---------------------------------------------------------------------


def text_of(form: FormData, name: str, most: int = MAX_VALUE, strip: bool = True) -> str:
    value = form.get(name, "")
    if not isinstance(value, str):
        raise BadInput(f"{name} must be text, not a file.")
    if len(value) > most:
        raise BadInput(f"{name} takes at most {most} characters (it has {len(value)}).")
    return value.strip() if strip else value


def _utc_moment(text: str, label: str) -> str:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(f"{label}: {text!r} is not a date and time.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _value(field: FormField, form: FormData, name: str) -> Any:
    """The field's value, or None when it was left blank."""
    if field.kind == "checkbox":
        return name in form
    if field.kind == "lines":
        text = text_of(form, name, MAX_LINES)
        return [line.strip() for line in re.split(r"[\n,;]", text) if line.strip()] or None
    # Secrets are taken as typed (a webhook secret may end in a space); blank is blank.
    text = text_of(form, name, strip=not field.secret)
    if not text.strip():
        return None
    if field.kind == "number":
        try:
            return int(text)
        except ValueError:
            raise BadInput(f"{field.label} must be a whole number.") from None
    if field.kind == "datetime":
        return _utc_moment(text, field.label)
    return text


def config_of(kind: ChannelKind, form: FormData) -> dict[str, Any]:
    values = {f.key: _value(f, form, f"config.{f.key}") for f in kind.config}
    return {key: value for key, value in values.items() if value is not None}


def credentials_of(kind: ChannelKind, form: FormData) -> dict[str, Any]:
    """The credential fields that were filled in (blank ones are left out)."""
    values = {f.key: _value(f, form, f"credentials.{f.key}") for f in kind.credentials}
    return {key: value for key, value in values.items() if value is not None}


def limits_of(form: FormData) -> dict[str, Any]:
    """Overrides of the type's rate budget; a blank field keeps the type's default."""
    limits: dict[str, Any] = {}
    for key, label in LIMIT_LABELS.items():
        text = text_of(form, f"limits.{key}", 30)
        if not text:
            continue
        try:
            number = float(text) if key == "min_spacing_seconds" else int(text)
        except ValueError:
            raise BadInput(f"{label} must be a number (it is {text!r}).") from None
        limits[key] = int(number) if float(number).is_integer() else number
    return limits


def window_of(form: FormData) -> dict[str, Any] | None:
    """The posting window, or None when start and end are both blank (posts go out any time)."""
    start = text_of(form, "window.start", 8)[:5]
    end = text_of(form, "window.end", 8)[:5]
    if not start and not end:
        return None
    if not start or not end:
        raise BadInput("Give the posting window a start and an end, or neither (no window).")
    try:
        weekdays = sorted({int(str(day)) for day in form.getlist("window.weekdays")})
    except ValueError:
        raise BadInput("A weekday was not recognised; reload the page.") from None
    return {
        "timezone": text_of(form, "window.timezone", 64) or "UTC",
        "start": start,
        "end": end,
        "weekdays": weekdays,
    }


def channel_spec(form: FormData) -> publishing_service.ChannelSpec:
    kind = kind_of(text_of(form, "type", 16))
    return publishing_service.ChannelSpec(
        type=kind.type,
        name=text_of(form, "name", 100),
        config=config_of(kind, form),
        credentials=credentials_of(kind, form),
        limits=limits_of(form),
        posting_window=window_of(form),
        enabled="enabled" in form,
    )


def _same(stored: Any, posted: Any) -> bool:
    """A form gives text: `-100123` posted is the chat id -100123 stored."""
    if isinstance(stored, list) and isinstance(posted, list):
        return [str(v) for v in stored] == [str(v) for v in posted]
    return str(stored) == str(posted)


def settings_changes(
    channel_type: str,
    config: dict[str, Any],
    limits: dict[str, Any],
    window: dict[str, Any] | None,
    form: FormData,
) -> dict[str, Any]:
    """What the settings form changes of the stored config, limits and posting window."""
    kind = kind_of(channel_type)
    defaults = {f.key: f.default for f in kind.config}
    merged: dict[str, Any] = {}
    # Keep the stored value where it reads the same, so an unchanged form changes nothing.
    for key, value in config_of(kind, form).items():
        if key in config:
            merged[key] = config[key] if _same(config[key], value) else value
        elif _shown(value) != defaults.get(key):  # not stored, and not just the default
            merged[key] = value
    changes: dict[str, Any] = {}
    if merged != config:
        changes["config"] = merged
    new_limits = limits_of(form)
    if new_limits != limits:
        changes["limits"] = new_limits
    new_window = window_of(form)
    if new_window is not None:
        new_window["weekdays"] = sorted(set(new_window["weekdays"]))
    if new_window != window:
        changes["posting_window"] = new_window
    return changes


def credential_changes(
    channel_type: str, current: dict[str, Any], form: FormData
) -> dict[str, Any]:
    """The stored credentials with the fields that were filled in replaced."""
    given = credentials_of(kind_of(channel_type), form)
    if not given:
        raise BadInput("Fill in a credential to replace; blank fields keep their stored value.")
    return {**current, **given}


# --- what a form shows -------------------------------------------------------------------------


def add_values(kind: ChannelKind) -> dict[str, Any]:
    """A fresh add form: enabled, every weekday, each field's default."""
    values: dict[str, Any] = {
        "enabled": "on",
        "window.timezone": "UTC",
        "window.weekdays": ALL_WEEKDAYS,
    }
    for field in kind.config:
        if field.default:
            values[f"config.{field.key}"] = field.default
    return values


def typed_values(form: FormData) -> dict[str, Any]:
    """What was typed, to show the refused form again: never a credential's value."""
    values: dict[str, Any] = {}
    for name, value in form.multi_items():
        secret = name.startswith("credentials.") and name not in SHOWN_CREDENTIALS
        if not isinstance(value, str) or secret or name == "csrf_token":
            continue
        if name == "window.weekdays":
            values.setdefault(name, []).append(value)
        else:
            values[name] = value[:MAX_LINES]
    values.setdefault("window.weekdays", [])
    return values


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else ""
    if isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return str(value)


def stored_values(
    kind: ChannelKind,
    config: dict[str, Any],
    limits: dict[str, Any],
    window: dict[str, Any] | None,
) -> dict[str, Any]:
    """The settings form filled in from the channel (config is never secret)."""
    # A checkbox left out of the stored config is at its default (STARTTLS on).
    values: dict[str, Any] = {
        f"config.{f.key}": f.default for f in kind.config if f.kind == "checkbox"
    }
    values.update({f"config.{k}": _shown(v) for k, v in config.items()})
    values.update({f"limits.{k}": _shown(v) for k, v in limits.items()})
    window = window or {}
    values["window.timezone"] = window.get("timezone", "UTC")
    values["window.start"] = window.get("start", "")
    values["window.end"] = window.get("end", "")
    values["window.weekdays"] = [str(d) for d in window.get("weekdays", range(1, 8))]
    return values


def window_text(window: dict[str, Any] | None) -> str | None:
    """E.g. "09:00–17:00 Europe/London, Mon–Fri"; None when posts may go out any time."""
    if not window:
        return None
    days = window.get("weekdays") or list(range(1, 8))
    names = dict(WEEKDAYS)
    if days == list(range(1, 8)):
        when = "every day"
    elif days == list(range(days[0], days[-1] + 1)) and len(days) > 2:
        when = f"{names[days[0]]}–{names[days[-1]]}"
    else:
        when = ", ".join(names[d] for d in days)
    return f"{window['start']}–{window['end']} {window['timezone']}, {when}"
