"""Tasks about the platform itself."""

from __future__ import annotations

import socket
from typing import Any

from celery import shared_task
from sqlalchemy import text

from finagency.db import get_database


@shared_task(name="system.ping")
def ping() -> dict[str, Any]:
    """Prove the path beat → queue → worker → database works; the schedule runs it every minute."""
    database = get_database()
    with database.sync_session() as session:
        session.execute(text("SELECT 1"))
    return {"pong": True, "worker": socket.gethostname(), "database": database.backend}
