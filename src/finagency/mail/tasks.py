"""Sending queued mail. Safe to run twice: a sent message is skipped."""

from __future__ import annotations

import smtplib
from typing import Any

from celery import shared_task
from sqlalchemy import select

from finagency.db import get_database
from finagency.mail import service
from finagency.mail.models import OutgoingMail


@shared_task(name=service.SEND_TASK, bind=True, max_retries=5, default_retry_delay=30)
def send(self: Any, mail_id: int) -> bool:
    database = get_database()
    with database.sync_session() as session:
        mail = session.scalars(
            select(OutgoingMail).where(OutgoingMail.id == mail_id).with_for_update()
        ).one_or_none()
        if mail is None or mail.sent_at is not None:
            return False
        mail.attempts += 1
        message = service.build_message(database.settings, mail)
        try:
            service.deliver(database.settings, message, mail.id)
        except (OSError, smtplib.SMTPException) as error:
            mail.last_error = f"{type(error).__name__}: {error}"[:1000]
            session.commit()
            raise self.retry(exc=error) from error
        service.mark_sent(mail)
    return True
