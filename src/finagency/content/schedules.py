"""Recurring content schedules: managed by editors, run by the beat, right across DST changes.

A schedule names a wall-clock time in an IANA zone on some ISO weekdays. `next_run` turns that
into the next UTC instant:

- a local time that does not exist (spring forward) runs at the first instant after the gap:
  02:30 on a day New York jumps 02:00 → 03:00 runs at 03:00 EDT. Schedules keep their order
  (a 02:30 run never lands after a 03:15 one), and the run is as close as possible to the time
  asked for;
- a local time that happens twice (fall back) runs once, at its first occurrence (fold=0).

`run_due` claims each due run with a conditional UPDATE that moves `next_run_at` on, and makes
its request with the idempotency key `schedule:<id>:<run time UTC>`, so two beats (or two
workers) never make two requests for one run. After an outage only the most recent missed run
is made, and only if it is younger than `MISSED_RUN_GRACE`; older runs are skipped, because a
market update from yesterday afternoon posted this morning would mislead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import structlog
from sqlalchemy import select
from sqlalchemy import update as sql_update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from finagency import tasks
from finagency.accounts import audit
from finagency.accounts.audit import Actor
from finagency.content import service
from finagency.content.metrics import REQUESTS
from finagency.content.models import ContentRequest, ContentSchedule
from finagency.content.renderings import CHANNEL_TYPES
from finagency.db import READ_ONLY, utcnow
from finagency.errors import FinagencyError, NotFound
from finagency.market import service as market_service
from finagency.settings import Settings

log = structlog.get_logger(__name__)

RUN_TASK = "content.run_schedules"
# A missed run older than this is skipped rather than made late (see the module docstring).
MISSED_RUN_GRACE = timedelta(hours=2)
_TIME_OF_DAY = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
TIMING_FIELDS = ("weekdays", "time_of_day", "timezone")


def invalid(message: str) -> FinagencyError:
    return FinagencyError(message, 422, "invalid-schedule")


# --- timing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Timing:
    weekdays: frozenset[int]
    hour: int
    minute: int
    zone: ZoneInfo

    @classmethod
    def parse(cls, weekdays: Iterable[int], time_of_day: str, timezone: str) -> Timing:
        """Checked timing fields, or a 422 that says which one is wrong and why."""
        days = list(weekdays)
        if not days or any(isinstance(d, bool) or d not in range(1, 8) for d in days):
            raise invalid(
                "weekdays must be a non-empty list of ISO weekdays (1 = Monday … 7 = Sunday); "
                f"got {days}."
            )
        matched = _TIME_OF_DAY.fullmatch(time_of_day)
        if matched is None:
            raise invalid(f'time_of_day must be "HH:MM" from 00:00 to 23:59; got {time_of_day!r}.')
        return cls(frozenset(days), int(matched[1]), int(matched[2]), zone_named(timezone))

    @classmethod
    def of(cls, schedule: ContentSchedule) -> Timing:
        return cls.parse(schedule.weekdays, schedule.time_of_day, schedule.timezone)


def zone_named(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    # ValueError: a path-like or malformed key; OSError: a folder such as "America".
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise invalid(
            f"Unknown time zone {name!r}; use an IANA name such as 'Asia/Kolkata' "
            "or 'America/New_York'."
        ) from None


def next_run(timing: Timing, after: datetime) -> datetime:
    """The first run strictly after `after`, in UTC."""
    start = after.astimezone(timing.zone).date()
    # From the day before: a time inside a gap may resolve to an instant on the next day.
    for offset in range(-1, 9):
        day = start + timedelta(days=offset)
        if day.isoweekday() not in timing.weekdays:
            continue
        run_at = _instant(day, timing)
        if run_at > after:
            return run_at
    raise ValueError(f"no run within a week for {timing}")  # weekdays is never empty


def _instant(day: date, timing: Timing) -> datetime:
    # fold=0: of a wall time that happens twice, the first occurrence.
    wall = datetime(day.year, day.month, day.day, timing.hour, timing.minute, tzinfo=timing.zone)
    instant = wall.astimezone(UTC)
    if instant.astimezone(timing.zone).replace(tzinfo=None) == wall.replace(tzinfo=None):
        return instant
    # A wall time in a gap: with fold=1 it reads with the later offset, landing before the
    # transition; with fold=0 with the earlier one, landing after it.
    return _transition(wall.replace(fold=1).astimezone(UTC), instant, timing.zone)


def _transition(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The instant the zone's offset changes, between `before` (old) and `after` (new)."""
    old = before.astimezone(zone).utcoffset()
    low, high = int(before.timestamp()), int(after.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == old:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def next_run_local(schedule: ContentSchedule) -> datetime | None:
    """`next_run_at` on the schedule's own clock (with its offset), for people to read."""
    if schedule.next_run_at is None:
        return None
    try:
        return schedule.next_run_at.astimezone(zone_named(schedule.timezone))
    except FinagencyError:  # a zone dropped from tzdata since: show UTC rather than fail
        return schedule.next_run_at


def _latest_missed(timing: Timing, due_at: datetime, now: datetime) -> datetime | None:
    """The most recent run at or before `now`, if it is younger than the grace period."""
    run_at = due_at if now - due_at < MISSED_RUN_GRACE else next_run(timing, now - MISSED_RUN_GRACE)
    if run_at > now:
        return None
    while (later := next_run(timing, run_at)) <= now:
        run_at = later
    return run_at


# --- what a schedule asks for -----------------------------------------------------------------


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    type: str
    symbols: list[str]
    channels: list[str]
    weekdays: list[int]
    time_of_day: str
    timezone: str
    topic: str | None = None
    audience: str = "retail"
    tone: str = "neutral"
    enabled: bool = True

    def request(self) -> service.RequestSpec:
        return service.RequestSpec(
            type=self.type,
            symbols=self.symbols,
            channels=self.channels,
            topic=self.topic,
            audience=self.audience,
            tone=self.tone,
        )


SPEC_FIELDS = tuple(f.name for f in fields(ScheduleSpec))
NULLABLE = {"topic"}


def _schedulable_types() -> list[str]:
    return [t for t in service.CONTENT_TYPES if t not in service.FROM_IDEA]


def check_request(spec: service.RequestSpec, known_symbols: set[str]) -> None:
    """What `service.create_request` refuses, refused alike, for the API and the beat."""
    try:
        service.check_voice(spec.audience, spec.tone)
    except FinagencyError as error:
        raise invalid(error.message) from None
    if spec.type not in service.CONTENT_TYPES:
        raise invalid(
            f"Unknown content type {spec.type!r}; known: {', '.join(service.CONTENT_TYPES)}."
        )
    if spec.type in service.FROM_IDEA:
        raise invalid(
            f"A {spec.type} is written from a research idea, which a schedule cannot name; "
            f"schedule one of {', '.join(_schedulable_types())}."
        )
    if spec.type in service.FROM_TOPIC and not (spec.topic or "").strip():
        raise invalid(f"An {spec.type} piece needs a topic.")
    unknown_channels = sorted(set(spec.channels) - set(CHANNEL_TYPES))
    if not spec.channels or unknown_channels:
        raise invalid(
            f"Unknown channel type(s) {', '.join(unknown_channels) or '(none given)'}; "
            f"known: {', '.join(CHANNEL_TYPES)}."
        )
    unknown = [s for s in spec.symbols if s not in known_symbols]
    if not spec.symbols or unknown:
        raise invalid(
            f"Unknown symbol(s): {', '.join(unknown) or '(none given)'}; "
            "GET /api/v1/market/instruments lists the known ones."
        )


def _normalised(spec: ScheduleSpec) -> ScheduleSpec:
    return replace(
        spec,
        symbols=list(dict.fromkeys(spec.symbols)),
        channels=list(dict.fromkeys(spec.channels)),
        weekdays=sorted(set(spec.weekdays)),
    )


async def _checked(session: AsyncSession, spec: ScheduleSpec) -> tuple[ScheduleSpec, Timing]:
    spec = _normalised(spec)
    timing = Timing.parse(spec.weekdays, spec.time_of_day, spec.timezone)
    known = {instrument.symbol for instrument in await market_service.instruments(session)}
    check_request(spec.request(), known)
    return spec, timing


def spec_of(schedule: ContentSchedule) -> ScheduleSpec:
    return ScheduleSpec(**{name: getattr(schedule, name) for name in SPEC_FIELDS})


# --- managed through the API ------------------------------------------------------------------


async def create(
    session: AsyncSession,
    actor: Actor,
    spec: ScheduleSpec,
    now: datetime | None = None,
) -> ContentSchedule:
    spec, timing = await _checked(session, spec)
    schedule = ContentSchedule(
        **asdict(spec),
        next_run_at=next_run(timing, now or utcnow()) if spec.enabled else None,
        created_by=actor.user_id,
    )
    session.add(schedule)
    await session.flush()
    audit.record(
        session, "content_schedule_created", actor, "content_schedule", schedule.id, **asdict(spec)
    )
    return schedule


async def list_schedules(session: AsyncSession) -> list[ContentSchedule]:
    return list(await session.scalars(select(ContentSchedule).order_by(ContentSchedule.id)))


async def get(session: AsyncSession, schedule_id: int) -> ContentSchedule:
    found = await session.get(ContentSchedule, schedule_id)
    if found is None:
        raise NotFound(f"No content schedule {schedule_id}")
    return found


async def update(
    session: AsyncSession,
    actor: Actor,
    schedule: ContentSchedule,
    changes: dict[str, Any],
    now: datetime | None = None,
) -> ContentSchedule:
    """Apply the fields given; the next run is recomputed when its timing or `enabled` change."""
    for name, value in changes.items():
        if name not in SPEC_FIELDS:
            raise invalid(f"{name} is not a field of a schedule.")
        if value is None and name not in NULLABLE:
            raise invalid(f"{name} cannot be null; leave it out to keep it.")
    old = spec_of(schedule)
    new, timing = await _checked(session, replace(old, **changes))
    changed = {
        name: [getattr(old, name), getattr(new, name)]
        for name in SPEC_FIELDS
        if getattr(old, name) != getattr(new, name)
    }
    if not changed:
        return schedule
    for name in changed:
        setattr(schedule, name, getattr(new, name))
    if changed.keys() & {*TIMING_FIELDS, "enabled"}:
        schedule.next_run_at = next_run(timing, now or utcnow()) if new.enabled else None
    schedule.updated_at = utcnow()
    await session.flush()
    audit.record(
        session, "content_schedule_updated", actor, "content_schedule", schedule.id, **changed
    )
    return schedule


async def delete(session: AsyncSession, actor: Actor, schedule: ContentSchedule) -> None:
    audit.record(
        session,
        "content_schedule_deleted",
        actor,
        "content_schedule",
        schedule.id,
        name=schedule.name,
    )
    await session.delete(schedule)
    await session.flush()


# --- run by the beat --------------------------------------------------------------------------


def run_due(session: Session, settings: Settings, now: datetime | None = None) -> int:
    """Make the request of every due run; returns how many were made. Safe to run at once in
    several processes: each run is claimed by one of them only. Commits per schedule."""
    now = now or utcnow()
    if not session.in_transaction():
        # Only reading: on SQLite the scan must not take the write lock every minute.
        session.connection(execution_options={READ_ONLY: True})
    due = session.execute(
        select(ContentSchedule.id, ContentSchedule.next_run_at)
        .where(ContentSchedule.enabled.is_(True), ContentSchedule.next_run_at <= now)
        .order_by(ContentSchedule.next_run_at)
    ).all()
    session.commit()
    made = 0
    for schedule_id, due_at in due:
        if due_at is not None:  # always, by the WHERE; the column itself is nullable
            made += _run_one(session, settings, schedule_id, due_at, now)
            session.commit()
    return made


def _run_one(
    session: Session, settings: Settings, schedule_id: int, due_at: datetime, now: datetime
) -> bool:
    schedule = session.get(ContentSchedule, schedule_id, populate_existing=True)
    if schedule is None:
        return False
    try:
        timing = Timing.of(schedule)
    except FinagencyError as error:  # e.g. a zone dropped from tzdata: stop, never loop on it
        log.error("content.schedule_broken", schedule_id=schedule_id, error=error.message)
        timing = None
    following = next_run(timing, now) if timing is not None else None
    claimed = session.execute(
        sql_update(ContentSchedule)
        .where(ContentSchedule.id == schedule_id, ContentSchedule.next_run_at == due_at)
        .values(next_run_at=following, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        session.rollback()  # another beat or worker ran it (or an editor changed it) first
        return False
    run_at = _latest_missed(timing, due_at, now) if timing is not None else None
    if run_at is None:
        log.warning(
            "content.schedule_missed", schedule_id=schedule_id, missed=due_at, next_run=following
        )
        return False
    request = _make_request(session, settings, schedule, run_at)
    if request is None:
        return False
    schedule.last_run_at = run_at
    schedule.last_request_id = request.id
    log.info("content.schedule_ran", schedule_id=schedule_id, run_at=run_at, request_id=request.id)
    return True


def run_key(schedule_id: int, run_at: datetime) -> str:
    return f"schedule:{schedule_id}:{run_at.astimezone(UTC):%Y-%m-%dT%H:%MZ}"


def _make_request(
    session: Session, settings: Settings, schedule: ContentSchedule, run_at: datetime
) -> ContentRequest | None:
    """The run's request, enqueued after the commit; None (and a log line) if it can't be made."""
    key = run_key(schedule.id, run_at)
    if session.scalar(select(ContentRequest.id).where(ContentRequest.idempotency_key == key)):
        return None  # this run was made already
    try:
        with session.begin_nested():
            request = create_request_sync(
                session, settings, spec_of(schedule).request(), schedule.created_by, key
            )
    except FinagencyError as error:
        log.warning(
            "content.schedule_failed", schedule_id=schedule.id, run_at=run_at, error=error.message
        )
        return None
    except IntegrityError:  # the key is unique: made by someone else at this very moment
        return None
    tasks.enqueue_after_commit(session, service.GENERATE_TASK, request.id)
    return request


def create_request_sync(
    session: Session,
    settings: Settings,
    spec: service.RequestSpec,
    user_id: int | None,
    idempotency_key: str,
) -> ContentRequest:
    """`service.create_request` for the beat's sync session, checked by the same rules."""
    known = {symbol for symbol, _name in market_service.instrument_names(session)}
    check_request(spec, known)
    request = ContentRequest(
        idempotency_key=idempotency_key,
        type=spec.type,
        symbols=spec.symbols,
        topic=spec.topic,
        audience=spec.audience,
        tone=spec.tone,
        channels=spec.channels,
        requested_by=user_id,
    )
    session.add(request)
    session.flush()
    REQUESTS.labels(spec.type, settings.writer, "pending").inc()
    return request
