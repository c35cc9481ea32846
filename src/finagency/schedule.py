"""The whole periodic schedule, in one place, for Celery beat and the in-process worker alike.

crontab, not intervals: an interval restarts from zero whenever beat restarts. Every entry has an
`expires`, so a run that waited too long in the queue is dropped instead of piling up.
"""

from __future__ import annotations

from typing import Any

from celery.schedules import crontab


def beat_schedule() -> dict[str, dict[str, Any]]:
    return {
        "system.ping": {
            "task": "system.ping",
            "schedule": crontab(minute="*"),
            "options": {"expires": 50},
        },
        "accounts.prune_audit": {
            "task": "accounts.prune_audit",
            "schedule": crontab(minute="17", hour="3"),
            "options": {"expires": 3600},
        },
    }
