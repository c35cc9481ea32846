"""Registration, password resets and invitations, with the mail really delivered: to files in
embedded mode, and to a real SMTP server (aiosmtpd) when one is configured."""

import re
import ssl
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from finagency.accounts.permissions import Role
from finagency.mail import service as mail_service
from finagency.mail.models import OutgoingMail
from finagency.settings import Settings, load_settings
from tests.fixtures.accounts import FAST_HASHING, PASSWORD, bearer, make_user
from tests.fixtures.certificates import write_certificate
from tests.fixtures.services import free_port

NEW_PASSWORD = "plum-velvet-harbour-73"


def _mail_files(settings: Settings, count: int, timeout: float = 10.0) -> list[Message]:
    folder = settings.data_dir / "mail"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = sorted(folder.glob("*.eml")) if folder.exists() else []
        if len(files) >= count:
            return [message_from_bytes(f.read_bytes()) for f in files]
        time.sleep(0.05)
    raise AssertionError(f"expected {count} mails in {folder}")


def _link_token(message: Message) -> str:
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    found = re.search(r"reset-password\?token=([\w-]+)", body.decode())
    assert found, body
    return found.group(1)


async def _user(app: FastAPI, role: Role = Role.editor, email: str | None = None) -> Any:
    async with app.state.database.session() as session:
        return await make_user(session, app.state.settings, role, email=email)


async def test_password_reset_by_e_mailed_link(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    user = await _user(live_app)
    old_tokens = (
        await live_client.post(
            "/api/v1/auth/login", json={"email": user.email, "password": PASSWORD}
        )
    ).json()
    asked = await live_client.post("/api/v1/auth/password-reset", json={"email": user.email})
    unknown = await live_client.post(
        "/api/v1/auth/password-reset", json={"email": "no@example.com"}
    )
    assert asked.status_code == unknown.status_code == 202
    assert asked.json() == unknown.json()

    [message] = _mail_files(live_app.state.settings, 1)
    assert message["To"] == user.email
    token = _link_token(message)
    confirm = await live_client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert confirm.status_code == 204
    again = await live_client.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": token, "new_password": NEW_PASSWORD + "x"},
    )
    assert again.status_code == 400  # a link works once
    login = await live_client.post(
        "/api/v1/auth/login", json={"email": user.email, "password": NEW_PASSWORD}
    )
    assert login.status_code == 200
    stale = await live_client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {old_tokens['access_token']}"}
    )
    assert stale.status_code == 401  # a reset ends every earlier session


async def test_a_sent_mail_keeps_no_link_in_the_database(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    user = await _user(live_app)
    await live_client.post("/api/v1/auth/password-reset", json={"email": user.email})
    _mail_files(live_app.state.settings, 1)
    async with live_app.state.database.session() as session:
        rows = list(await session.scalars(mail_service.select_all()))
    assert [(row.sent_at is not None, row.body) for row in rows] == [(True, None)]


async def test_an_invited_user_chooses_a_password_from_the_link(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    admin = await _user(live_app, Role.admin)
    created = await live_client.post(
        "/api/v1/users",
        json={"email": "New.Analyst@Example.com", "display_name": "New", "role": "analyst"},
        headers=bearer(live_app.state.settings, admin),
    )
    assert created.status_code == 201
    assert created.headers["location"] == f"/api/v1/users/{created.json()['id']}"
    [message] = _mail_files(live_app.state.settings, 1)
    assert "invited" in message["Subject"]
    token = _link_token(message)
    chosen = await live_client.post(
        "/api/v1/auth/password-reset/confirm", json={"token": token, "new_password": NEW_PASSWORD}
    )
    assert chosen.status_code == 204
    login = await live_client.post(
        "/api/v1/auth/login", json={"email": "new.analyst@example.com", "password": NEW_PASSWORD}
    )
    assert login.status_code == 200


async def test_registration_is_open_in_development_and_an_admin_can_close_it(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    settings = live_app.state.settings
    admin = await _user(live_app, Role.admin, email="admin@example.com")
    first = await live_client.post(
        "/api/v1/auth/register",
        json={"email": "reader@example.com", "display_name": "Reader", "password": NEW_PASSWORD},
    )
    taken = await live_client.post(
        "/api/v1/auth/register",
        json={"email": "ADMIN@example.com", "display_name": "Imposter", "password": NEW_PASSWORD},
    )
    # The same answer whether or not the address already has an account.
    assert first.status_code == taken.status_code == 202
    assert first.json() == taken.json()
    me = await live_client.post(
        "/api/v1/auth/login", json={"email": "reader@example.com", "password": NEW_PASSWORD}
    )
    token = me.json()["access_token"]
    whoami = await live_client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert whoami.json()["role"] == "viewer"
    [notice] = _mail_files(settings, 1)
    assert notice["To"] == "admin@example.com"  # the owner hears of the attempt

    closed = await live_client.patch(
        "/api/v1/settings", json={"registration_open": False}, headers=bearer(settings, admin)
    )
    assert closed.json() == {"registration_open": False}
    refused = await live_client.post(
        "/api/v1/auth/register",
        json={"email": "late@example.com", "display_name": "Late", "password": NEW_PASSWORD},
    )
    assert refused.status_code == 403


async def test_registration_is_closed_by_default_in_production(
    db_session: AsyncSession, database_url: str, tmp_path: Path
) -> None:
    settings = load_settings(
        env="production",
        secret_key="p" * 40,
        database_url="postgresql://u@127.0.0.1/x",
        data_dir=tmp_path,
    )
    assert settings.registration_default is False
    assert load_settings(data_dir=tmp_path).registration_default is True


async def test_a_weak_password_is_refused_with_the_reason(
    live_app: FastAPI, live_client: httpx.AsyncClient
) -> None:
    response = await live_client.post(
        "/api/v1/auth/register",
        json={"email": "weak@example.com", "display_name": "Weak", "password": "password1234"},
    )
    assert response.status_code == 422
    assert "too common" in response.json()["detail"]
    assert "password1234" not in response.text


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, _Inbox]]:
    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def test_starttls_is_used_and_the_certificate_checked(tmp_path: Path) -> None:
    write_certificate(tmp_path / "certs")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "certs" / "tls.crt", tmp_path / "certs" / "tls.key")
    inbox = _Inbox()
    port = free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True
    )
    controller.start()
    try:
        mail = OutgoingMail(id=8, recipient="ed@example.com", subject="Over TLS", body="x")
        trusted = load_settings(
            data_dir=tmp_path,
            smtp_host="127.0.0.1",
            smtp_port=port,
            smtp_ca_file=str(tmp_path / "certs" / "tls.crt"),
            **FAST_HASHING,
        )
        mail_service.deliver(trusted, mail_service.build_message(trusted, mail), 8)
        assert [m["Subject"] for m in inbox.messages] == ["Over TLS"]
        # Without the CA, an unknown certificate is refused: nothing is sent in clear.
        untrusted = load_settings(
            data_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=port, **FAST_HASHING
        )
        with pytest.raises(ssl.SSLCertVerificationError):
            mail_service.deliver(untrusted, mail_service.build_message(untrusted, mail), 8)
        assert len(inbox.messages) == 1
    finally:
        controller.stop()


def test_mail_goes_through_a_real_smtp_server(
    smtp_server: tuple[int, _Inbox], tmp_path: Path
) -> None:
    port, inbox = smtp_server
    settings = load_settings(
        data_dir=tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=False,
        **FAST_HASHING,
    )
    mail = OutgoingMail(id=7, recipient="ed@example.com", subject="Hello", body="A link: x")
    mail_service.deliver(settings, mail_service.build_message(settings, mail), 7)
    [received] = inbox.messages
    assert received["To"] == "ed@example.com"
    assert received["Subject"] == "Hello"
    assert received["From"] == settings.mail_from
    assert not (tmp_path / "mail").exists()
