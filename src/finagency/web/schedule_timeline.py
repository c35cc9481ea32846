"""The Schedule page's timeline: one lane per channel, a marker per publication placed by its
moment along the window, markers that would overlap stacked in lanes, ticks and the now line.
Only geometry here; _schedule_timeline.html draws it as SVG."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from finagency.publishing.models import Channel

# Each status in words; shapes and colours are in _schedule_marks.html and schedule.css.
STATUS_LABELS = {
    "scheduled": "scheduled",
    "retry": "queued to retry",
    "sending": "sending",
    "published": "published",
    "failed": "failed",
    "unknown": "unknown: did it go out?",
    "cancelled": "cancelled",
}


class Listed(Protocol):
    """What the Schedule page reads of a publication: the ORM object, or a row of its columns."""

    @property
    def id(self) -> int: ...
    @property
    def content_id(self) -> int: ...
    @property
    def revision_number(self) -> int: ...
    @property
    def channel_id(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def scheduled_at(self) -> datetime: ...
    @property
    def published_at(self) -> datetime | None: ...
    @property
    def due_at(self) -> datetime: ...
    @property
    def attempts(self) -> int: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def platform_url(self) -> str | None: ...
    @property
    def deferred_reason(self) -> str | None: ...


@dataclass(frozen=True)
class Row:
    """A publication as the page lists it: its channel, title and the moment it is drawn at."""

    publication: Listed
    channel: Channel
    title: str

    @property
    def moment(self) -> datetime:
        return moment_of(self.publication)

    @property
    def label(self) -> str:
        return STATUS_LABELS.get(self.publication.status, self.publication.status)


def moment_of(publication: Listed) -> datetime:
    """When it went out if it did, else when it is (or was) planned to."""
    if publication.status == "published" and publication.published_at is not None:
        return publication.published_at
    return publication.scheduled_at


WIDTH = 1000
LEFT = 170  # the channel names
RIGHT = WIDTH - 20
AXIS = 36  # the tick labels above the rows
LANE = 22  # markers that would overlap go in lanes, one above the other
MAX_LANES = 4
GAP = 18
PAD = 8
TICK_STEPS = [timedelta(hours=h) for h in (1, 3, 6, 12, 24, 48, 168, 336)]
MONDAY = datetime(1970, 1, 5, tzinfo=UTC)  # weekly ticks fall on Mondays, the others on the hour


@dataclass(frozen=True)
class Marker:
    row: Row
    x: float
    y: float

    @property
    def text(self) -> str:
        """The tooltip and the link's accessible name."""
        p = self.row.publication
        when = self.row.moment.strftime("%Y-%m-%d %H:%M UTC")
        return f"#{p.id} {self.row.title} — {self.row.channel.name}: {self.row.label}, {when}"


@dataclass(frozen=True)
class Lane:
    channel: Channel
    top: float
    height: float
    markers: list[Marker]

    @property
    def name(self) -> str:
        name = self.channel.name
        return name if len(name) <= 20 else name[:19] + "…"

    @property
    def middle(self) -> float:
        return self.top + self.height / 2


@dataclass(frozen=True)
class Tick:
    x: float
    label: str
    midnight: bool


@dataclass(frozen=True)
class Timeline:
    lanes: list[Lane]
    ticks: list[Tick]
    now_x: float | None
    height: float
    width: int = WIDTH
    left: int = LEFT
    right: int = RIGHT
    axis: int = AXIS


def _ticks(start: datetime, end: datetime, x_of: Any) -> list[Tick]:
    span = end - start
    step = next((s for s in TICK_STEPS if span / s <= 9), TICK_STEPS[-1])
    tick = MONDAY + step * -((MONDAY - start) // step)  # the first step boundary at or after start
    ticks = []
    while tick <= end:
        midnight = tick.hour == 0
        label = tick.strftime("%H:%M") if step < timedelta(days=1) and not midnight else ""
        label = label or tick.strftime("%a %d %b")
        ticks.append(Tick(x_of(tick), label, midnight))
        tick += step
    return ticks


def _lanes_of(xs: Sequence[float]) -> list[int]:
    """Which lane each marker (in x order) goes in: the first where it overlaps nothing."""
    ends: list[float] = []
    chosen = []
    for x in xs:
        free = next((i for i, last in enumerate(ends) if x - last >= GAP), None)
        if free is None and len(ends) < MAX_LANES:
            ends.append(x)
            free = len(ends) - 1
        elif free is None:  # crowded: on top of the lane that ended first
            free = min(range(len(ends)), key=ends.__getitem__)
        ends[free] = x
        chosen.append(free)
    return chosen


def layout(
    rows: Sequence[Row], channels: Sequence[Channel], start: datetime, end: datetime, now: datetime
) -> Timeline:
    seconds = (end - start).total_seconds()

    def x_of(moment: datetime) -> float:
        return round(LEFT + (moment - start).total_seconds() / seconds * (RIGHT - LEFT), 1)

    lanes = []
    top = float(AXIS)
    for channel in channels:
        mine = sorted((r for r in rows if r.channel.id == channel.id), key=lambda r: r.moment)
        xs = [x_of(r.moment) for r in mine]
        chosen = _lanes_of(xs)
        height = 2 * PAD + LANE * (max(chosen, default=0) + 1)
        markers = [
            Marker(row, x, top + PAD + LANE * lane + LANE / 2)
            for row, x, lane in zip(mine, xs, chosen, strict=True)
        ]
        lanes.append(Lane(channel, top, height, markers))
        top += height
    now_x = x_of(now) if start <= now <= end else None
    return Timeline(lanes, _ticks(start, end, x_of), now_x, top + 4)
