"""The whole periodic schedule, in one place, for Celery beat and the in-process worker alike.

crontab, not intervals: an interval restarts from zero whenever beat restarts (the publishing
dispatcher, every second or so, is the exception: a restart costs it a second). Every entry has
an `expires`, so a run that waited too long in the queue is dropped instead of piling up.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from celery.schedules import crontab, schedule


def beat_schedule(
    refresh_minutes: int = 5, dispatch_seconds: float = 0.5
) -> dict[str, dict[str, Any]]:
    return {
        # Due publications go out within ~2 s of their time: every second, recover expired
        # claims, then claim what is due.
        "publishing.dispatch": {
            "task": "publishing.dispatch",
            "schedule": schedule(timedelta(seconds=dispatch_seconds)),
            "options": {"expires": max(1.0, dispatch_seconds * 2)},
        },
        "publishing.notify_staff": {
            "task": "publishing.notify_staff",
            "schedule": crontab(minute="*"),
            "options": {"expires": 50},
        },
        "market.scheduled_refresh": {
            "task": "market.scheduled_refresh",
            "schedule": crontab(minute=f"*/{refresh_minutes}"),
            "options": {"expires": refresh_minutes * 60 - 10},
        },
        "market.close_snapshots": {
            "task": "market.close_snapshots",
            "schedule": crontab(minute="*/15"),
            "options": {"expires": 600},
        },
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
        # Recurring content schedules: the rows say when; each minute makes the due ones.
        "content.run_schedules": {
            "task": "content.run_schedules",
            "schedule": crontab(minute="*"),
            "options": {"expires": 50},
        },
        # Requests whose message was lost (broker down, worker died) are sent again.
        "content.recover_requests": {
            "task": "content.recover_requests",
            "schedule": crontab(minute="*"),
            "options": {"expires": 50},
        },
        "research.fetch_feeds": {
            "task": "research.fetch_feeds",
            "schedule": crontab(minute="*/15"),
            "options": {"expires": 600},
        },
    }
