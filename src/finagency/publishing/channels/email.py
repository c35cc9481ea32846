"""E-mail channel: one multipart (plain text + HTML) message per delivery, over SMTP.

STARTTLS is on by default and the server's certificate is verified (against `config.ca_file`,
else FINAGENCY_SMTP_CA_FILE, else the system's CAs). The Message-ID is derived from the
publication's idempotency key, so a receiving system can tell a resend from a new message.

SMTP has no idempotency: once the message's final "." has gone out, a dropped connection or a
timeout leaves it unknown whether the server took it (`idempotent = False`, error `unknown`).
Anything that fails before that point is safe to retry or certainly failed. Several recipients
are sent as one message with an undisclosed list, so subscribers never see each other.
"""

from __future__ import annotations

import hashlib
import re
import smtplib
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.errors import HeaderParseError, MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from html import escape
from pathlib import Path
from typing import Any

from finagency.publishing.channels.base import (
    ChannelConfigError,
    ChannelError,
    Delivery,
    ErrorKind,
    Sent,
    Verified,
)
from finagency.settings import Settings

TYPE = "email"
SECRET_FIELDS = ("username", "password")
CONFIG_FIELDS = {"recipients", "from", "host", "port", "starttls", "reply_to", "ca_file", "name"}
CREDENTIAL_FIELDS = {"username", "password"}
MAX_RECIPIENTS = 100
MESSAGE_ID_DOMAIN = "finagency"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
# Makes an SMTP connection: (host, port, timeout) → a connected client. Tests may pass their own.
Connect = Callable[[str, int, float], smtplib.SMTP]


def _address(value: Any, field: str) -> str:
    """A plain, ASCII address (`name@example.com`), or ChannelConfigError naming the field."""
    if not isinstance(value, str) or not value.strip():
        raise ChannelConfigError(f"email: {field} must be an e-mail address")
    text = value.strip()
    problem = f"email: {field}: {text!r} is not an e-mail address"
    if not text.isascii():
        raise ChannelConfigError(f"{problem} (only ASCII addresses are supported)")
    try:
        address = Address(addr_spec=text)
    except (HeaderParseError, MessageError, ValueError, IndexError):
        raise ChannelConfigError(problem) from None
    domain = address.domain
    if not address.username or "." not in domain or domain.startswith(".") or len(text) > 254:
        raise ChannelConfigError(problem)
    return address.addr_spec


def _from_header(value: Any) -> str:
    """`from` may be `name@example.com` or `Name <name@example.com>`."""
    if not isinstance(value, str) or "\r" in value or "\n" in value:
        raise ChannelConfigError("email: from must be an address such as Desk <desk@example.com>")
    _, addr = parseaddr(value)
    _address(addr, "from")
    return value


def check(config: dict[str, Any], credentials: dict[str, Any] | None) -> None:
    unknown = set(config) - CONFIG_FIELDS
    if unknown:
        raise ChannelConfigError(
            f"email: unknown config field(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(CONFIG_FIELDS - {'name'}))}"
        )
    recipients = config.get("recipients")
    if not isinstance(recipients, list) or not 1 <= len(recipients) <= MAX_RECIPIENTS:
        raise ChannelConfigError(
            f"email: config.recipients must be a list of 1 to {MAX_RECIPIENTS} addresses"
        )
    checked = [_address(r, "recipients").lower() for r in recipients]
    if len(set(checked)) != len(checked):
        raise ChannelConfigError("email: config.recipients lists an address twice")
    if config.get("from") is not None:
        _from_header(config["from"])
    if config.get("reply_to") is not None:
        _address(config["reply_to"], "reply_to")
    host = config.get("host")
    if not isinstance(host, str) or not host.strip() or any(c.isspace() for c in host):
        raise ChannelConfigError("email: config.host is required (the SMTP server's name)")
    port = config.get("port", 587)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ChannelConfigError("email: config.port must be a port number (587 for STARTTLS)")
    starttls = config.get("starttls", True)
    if not isinstance(starttls, bool):
        raise ChannelConfigError("email: config.starttls must be true or false")
    ca_file = config.get("ca_file")
    if ca_file is not None and (not isinstance(ca_file, str) or not ca_file):
        raise ChannelConfigError("email: config.ca_file must be the path of a PEM file")
    _check_credentials(credentials, starttls)


def _check_credentials(credentials: dict[str, Any] | None, starttls: bool) -> None:
    given = {k: v for k, v in (credentials or {}).items() if v not in (None, "")}
    unknown = set(given) - CREDENTIAL_FIELDS
    if unknown:
        raise ChannelConfigError(
            f"email: unknown credential(s) {', '.join(sorted(unknown))}; expected "
            "username and password"
        )
    if given and set(given) != CREDENTIAL_FIELDS:
        raise ChannelConfigError("email: give both credentials.username and password, or none")
    if any(not isinstance(v, str) for v in given.values()):
        raise ChannelConfigError("email: credentials.username and password must be text")
    if given and not starttls:
        raise ChannelConfigError("email: a password is never sent in clear; enable starttls")


def _connect(host: str, port: int, timeout: float) -> smtplib.SMTP:
    return smtplib.SMTP(host, port, timeout=timeout)


def create(
    config: dict[str, Any],
    credentials: dict[str, Any] | None,
    settings: Settings,
    client: Connect | None = None,
) -> EmailAdapter:
    check(config, credentials)
    given = {k: v for k, v in (credentials or {}).items() if v not in (None, "")}
    ca_file = config.get("ca_file") or settings.smtp_ca_file
    return EmailAdapter(
        recipients=[_address(r, "recipients") for r in config["recipients"]],
        sender=config.get("from") or settings.mail_from,
        reply_to=config.get("reply_to"),
        host=config["host"].strip(),
        port=config.get("port", 587),
        starttls=config.get("starttls", True),
        ca_file=Path(ca_file) if ca_file else None,
        username=given.get("username"),
        password=given.get("password"),
        timeout=settings.publish_timeout,
        connect=client or _connect,
    )


def message_id(idempotency_key: str) -> str:
    """The same for every attempt at one publication (a hash when the key has odd characters)."""
    local = idempotency_key
    if not _SAFE_ID.match(local):
        local = hashlib.sha256(idempotency_key.encode()).hexdigest()[:40]
    return f"<{local}@{MESSAGE_ID_DOMAIN}>"


def _document(html: str) -> str:
    if html.lstrip().lower().startswith(("<!doctype", "<html")):
        return html
    return f'<!doctype html>\n<html><head><meta charset="utf-8"></head><body>{html}</body></html>'


@dataclass
class _Progress:
    """How far a send got: once the final "." went out, the message may be queued."""

    data_sent: bool = False


class EmailAdapter:
    type = TYPE
    idempotent = False

    def __init__(
        self,
        *,
        recipients: list[str],
        sender: str,
        reply_to: str | None,
        host: str,
        port: int,
        starttls: bool,
        ca_file: Path | None,
        username: str | None,
        password: str | None,
        timeout: float,
        connect: Connect,
    ) -> None:
        self.recipients = recipients
        self.sender = sender
        self.reply_to = reply_to
        self.host = host
        self.port = port
        self.starttls = starttls
        self.ca_file = ca_file
        self._username = username
        self._password = password
        self.timeout = timeout
        self._connect = connect

    @property
    def identity(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    def close(self) -> None:
        """Nothing held between sends: a connection lives for one message."""

    def build_message(self, delivery: Delivery) -> EmailMessage:
        rendering = delivery.rendering
        message = EmailMessage()
        # A header is one line: a stray line break would be refused (or worse, injected).
        message["Subject"] = " ".join(str(rendering.get("subject") or delivery.title).split())
        message["From"] = self.sender
        message["To"] = (
            self.recipients[0] if len(self.recipients) == 1 else "undisclosed-recipients:;"
        )
        if self.reply_to:
            message["Reply-To"] = self.reply_to
        message["Date"] = format_datetime(datetime.now(UTC))
        message["Message-ID"] = message_id(delivery.idempotency_key)
        message["X-Finagency-Publication"] = str(delivery.publication_id)
        if delivery.simulated:
            message["X-Finagency-Simulated"] = "true"
        # Quoted-printable keeps every byte ASCII: no dependence on the server's 8BITMIME.
        message.set_content(str(rendering.get("text", "")), cte="quoted-printable")
        images = "".join(
            f'<p><img src="cid:{index}.{message_id(delivery.idempotency_key)[1:-1]}" '
            f'alt="{escape(media.alt_text or "")}"></p>'
            for index, media in enumerate(delivery.media)
        )
        html = _document(str(rendering.get("html", "")) + images)
        message.add_alternative(html, subtype="html", cte="quoted-printable")
        if delivery.media:
            html_part = message.get_body(("html",))
            assert html_part is not None  # added just above
            for index, media in enumerate(delivery.media):
                maintype, _, subtype = media.content_type.partition("/")
                html_part.add_related(
                    media.path.read_bytes(),
                    maintype=maintype,
                    subtype=subtype or "octet-stream",
                    cid=f"<{index}.{message_id(delivery.idempotency_key)[1:-1]}>",
                    filename=media.path.name,
                    disposition="inline",
                )
        return message

    def send(self, delivery: Delivery) -> Sent:
        try:
            message = self.build_message(delivery)
        except OSError as error:  # a media file that cannot be read
            raise ChannelError("fail", f"email: cannot attach media: {error}") from error
        envelope_from = parseaddr(self.sender)[1]
        raw = message.as_bytes(policy=policy.SMTP)
        progress = _Progress()
        with self._session(progress) as smtp:
            accepted, refused = self._envelope(smtp, envelope_from)
            code, reply = _data(smtp, raw, progress)
            _expect_accepted(code, reply, "message")
            _quit(smtp)
        data: dict[str, Any] = {"recipients": accepted}
        if refused:
            data["refused"] = refused
        return Sent(post_id=str(message["Message-ID"]), data=data)

    def verify(self) -> Verified:
        with self._session(_Progress()) as smtp:
            code, reply = smtp.noop()
            _expect_accepted(code, reply, "NOOP")
            _quit(smtp)
        return Verified(identity=self.identity)

    def retract(self, sent: Sent) -> bool:
        """An e-mail cannot be unsent: the publisher sends a correction instead."""
        return False

    def _tls_context(self) -> ssl.SSLContext:
        """Verifies the server's certificate and name; a private CA where one is configured."""
        try:
            return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        except (OSError, ssl.SSLError) as error:
            raise ChannelError(
                "fail", f"email: cannot use CA file {self.ca_file}: {error}"
            ) from error

    @contextmanager
    def _session(self, progress: _Progress) -> Iterator[smtplib.SMTP]:
        """A connected, secured and logged-in client; every failure becomes a ChannelError."""
        context = self._tls_context() if self.starttls else None
        smtp: smtplib.SMTP | None = None
        try:
            smtp = self._connect(self.host, self.port, self.timeout)
            smtp.ehlo()
            if context is not None:
                if not smtp.has_extn("starttls"):
                    raise ChannelError("fail", f"email: {self.identity} does not offer STARTTLS")
                smtp.starttls(context=context)
                smtp.ehlo()
            if self._username is not None and self._password is not None:
                smtp.login(self._username, self._password)
            yield smtp
        except (smtplib.SMTPException, OSError) as error:  # ssl errors are OSErrors
            raise _classify(error, progress.data_sent, self.identity) from error
        finally:
            if smtp is not None:
                smtp.close()

    def _envelope(self, smtp: smtplib.SMTP, envelope_from: str) -> tuple[list[str], dict[str, str]]:
        code, reply = smtp.mail(envelope_from)
        _expect_accepted(code, reply, "sender")
        accepted: list[str] = []
        refused: dict[str, tuple[int, str]] = {}
        for recipient in self.recipients:
            code, reply = smtp.rcpt(recipient)
            if code in (250, 251):
                accepted.append(recipient)
            else:
                refused[recipient] = (code, reply.decode(errors="replace"))
        if not accepted:
            # Temporarily refused (4xx, greylisting) retries; refused for good (5xx) fails.
            temporary = any(400 <= code < 500 for code, _ in refused.values())
            summary = "; ".join(f"{r}: {c} {t}" for r, (c, t) in refused.items())
            kind: ErrorKind = "retry" if temporary else "fail"
            raise ChannelError(
                kind,
                f"email: every recipient refused ({summary})"[:1000],
                status_code=max(code for code, _ in refused.values()),
            )
        return accepted, {r: f"{c} {t}" for r, (c, t) in refused.items()}


def _data(smtp: smtplib.SMTP, raw: bytes, progress: _Progress) -> tuple[int, bytes]:
    """smtplib's DATA, split so that we know whether the final "." went out."""
    code, reply = smtp.docmd("DATA")
    if code != 354:
        _expect_accepted(code, reply, "DATA")
        raise ChannelError("fail", f"email: DATA answered {code}", status_code=code)
    body = re.sub(rb"(?m)^\.", b"..", raw)
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    # If this raises, the terminating "." (the last bytes) never left: the server drops it.
    smtp.send(body + b".\r\n")
    progress.data_sent = True
    return smtp.getreply()


def _expect_accepted(code: int, reply: bytes, what: str) -> None:
    if 200 <= code < 300:
        return
    text = reply.decode(errors="replace")
    kind: ErrorKind = "retry" if 400 <= code < 500 else "fail"
    raise ChannelError(kind, f"email: {what} refused: {code} {text}"[:1000], status_code=code)


def _quit(smtp: smtplib.SMTP) -> None:
    # The message is accepted already: a failing QUIT changes nothing.
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        pass


def _classify(
    error: smtplib.SMTPException | OSError, data_sent: bool, identity: str
) -> ChannelError:
    """What a failure means, by its kind and by how far the send got."""
    name = f"{type(error).__name__}: {error}"
    if isinstance(error, smtplib.SMTPResponseException):
        code = error.smtp_code
        raw = error.smtp_error
        text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw or "")
        kind: ErrorKind = "retry" if 400 <= code < 500 else "fail"
        what = "login refused" if isinstance(error, smtplib.SMTPAuthenticationError) else "answer"
        return ChannelError(kind, f"email: {identity} {what}: {code} {text}", status_code=code)
    if isinstance(error, ssl.SSLCertVerificationError):
        return ChannelError("fail", f"email: {identity}'s certificate is not trusted: {error}")
    if data_sent:
        return ChannelError("unknown", f"email: no answer after the message was sent ({name})")
    if isinstance(error, smtplib.SMTPServerDisconnected | OSError):
        # Refused, timed out or dropped before the message went out: nothing was delivered.
        return ChannelError("retry", f"email: {identity}: {name}")
    # No STARTTLS or no usable AUTH mechanism: a configuration problem.
    return ChannelError("fail", f"email: {identity}: {name}")
