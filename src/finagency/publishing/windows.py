"""Posting windows: the local hours (and weekdays) in which a channel may post.

A window is {"timezone": IANA zone, "start": "HH:MM", "end": "HH:MM", "weekdays": [1..7]}, in the
channel's local wall-clock time, so it follows daylight-saving changes. A publication asked for
outside the window is planned for the window's next opening.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")


def check_window(window: dict[str, Any]) -> dict[str, Any]:
    """The window normalised; a ValueError names what is wrong."""
    unknown = set(window) - {"timezone", "start", "end", "weekdays"}
    if unknown:
        raise ValueError(f"unknown posting window field(s): {', '.join(sorted(unknown))}")
    try:
        ZoneInfo(str(window.get("timezone", "")))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {window.get('timezone')!r}") from None
    for key in ("start", "end"):
        if not _HHMM.match(str(window.get(key, ""))):
            raise ValueError(f"posting window {key} must be HH:MM (24-hour)")
    if window["start"] >= window["end"]:
        raise ValueError("posting window start must be before its end (same day)")
    weekdays = window.get("weekdays", [1, 2, 3, 4, 5, 6, 7])
    if (
        not isinstance(weekdays, list)
        or not weekdays
        or any(not isinstance(d, int) or isinstance(d, bool) or not 1 <= d <= 7 for d in weekdays)
    ):
        raise ValueError("posting window weekdays must be ISO weekdays 1 (Monday) … 7 (Sunday)")
    return {**window, "weekdays": sorted(set(weekdays))}


def _at(day: date, hhmm: str, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local wall time; a time inside a spring-forward gap does not exist,
    so it is the end of the gap (02:30 on the night of the change is 03:00), as schedules do."""
    hour, minute = map(int, hhmm.split(":"))
    local = datetime.combine(day, time(hour, minute))
    for step in range(0, 24 * 60):  # gaps last an hour (rarely more); never a whole day
        candidate = (local + timedelta(minutes=step)).replace(tzinfo=zone)
        if candidate.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == candidate.replace(
            tzinfo=None
        ):
            return candidate.astimezone(UTC)
    raise ValueError(f"no valid local time near {local} in {zone}")


def next_open(window: dict[str, Any] | None, moment: datetime) -> datetime:
    """`moment` if it falls inside the window, else the window's next opening (UTC)."""
    if not window:
        return moment
    zone = ZoneInfo(window["timezone"])
    weekdays = set(window.get("weekdays") or range(1, 8))
    local_day = moment.astimezone(zone).date()
    for offset in range(8):
        day = local_day + timedelta(days=offset)
        if day.isoweekday() not in weekdays:
            continue
        opens, closes = _at(day, window["start"], zone), _at(day, window["end"], zone)
        if moment < closes:
            return max(moment, opens)
    raise ValueError("the posting window never opens")  # weekdays non-empty: unreachable
