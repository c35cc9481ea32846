"""The webhook, e-mail and file channel adapters against real local servers and real files.

Webhook: a signed-receiver on 127.0.0.1 that checks our signature convention over the raw bytes
and dedupes on the Idempotency-Key. E-mail: aiosmtpd with STARTTLS (a certificate made now)
and AUTH. File: the outbox under a temporary data dir, written from several threads at once.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from finagency.content.renderings import Draft, render
from finagency.publishing.channels import email as email_channel
from finagency.publishing.channels import file as file_channel
from finagency.publishing.channels import webhook
from finagency.publishing.channels.base import (
    ChannelConfigError,
    ChannelError,
    Delivery,
    MediaFile,
    Sent,
)
from finagency.settings import Settings, load_settings
from tests.fixtures.certificates import write_certificate
from tests.fixtures.services import free_port
from tests.fixtures.webhook_receiver import (
    Fault,
    WebhookReceiver,
    run_webhook_receiver,
    signature,
)

SECRET = "a-webhook-secret-of-some-length"
DRAFT = Draft(
    title="Market update for 24 November 2026",
    paragraphs=["The S&P 500 rose 1.20% to 6,012.50.", "Treasury yields fell <2 bp>."],
    disclaimer="Not investment advice.",
    data={"symbols": ["SPY"], "change_pct": 1.2},
)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def make_delivery(
    channel_type: str,
    publication_id: int = 1,
    key: str | None = None,
    media: tuple[MediaFile, ...] = (),
    text: str | None = None,
) -> Delivery:
    rendering = render(DRAFT, channel_type)
    if text is not None:
        rendering["text"] = text
    return Delivery(
        publication_id=publication_id,
        idempotency_key=key or str(uuid.uuid4()),
        content_id=10,
        revision_number=2,
        content_type="market_update",
        title=DRAFT.title,
        rendering=rendering,
        media=media,
    )


@pytest.fixture
def channel_settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path, publish_timeout=0.5)


# --- webhook ---------------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with run_webhook_receiver(SECRET) as running:
        yield running


@pytest.fixture
def hook(receiver: WebhookReceiver, channel_settings: Settings) -> Iterator[webhook.WebhookAdapter]:
    adapter = webhook.create({"url": receiver.url}, {"secret": SECRET}, channel_settings)
    yield adapter
    adapter.close()


def test_the_signature_follows_our_convention_test_vector() -> None:
    # Computed with `printf '1700000000.Hello, World!' | openssl dgst -sha256 -hmac '<secret>'`.
    expected = "sha256=76c83fd0acdf22faed320674fe8e04d528cfe8a17905e720a9611e40677c03b7"
    assert webhook.sign("It's a Secret to Everybody", 1700000000, b"Hello, World!") == expected
    assert signature("It's a Secret to Everybody", "1700000000", b"Hello, World!") == expected


def test_a_delivery_is_signed_over_the_exact_bytes_and_carries_its_key(
    receiver: WebhookReceiver, hook: webhook.WebhookAdapter, tmp_path: Path
) -> None:
    chart = MediaFile(tmp_path / "chart.png", "image/png")
    delivery = make_delivery("webhook", publication_id=7, media=(chart,))
    sent = hook.send(delivery)

    [request] = receiver.requests
    accepted = receiver.accepted[delivery.idempotency_key]
    assert (request.verdict, request.status) == ("accepted", 200)
    assert sent.post_id == "evt_1"  # the receiver's id
    assert sent.data == {"publication_id": 7, "idempotency_key": delivery.idempotency_key}
    headers = accepted.headers
    assert headers["idempotency-key"] == delivery.idempotency_key
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "finagency"
    assert headers["x-signature-256"] == signature(
        SECRET, headers["x-signature-timestamp"], accepted.raw
    )
    # Re-serialised JSON is other bytes: only the raw body verifies.
    assert json.dumps(json.loads(accepted.raw)).encode() != accepted.raw
    event = accepted.event
    assert event["publication_id"] == 7
    assert event["idempotency_key"] == delivery.idempotency_key
    assert (event["content_id"], event["revision"]) == (10, 2)
    assert event["content_type"] == "market_update"
    assert event["title"] == DRAFT.title
    assert event["text"] == DRAFT.body
    assert event["disclaimer"] == "Not investment advice."
    assert event["data"] == {"symbols": ["SPY"], "change_pct": 1.2}
    assert event["media"] == ["http://127.0.0.1:8000/media/chart.png"]
    assert event["simulated"] is False
    assert datetime.fromisoformat(event["sent_at"]) > datetime.now(UTC) - timedelta(minutes=1)


def test_an_answer_lost_after_acceptance_is_retried_with_the_same_key_and_not_duplicated(
    receiver: WebhookReceiver, hook: webhook.WebhookAdapter
) -> None:
    receiver.play("lost_answer")
    delivery = make_delivery("webhook", publication_id=3)
    with pytest.raises(ChannelError) as lost:
        hook.send(delivery)
    assert lost.value.kind == "retry"  # the receiver dedupes: sending again is safe

    sent = hook.send(delivery)
    assert sent.post_id == "evt_1"
    assert [r.key for r in receiver.requests] == [delivery.idempotency_key] * 2
    assert [r.verdict for r in receiver.requests] == ["accepted", "replayed"]
    assert receiver.accepted_counts() == {3: 1}


def test_a_hanging_receiver_times_out_then_answers_in_flight_then_replays(
    receiver: WebhookReceiver, hook: webhook.WebhookAdapter
) -> None:
    receiver.play(Fault("hang", hang_seconds=30))
    delivery = make_delivery("webhook", publication_id=4)
    with pytest.raises(ChannelError) as timed_out:
        hook.send(delivery)
    assert timed_out.value.kind == "retry"
    assert "timed out" in timed_out.value.message

    with pytest.raises(ChannelError) as in_flight:
        hook.send(delivery)
    assert (in_flight.value.kind, in_flight.value.status_code) == ("retry", 409)

    receiver.release()
    receiver.wait_for_accepted(1)
    assert hook.send(delivery).post_id == "evt_1"
    assert receiver.accepted_counts() == {4: 1}
    assert receiver.replays[delivery.idempotency_key] == 1
    assert {r.key for r in receiver.requests} == {delivery.idempotency_key}


@pytest.mark.parametrize(
    ("fault", "kind", "retry_after"),
    [
        (Fault.answer(429, retry_after="7"), "retry", 7.0),
        (Fault.answer(500), "retry", None),
        (Fault.answer(503, retry_after="2"), "retry", 2.0),
        (Fault.answer(408), "retry", None),
        (Fault.answer(409), "retry", None),
        (Fault("drop"), "retry", None),
        (Fault.answer(400), "fail", None),
        (Fault.answer(401), "fail", None),
        (Fault.answer(404), "fail", None),
        (Fault.answer(422), "fail", None),
        (Fault.answer(301), "fail", None),
    ],
)
def test_answers_are_classified(
    receiver: WebhookReceiver,
    hook: webhook.WebhookAdapter,
    fault: Fault,
    kind: str,
    retry_after: float | None,
) -> None:
    receiver.play(fault)
    delivery = make_delivery("webhook")
    with pytest.raises(ChannelError) as refused:
        hook.send(delivery)
    assert refused.value.kind == kind
    assert refused.value.retry_after == retry_after
    if fault.kind == "status":
        assert refused.value.status_code == fault.status
    assert receiver.accepted == {}
    # The next attempt carries the same key and is taken once.
    hook.send(delivery)
    assert list(receiver.accepted) == [delivery.idempotency_key]
    assert {r.key for r in receiver.requests} == {delivery.idempotency_key}


def test_a_retry_after_date_is_turned_into_seconds(
    receiver: WebhookReceiver, hook: webhook.WebhookAdapter
) -> None:
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    receiver.play(Fault.answer(429, retry_after=later))
    with pytest.raises(ChannelError) as limited:
        hook.send(make_delivery("webhook"))
    assert limited.value.retry_after is not None
    assert 25 <= limited.value.retry_after <= 31


def test_a_wrong_secret_is_refused_by_the_receiver_and_fails(
    receiver: WebhookReceiver, channel_settings: Settings
) -> None:
    adapter = webhook.create({"url": receiver.url}, {"secret": "x" * 20}, channel_settings)
    try:
        with pytest.raises(ChannelError) as refused:
            adapter.send(make_delivery("webhook"))
    finally:
        adapter.close()
    assert (refused.value.kind, refused.value.status_code) == ("fail", 401)
    assert [r.verdict for r in receiver.requests] == ["unsigned"]
    assert receiver.accepted == {}


def test_the_receiver_refuses_a_stale_timestamp(receiver: WebhookReceiver) -> None:
    body = b'{"type":"ping"}'
    old = str(int(time.time()) - 301)
    response = httpx.post(
        receiver.url,
        content=body,
        headers={
            "Idempotency-Key": "k1",
            "X-Signature-Timestamp": old,
            "X-Signature-256": signature(SECRET, old, body),
        },
    )
    assert response.status_code == 401
    assert receiver.accepted == {}


def test_a_refused_webhook_connection_is_retried(channel_settings: Settings) -> None:
    adapter = webhook.create(
        {"url": f"http://127.0.0.1:{free_port()}/hook"}, {"secret": SECRET}, channel_settings
    )
    try:
        with pytest.raises(ChannelError) as refused:
            adapter.send(make_delivery("webhook"))
    finally:
        adapter.close()
    assert refused.value.kind == "retry"


def test_verify_sends_a_signed_ping(
    receiver: WebhookReceiver, hook: webhook.WebhookAdapter
) -> None:
    assert hook.verify().identity == "127.0.0.1"
    [ping] = receiver.events("ping")
    assert ping["idempotency_key"] == receiver.requests[0].key


def test_a_retraction_is_a_signed_event_sent_once(
    receiver: WebhookReceiver, hook: webhook.WebhookAdapter
) -> None:
    delivery = make_delivery("webhook", publication_id=9)
    sent = hook.send(delivery)
    assert hook.retract(sent) is True
    assert hook.retract(sent) is True  # a retried retraction is deduplicated
    [retraction] = receiver.events("retraction")
    assert retraction["publication_id"] == 9
    assert retraction["idempotency_key"] == delivery.idempotency_key
    assert receiver.requests[-1].verdict == "replayed"


def test_a_receiver_that_takes_no_retractions_answers_false_and_a_5xx_retries(
    receiver: WebhookReceiver, hook: webhook.WebhookAdapter
) -> None:
    sent = Sent(post_id="evt_1", data={"publication_id": 2, "idempotency_key": "k-2"})
    receiver.play(Fault.answer(404), Fault.answer(502))
    assert hook.retract(sent) is False
    with pytest.raises(ChannelError) as down:
        hook.retract(sent)
    assert down.value.kind == "retry"


@pytest.mark.parametrize(
    ("config", "credentials", "named"),
    [
        ({}, {"secret": SECRET}, "config.url is required"),
        ({"url": "ftp://example.com/x"}, {"secret": SECRET}, "not an http"),
        ({"url": "http://example.com/hook"}, {"secret": SECRET}, "must use https"),
        ({"url": "https://u:p@example.com/hook"}, {"secret": SECRET}, "no credentials"),
        ({"url": "https://example.com/hook"}, {"secret": "short"}, "at least 16"),
        ({"url": "https://example.com/hook"}, None, "secret is required"),
        ({"url": "https://example.com/hook", "urll": 1}, {"secret": SECRET}, "urll"),
    ],
)
def test_bad_webhook_settings_are_named(
    config: dict[str, Any], credentials: dict[str, Any] | None, named: str
) -> None:
    with pytest.raises(ChannelConfigError, match=named):
        webhook.check(config, credentials)


def test_good_webhook_settings_pass() -> None:
    webhook.check({"url": "https://hooks.example.com/in"}, {"secret": SECRET})
    webhook.check({"url": "http://localhost:9000/in", "name": "desk"}, {"secret": SECRET})
    assert webhook.SECRET_FIELDS == ("secret",)


# --- e-mail ----------------------------------------------------------------------------------

USER, PASSWORD = "desk", "mail-password"


@dataclass
class Mailbox:
    """An aiosmtpd handler: keeps what it accepts, refuses what it is told to."""

    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    refused_recipients: dict[str, str] = field(default_factory=dict)
    data_answers: deque[str] = field(default_factory=deque)
    data_delay: float = 0.0

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: object, session: object, envelope: Any, address: str, options: object
    ) -> str:
        if address in self.refused_recipients:
            return self.refused_recipients[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - aiosmtpd's hook name
        self, server: object, session: object, envelope: Any
    ) -> str:
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.data_answers:
            return self.data_answers.popleft()
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 OK queued"


def _authenticate(
    server: object, session: object, envelope: object, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)


@dataclass
class SmtpServer:
    port: int
    mailbox: Mailbox
    ca_file: Path


@contextmanager
def run_smtp_server(folder: Path, tls: bool = True) -> Iterator[SmtpServer]:
    write_certificate(folder)
    mailbox = Mailbox()
    port = free_port()
    options: dict[str, Any] = {"authenticator": _authenticate}
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(folder / "tls.crt", folder / "tls.key")
        options |= {"tls_context": context, "require_starttls": True}
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield SmtpServer(port, mailbox, folder / "tls.crt")
    finally:
        controller.stop()


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    with run_smtp_server(tmp_path / "certs") as server:
        yield server


def _mail_config(server: SmtpServer, **extra: Any) -> dict[str, Any]:
    return {
        "recipients": ["ann@example.com", "bob@example.org"],
        "from": "Finance Desk <desk@example.com>",
        "host": "127.0.0.1",
        "port": server.port,
        "starttls": True,
        "ca_file": str(server.ca_file),
        **extra,
    }


def _mailer(
    server: SmtpServer, settings: Settings, password: str = PASSWORD, **extra: Any
) -> email_channel.EmailAdapter:
    credentials = {"username": USER, "password": password}
    return email_channel.create(_mail_config(server, **extra), credentials, settings)


def test_a_delivery_is_one_multipart_message_over_starttls(
    smtp: SmtpServer, channel_settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "chart.png").write_bytes(PNG)
    chart = MediaFile(tmp_path / "chart.png", "image/png", alt_text="Chart of the S&P 500")
    delivery = make_delivery("email", publication_id=5, key="key-5", media=(chart,))
    sent = _mailer(smtp, channel_settings, reply_to="replies@example.com").send(delivery)

    assert sent.post_id == "<key-5@finagency>"
    assert sent.data == {"recipients": ["ann@example.com", "bob@example.org"]}
    [(envelope_recipients, message)] = smtp.mailbox.received
    assert envelope_recipients == ["ann@example.com", "bob@example.org"]
    assert message["Message-ID"] == "<key-5@finagency>"
    assert message["Subject"] == DRAFT.title
    assert message["From"] == "Finance Desk <desk@example.com>"
    assert message["Reply-To"] == "replies@example.com"
    # Subscribers do not see each other's addresses.
    assert "ann@example.com" not in str(message["To"])
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    assert text.get_content().replace("\r\n", "\n") == DRAFT.plain_text + "\n"
    assert "Treasury yields fell &lt;2 bp&gt;." in html.get_content()
    [image] = [part for part in message.walk() if part.get_content_type() == "image/png"]
    assert image.get_content() == PNG
    assert f"cid:{str(image['Content-ID']).strip('<>')}" in html.get_content()


def test_the_ca_file_may_come_from_the_settings_and_a_resend_keeps_its_message_id(
    smtp: SmtpServer, tmp_path: Path
) -> None:
    settings = load_settings(data_dir=tmp_path, smtp_ca_file=str(smtp.ca_file))
    config = {"recipients": ["ann@example.com"], "host": "127.0.0.1", "port": smtp.port}
    adapter = email_channel.create(config, {"username": USER, "password": PASSWORD}, settings)
    delivery = make_delivery("email", key="same-key")
    adapter.send(delivery)
    adapter.send(delivery)
    ids = [message["Message-ID"] for _, message in smtp.mailbox.received]
    assert ids == ["<same-key@finagency>"] * 2  # what a receiving system dedupes on
    assert smtp.mailbox.received[0][1]["To"] == "ann@example.com"
    assert smtp.mailbox.received[0][1]["From"] == settings.mail_from


def test_an_unknown_certificate_fails_and_nothing_goes_out_in_clear(
    smtp: SmtpServer, channel_settings: Settings
) -> None:
    config = _mail_config(smtp)
    del config["ca_file"]
    adapter = email_channel.create(
        config, {"username": USER, "password": PASSWORD}, channel_settings
    )
    with pytest.raises(ChannelError) as untrusted:
        adapter.send(make_delivery("email"))
    assert untrusted.value.kind == "fail"
    assert "certificate" in untrusted.value.message
    assert smtp.mailbox.received == []


def test_a_missing_ca_file_fails(smtp: SmtpServer, channel_settings: Settings) -> None:
    adapter = _mailer(smtp, channel_settings, ca_file=str(smtp.ca_file) + ".missing")
    with pytest.raises(ChannelError) as missing:
        adapter.send(make_delivery("email"))
    assert missing.value.kind == "fail"
    assert "CA file" in missing.value.message


def test_a_server_without_starttls_fails_when_starttls_is_configured(
    tmp_path: Path, channel_settings: Settings
) -> None:
    with run_smtp_server(tmp_path / "certs", tls=False) as plain:
        adapter = email_channel.create(_mail_config(plain), None, channel_settings)
        with pytest.raises(ChannelError) as refused:
            adapter.send(make_delivery("email"))
        assert refused.value.kind == "fail"
        assert "STARTTLS" in refused.value.message
        assert plain.mailbox.received == []


def test_a_451_after_data_is_retried(smtp: SmtpServer, channel_settings: Settings) -> None:
    smtp.mailbox.data_answers.append("451 4.3.0 Try again later")
    with pytest.raises(ChannelError) as later:
        _mailer(smtp, channel_settings).send(make_delivery("email"))
    assert (later.value.kind, later.value.status_code) == ("retry", 451)
    assert smtp.mailbox.received == []


def test_a_554_after_data_fails(smtp: SmtpServer, channel_settings: Settings) -> None:
    smtp.mailbox.data_answers.append("554 5.7.1 Message rejected")
    with pytest.raises(ChannelError) as rejected:
        _mailer(smtp, channel_settings).send(make_delivery("email"))
    assert (rejected.value.kind, rejected.value.status_code) == ("fail", 554)


def test_a_refused_login_fails(smtp: SmtpServer, channel_settings: Settings) -> None:
    with pytest.raises(ChannelError) as refused:
        _mailer(smtp, channel_settings, password="wrong").send(make_delivery("email"))
    assert (refused.value.kind, refused.value.status_code) == ("fail", 535)
    assert smtp.mailbox.received == []


def test_a_refused_smtp_connection_is_retried(channel_settings: Settings) -> None:
    config = {"recipients": ["ann@example.com"], "host": "127.0.0.1", "port": free_port()}
    adapter = email_channel.create(config, None, channel_settings)
    with pytest.raises(ChannelError) as refused:
        adapter.send(make_delivery("email"))
    assert refused.value.kind == "retry"


def test_recipients_refused_for_good_fail_and_a_partial_refusal_is_reported(
    smtp: SmtpServer, channel_settings: Settings
) -> None:
    smtp.mailbox.refused_recipients = {
        "ann@example.com": "550 5.1.1 No such user",
        "bob@example.org": "550 5.1.1 No such user",
    }
    with pytest.raises(ChannelError) as refused:
        _mailer(smtp, channel_settings).send(make_delivery("email"))
    assert (refused.value.kind, refused.value.status_code) == ("fail", 550)

    smtp.mailbox.refused_recipients = {"bob@example.org": "450 4.2.1 Mailbox busy"}
    sent = _mailer(smtp, channel_settings).send(make_delivery("email"))
    assert sent.data["recipients"] == ["ann@example.com"]
    assert sent.data["refused"] == {"bob@example.org": "450 4.2.1 Mailbox busy"}
    assert [recipients for recipients, _ in smtp.mailbox.received] == [["ann@example.com"]]


def test_every_recipient_refused_for_now_is_retried(
    smtp: SmtpServer, channel_settings: Settings
) -> None:
    smtp.mailbox.refused_recipients = {
        "ann@example.com": "451 4.7.1 Greylisted",
        "bob@example.org": "550 5.1.1 No such user",
    }
    with pytest.raises(ChannelError) as greylisted:
        _mailer(smtp, channel_settings).send(make_delivery("email"))
    assert greylisted.value.kind == "retry"


def test_no_answer_after_the_message_went_out_is_unknown(
    smtp: SmtpServer, channel_settings: Settings
) -> None:
    smtp.mailbox.data_delay = 2.0  # longer than publish_timeout (0.5 s)
    with pytest.raises(ChannelError) as silent:
        _mailer(smtp, channel_settings).send(make_delivery("email"))
    assert silent.value.kind == "unknown"
    assert email_channel.EmailAdapter.idempotent is False


def test_verify_logs_in_over_starttls(smtp: SmtpServer, channel_settings: Settings) -> None:
    verified = _mailer(smtp, channel_settings).verify()
    assert verified.identity == f"smtp://127.0.0.1:{smtp.port}"
    with pytest.raises(ChannelError) as refused:
        _mailer(smtp, channel_settings, password="wrong").verify()
    assert refused.value.kind == "fail"


def test_an_e_mail_cannot_be_retracted(smtp: SmtpServer, channel_settings: Settings) -> None:
    adapter = _mailer(smtp, channel_settings)
    assert adapter.retract(adapter.send(make_delivery("email"))) is False


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"recipients": []}, "1 to 100"),
        ({"recipients": [f"u{i}@example.com" for i in range(101)]}, "1 to 100"),
        ({"recipients": ["not-an-address"]}, "not an e-mail address"),
        ({"recipients": ["a b@example.com"]}, "not an e-mail address"),
        ({"recipients": ["ann@example.com", "ANN@example.com"]}, "twice"),
        ({"from": "Desk <desk>"}, "from"),
        ({"from": "desk@example.com\r\nBcc: all@example.com"}, "from"),
        ({"reply_to": "nobody"}, "reply_to"),
        ({"host": ""}, "host is required"),
        ({"port": 0}, "port"),
        ({"starttls": "yes"}, "starttls"),
        ({"recipient": ["ann@example.com"]}, "unknown config field"),
    ],
)
def test_bad_email_settings_are_named(change: dict[str, Any], named: str) -> None:
    config = {"recipients": ["ann@example.com"], "host": "smtp.example.com", "port": 587}
    with pytest.raises(ChannelConfigError, match=named):
        email_channel.check(config | change, None)


def test_email_credentials_come_both_or_not_at_all_and_never_in_clear() -> None:
    config = {"recipients": ["ann@example.com"], "host": "smtp.example.com"}
    email_channel.check(config, None)
    email_channel.check(config, {"username": "u", "password": "p"})
    with pytest.raises(ChannelConfigError, match="both"):
        email_channel.check(config, {"username": "u"})
    with pytest.raises(ChannelConfigError, match="in clear"):
        email_channel.check(config | {"starttls": False}, {"username": "u", "password": "p"})
    assert "password" in email_channel.SECRET_FIELDS


# --- file ------------------------------------------------------------------------------------


def _outbox(settings: Settings, name: str = "desk") -> file_channel.FileAdapter:
    return file_channel.create({"name": name}, None, settings)


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_each_delivery_is_one_json_line_in_the_channels_outbox(
    channel_settings: Settings,
) -> None:
    adapter = _outbox(channel_settings)
    deliveries = [make_delivery("file", publication_id=n) for n in (1, 2, 3)]
    sent = [adapter.send(d) for d in deliveries]

    path = channel_settings.data_dir / "outbox" / "desk.jsonl"
    assert adapter.path == path
    assert [s.post_id for s in sent] == ["desk:1", "desk:2", "desk:3"]
    assert all(s.url is None for s in sent)
    records = [json.loads(line) for line in _lines(path)]
    assert [r["publication_id"] for r in records] == [1, 2, 3]
    assert [r["idempotency_key"] for r in records] == [d.idempotency_key for d in deliveries]
    first = records[0]
    assert first["text"] == DRAFT.plain_text
    assert first["json"]["paragraphs"] == DRAFT.paragraphs
    assert (first["content_id"], first["revision"], first["content_type"]) == (
        10,
        2,
        "market_update",
    )
    assert first["title"] == DRAFT.title
    assert first["media"] == []
    assert first["simulated"] is False
    assert "sent_at" in first


def test_a_second_send_of_the_same_key_writes_no_second_line(
    channel_settings: Settings,
) -> None:
    delivery = make_delivery("file", publication_id=8)
    first = _outbox(channel_settings).send(make_delivery("file", publication_id=7))
    sent = _outbox(channel_settings).send(delivery)
    # As after a crash between the write and the database's commit: a new adapter, same key.
    again = _outbox(channel_settings).send(delivery)
    assert (first.post_id, sent.post_id, again.post_id) == ("desk:1", "desk:2", "desk:2")
    assert len(_lines(_outbox(channel_settings).path)) == 2


def test_concurrent_sends_give_whole_lines_once_per_key(channel_settings: Settings) -> None:
    big = "x" * 100_000  # larger than a pipe buffer: a split write would show
    deliveries = [make_delivery("file", publication_id=n, text=big) for n in range(40)]
    results: list[Sent] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def writer(offset: int) -> None:
        adapter = _outbox(channel_settings)
        # Every thread sends every delivery, from a different starting point.
        for index in range(len(deliveries)):
            try:
                sent = adapter.send(deliveries[(index + offset) % len(deliveries)])
            except BaseException as error:  # reported below, in the test's thread
                errors.append(error)
                return
            with lock:
                results.append(sent)

    threads = [threading.Thread(target=writer, args=(n * 5,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    lines = _lines(_outbox(channel_settings).path)
    assert len(lines) == 40
    records = [json.loads(line) for line in lines]
    assert all(line.endswith(b"\n") for line in lines)
    assert sorted(r["publication_id"] for r in records) == list(range(40))
    assert all(r["text"] == big for r in records)
    by_publication = {
        r["publication_id"]: f"desk:{number}" for number, r in enumerate(records, start=1)
    }
    for sent in results:
        assert sent.post_id == by_publication[sent.data["publication_id"]]
    assert len(results) == 8 * 40


def test_a_torn_last_line_is_never_a_delivery(channel_settings: Settings) -> None:
    adapter = _outbox(channel_settings)
    delivery = make_delivery("file", publication_id=1)
    line = json.dumps({"publication_id": 1, "idempotency_key": delivery.idempotency_key})
    adapter.directory.mkdir(parents=True)
    adapter.path.write_bytes(line[:-10].encode())  # a crash mid-write

    sent = adapter.send(delivery)
    assert sent.post_id == "desk:2"
    lines = _lines(adapter.path)
    assert len(lines) == 2
    assert json.loads(lines[1])["idempotency_key"] == delivery.idempotency_key
    assert adapter.send(delivery).post_id == "desk:2"


def test_a_retraction_is_a_line_of_its_own_written_once(channel_settings: Settings) -> None:
    adapter = _outbox(channel_settings)
    sent = adapter.send(make_delivery("file", publication_id=12))
    assert adapter.retract(sent) is True
    assert adapter.retract(sent) is True
    lines = [json.loads(line) for line in _lines(adapter.path)]
    assert len(lines) == 2
    assert lines[1]["retraction"] == 12
    assert lines[1]["post_id"] == "desk:1"


def test_verify_names_the_file_and_an_unusable_directory_fails(
    channel_settings: Settings,
) -> None:
    adapter = _outbox(channel_settings)
    assert adapter.verify().identity == str(channel_settings.data_dir / "outbox" / "desk.jsonl")

    (channel_settings.data_dir / "blocked").write_text("a file, not a directory")
    blocked = file_channel.FileAdapter("desk", channel_settings.data_dir / "blocked")
    with pytest.raises(ChannelError) as unusable:
        blocked.verify()
    assert unusable.value.kind == "fail"
    with pytest.raises(ChannelError) as unwritable:
        blocked.send(make_delivery("file"))
    assert unwritable.value.kind == "fail"


@pytest.mark.parametrize(
    "name", ["../evil", "a/b", "a\\b", ".hidden", "", "a b", "x" * 101, "a..b", None, 3]
)
def test_unsafe_names_are_refused(name: Any, channel_settings: Settings) -> None:
    with pytest.raises(ChannelConfigError, match="file name"):
        file_channel.check({"name": name}, None)
    with pytest.raises(ChannelConfigError, match="file name"):
        file_channel.create({"name": name}, None, channel_settings)
    assert not (channel_settings.data_dir / "outbox").exists()


def test_no_directory_and_no_credentials_may_be_configured(channel_settings: Settings) -> None:
    with pytest.raises(ChannelConfigError, match="directory"):
        file_channel.check({"name": "desk", "directory": "/etc"}, None)
    with pytest.raises(ChannelConfigError, match="credentials"):
        file_channel.check({"name": "desk"}, {"token": "x"})
    with pytest.raises(ChannelConfigError, match="name"):
        file_channel.create({}, None, channel_settings)
    file_channel.check({}, None)  # at creation, the name is checked on its own
    assert file_channel.check_name("desk-2026.daily_v1") == "desk-2026.daily_v1"
    assert file_channel.SECRET_FIELDS == ()
