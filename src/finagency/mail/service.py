"""Queue a message (a row, sent after the commit); deliver it by SMTP or, embedded, to a file."""

from __future__ import annotations

import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from finagency import tasks
from finagency.db import utcnow
from finagency.mail.models import OutgoingMail
from finagency.settings import Settings

SEND_TASK = "mail.send"


async def queue_mail(
    session: AsyncSession, recipient: str, subject: str, body: str
) -> OutgoingMail:
    mail = OutgoingMail(recipient=recipient, subject=subject, body=body)
    session.add(mail)
    await session.flush()
    tasks.enqueue_after_commit(session, SEND_TASK, mail.id)
    return mail


def select_all() -> Select[OutgoingMail]:
    return select(OutgoingMail).order_by(OutgoingMail.id)


def build_message(settings: Settings, mail: OutgoingMail) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = mail.recipient
    message["Subject"] = mail.subject
    message["Message-ID"] = make_msgid(domain="finagency")
    message.set_content(mail.body or "")
    return message


def deliver(settings: Settings, message: EmailMessage, mail_id: int) -> None:
    """SMTP (STARTTLS when set) when a host is configured; else a .eml file in the data dir."""
    if not settings.smtp_host:
        folder = Path(settings.data_dir) / "mail"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Reset links are secrets: readable by the owner only.
        fd = os.open(folder / f"{mail_id:08d}.eml", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(bytes(message))
        return
    with smtplib.SMTP(
        settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout
    ) as smtp:
        if settings.smtp_starttls:
            cafile = str(settings.smtp_ca_file) if settings.smtp_ca_file else None
            smtp.starttls(context=ssl.create_default_context(cafile=cafile))
        if settings.smtp_username and settings.smtp_password:
            smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        smtp.send_message(message)


def mark_sent(mail: OutgoingMail) -> None:
    mail.sent_at = utcnow()
    mail.body = None
