"""Recurring content schedules: next runs across DST, the API, and runs made by the beat."""

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from celery.schedules import crontab
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from structlog.testing import capture_logs

from finagency import db, tasks
from finagency.accounts.models import AuditEvent
from finagency.accounts.permissions import Role
from finagency.content import schedules
from finagency.content import tasks as content_tasks
from finagency.content.models import ContentRequest, ContentSchedule
from finagency.content.schedules import MISSED_RUN_GRACE, Timing, next_run
from finagency.db import Database
from finagency.errors import FinagencyError
from finagency.schedule import beat_schedule
from finagency.settings import Settings, load_settings
from tests.fixtures.accounts import bearer, make_user

SCHEDULES = "/api/v1/content/schedules"
WEEKDAYS = [1, 2, 3, 4, 5]
# Monday 30 November 2026, 16:00 in Kolkata (UTC+05:30, no DST).
MONDAY_RUN = datetime(2026, 11, 30, 10, 30, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[arg-type, misc]


# --- next_run ---------------------------------------------------------------------------------


def test_new_york_keeps_16_00_local_across_the_end_of_daylight_saving() -> None:
    timing = Timing.parse(WEEKDAYS, "16:00", "America/New_York")
    friday = next_run(timing, utc(2026, 10, 30, 12, 0))
    assert friday == utc(2026, 10, 30, 20, 0)  # EDT, UTC-4
    # The weekend is skipped; on Monday the clocks are back on EST, UTC-5.
    assert next_run(timing, friday) == utc(2026, 11, 2, 21, 0)


def test_new_york_keeps_16_00_local_across_the_start_of_daylight_saving() -> None:
    timing = Timing.parse(range(1, 8), "16:00", "America/New_York")
    assert next_run(timing, utc(2026, 3, 7, 12, 0)) == utc(2026, 3, 7, 21, 0)  # EST
    assert next_run(timing, utc(2026, 3, 7, 21, 0)) == utc(2026, 3, 8, 20, 0)  # EDT


def test_a_time_in_the_spring_forward_gap_runs_when_the_gap_ends() -> None:
    # On 8 March 2026 New York jumps from 02:00 to 03:00: 02:30 does not exist that day.
    timing = Timing.parse(range(1, 8), "02:30", "America/New_York")
    assert next_run(timing, utc(2026, 3, 7, 12, 0)) == utc(2026, 3, 8, 7, 0)  # 03:00 EDT
    assert next_run(timing, utc(2026, 3, 8, 7, 0)) == utc(2026, 3, 9, 6, 30)  # 02:30 EDT


def test_london_01_30_on_the_spring_forward_day_runs_at_02_00_bst() -> None:
    # On 29 March 2026 London jumps from 01:00 GMT to 02:00 BST.
    timing = Timing.parse(range(1, 8), "01:30", "Europe/London")
    assert next_run(timing, utc(2026, 3, 28, 2, 0)) == utc(2026, 3, 29, 1, 0)
    assert next_run(timing, utc(2026, 3, 29, 1, 0)) == utc(2026, 3, 30, 0, 30)


def test_london_01_30_on_the_fall_back_day_runs_once_at_the_first_occurrence() -> None:
    # On 25 October 2026 London's clocks show 01:00-02:00 twice (BST, then GMT).
    timing = Timing.parse(range(1, 8), "01:30", "Europe/London")
    first = next_run(timing, utc(2026, 10, 24, 12, 0))
    assert first == utc(2026, 10, 25, 0, 30)  # 01:30 BST
    # Not again at 01:30 GMT (01:30 UTC) that night: the next run is on Monday.
    assert next_run(timing, first) == utc(2026, 10, 26, 1, 30)


def test_kolkata_weekdays_at_16_00_are_10_30_utc_and_skip_the_weekend() -> None:
    timing = Timing.parse(WEEKDAYS, "16:00", "Asia/Kolkata")
    assert next_run(timing, utc(2026, 11, 26, 9, 0)) == utc(2026, 11, 26, 10, 30)  # Thursday
    friday = next_run(timing, utc(2026, 11, 26, 10, 30))
    assert friday == utc(2026, 11, 27, 10, 30)
    assert next_run(timing, friday) == MONDAY_RUN


@pytest.mark.parametrize(
    ("weekdays", "time_of_day", "timezone", "message"),
    [
        ([], "16:00", "UTC", "weekdays"),
        ([0, 8], "16:00", "UTC", "weekdays"),
        ([1], "24:00", "UTC", "HH:MM"),
        ([1], "7:05", "UTC", "HH:MM"),
        ([1], "16:00", "Mars/Olympus", "'Mars/Olympus'"),
        ([1], "16:00", "America", "'America'"),
        ([1], "16:00", "../../etc/passwd", "Unknown time zone"),
    ],
)
def test_bad_timing_is_refused_with_a_clear_message(
    weekdays: list[int], time_of_day: str, timezone: str, message: str
) -> None:
    with pytest.raises(FinagencyError, match=message) as raised:
        Timing.parse(weekdays, time_of_day, timezone)
    assert raised.value.status_code == 422


# --- the API ----------------------------------------------------------------------------------

BODY: dict[str, Any] = {
    "name": "Nifty close",
    "type": "market_update",
    "symbols": ["^NSEI", "^NSEI", "^GSPC"],
    "channels": ["x", "file"],
    "weekdays": [5, 1, 2, 3, 4],
    "time_of_day": "16:00",
    "timezone": "Asia/Kolkata",
}


async def _audit(db_session: AsyncSession) -> list[AuditEvent]:
    rows = await db_session.scalars(
        select(AuditEvent)
        .where(AuditEvent.target_type == "content_schedule")
        .order_by(AuditEvent.id)
    )
    return list(rows)


async def test_editors_create_list_get_change_and_delete_schedules(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    editor = await make_user(db_session, settings, Role.editor)
    headers = bearer(settings, editor)
    created = await client.post(SCHEDULES, json=BODY, headers=headers)
    assert created.status_code == 201, created.text
    schedule = created.json()
    assert created.headers["location"] == f"{SCHEDULES}/{schedule['id']}"
    assert schedule["symbols"] == ["^NSEI", "^GSPC"]
    assert schedule["weekdays"] == WEEKDAYS
    assert schedule["enabled"] is True
    assert schedule["created_by"] == editor.id
    next_at = datetime.fromisoformat(schedule["next_run_at"])
    local = datetime.fromisoformat(schedule["next_run_local"])
    assert next_at.utcoffset() == timedelta(0)
    assert next_at > datetime.now(UTC)
    assert (local.hour, local.minute, local.utcoffset()) == (16, 0, timedelta(hours=5, minutes=30))
    assert local == next_at
    assert local.isoweekday() in WEEKDAYS

    listed = await client.get(SCHEDULES, headers=headers)
    assert [s["id"] for s in listed.json()] == [schedule["id"]]
    location = created.headers["location"]
    assert (await client.get(location, headers=headers)).json() == schedule

    moved = await client.patch(
        location,
        json={"time_of_day": "09:15", "timezone": "America/New_York", "topic": "Open"},
        headers=headers,
    )
    assert moved.status_code == 200, moved.text
    local = datetime.fromisoformat(moved.json()["next_run_local"])
    assert (local.hour, local.minute) == (9, 15)
    assert moved.json()["topic"] == "Open"
    assert moved.json()["name"] == "Nifty close"

    paused = await client.patch(location, json={"enabled": False}, headers=headers)
    assert paused.json()["next_run_at"] is None
    assert paused.json()["next_run_local"] is None
    resumed = await client.patch(location, json={"enabled": True}, headers=headers)
    assert datetime.fromisoformat(resumed.json()["next_run_at"]) > datetime.now(UTC)

    deleted = await client.delete(location, headers=headers)
    assert deleted.status_code == 204
    assert (await client.get(location, headers=headers)).status_code == 404
    assert (await client.delete(location, headers=headers)).status_code == 404

    events = await _audit(db_session)
    assert [e.action for e in events] == [
        "content_schedule_created",
        "content_schedule_updated",
        "content_schedule_updated",
        "content_schedule_updated",
        "content_schedule_deleted",
    ]
    assert {e.actor_id for e in events} == {editor.id}
    assert events[1].detail["time_of_day"] == ["16:00", "09:15"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "Unknown time zone 'Mars/Olympus'"),
        ({"timezone": "asia/kolkata"}, "Unknown time zone"),
        ({"time_of_day": "25:00"}, "HH:MM"),
        ({"time_of_day": "4pm"}, "HH:MM"),
        ({"weekdays": []}, "weekdays"),
        ({"weekdays": [1, 9]}, "weekdays"),
        ({"type": "horoscope"}, "Unknown content type 'horoscope'"),
        ({"type": "educational"}, "needs a topic"),
        ({"type": "news_analysis"}, "written from a research idea"),
        ({"symbols": ["^NSEI", "NOPE"]}, "Unknown symbol(s): NOPE"),
        ({"channels": ["fax"]}, "Unknown channel type(s) fax"),
        ({"symbols": []}, "symbols"),
        ({"name": " "}, "name"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_bad_schedules_are_refused_with_422_and_change_nothing(
    client: httpx.AsyncClient,
    db_session: AsyncSession,
    settings: Settings,
    change: dict[str, Any],
    message: str,
) -> None:
    headers = bearer(settings, await make_user(db_session, settings, Role.editor))
    created = await client.post(SCHEDULES, json={**BODY, **change}, headers=headers)
    assert created.status_code == 422, created.text
    assert created.headers["content-type"] == "application/problem+json"
    assert message in created.text
    assert (await client.get(SCHEDULES, headers=headers)).json() == []

    good = await client.post(SCHEDULES, json=BODY, headers=headers)
    location = good.headers["location"]
    patched = await client.patch(location, json=change, headers=headers)
    assert patched.status_code == 422, patched.text
    assert message in patched.text
    assert (await client.get(location, headers=headers)).json() == good.json()
    assert [e.action for e in await _audit(db_session)] == ["content_schedule_created"]


async def test_required_fields_cannot_be_cleared(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    headers = bearer(settings, await make_user(db_session, settings, Role.editor))
    location = (await client.post(SCHEDULES, json=BODY, headers=headers)).headers["location"]
    cleared = await client.patch(location, json={"timezone": None}, headers=headers)
    assert cleared.status_code == 422
    assert "timezone cannot be null" in cleared.json()["detail"]
    no_topic = await client.patch(location, json={"topic": None}, headers=headers)
    assert no_topic.status_code == 200
    unchanged = await client.patch(location, json={}, headers=headers)
    assert unchanged.status_code == 200
    assert [e.action for e in await _audit(db_session)] == ["content_schedule_created"]


async def test_unknown_schedules_are_404(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    headers = bearer(settings, await make_user(db_session, settings, Role.editor))
    for method in ("GET", "DELETE"):
        response = await client.request(method, f"{SCHEDULES}/424242", headers=headers)
        assert response.status_code == 404
        assert response.json()["detail"] == "No content schedule 424242"
    patched = await client.patch(f"{SCHEDULES}/424242", json={"tone": "calm"}, headers=headers)
    assert patched.status_code == 404


async def test_viewers_and_analysts_read_but_never_change_schedules(
    client: httpx.AsyncClient, db_session: AsyncSession, settings: Settings
) -> None:
    editor = bearer(settings, await make_user(db_session, settings, Role.editor))
    location = (await client.post(SCHEDULES, json=BODY, headers=editor)).headers["location"]
    for role in (Role.viewer, Role.analyst):
        headers = bearer(settings, await make_user(db_session, settings, role))
        assert (await client.get(SCHEDULES, headers=headers)).status_code == 200
        assert (await client.get(location, headers=headers)).status_code == 200
        calls = [
            client.post(SCHEDULES, json=BODY, headers=headers),
            client.patch(location, json={"enabled": False}, headers=headers),
            client.delete(location, headers=headers),
        ]
        for call in calls:
            assert (await call).status_code == 403
    assert (await client.get(location, headers=editor)).json()["enabled"] is True
    assert (await client.get(SCHEDULES)).status_code == 401


# --- run by the beat --------------------------------------------------------------------------


CREATOR = 7


def _add(database: Database, next_run_at: datetime | None = MONDAY_RUN, **fields: Any) -> int:
    """A Kolkata weekday 16:00 market update whose next run is `next_run_at`."""
    values: dict[str, Any] = {
        "name": "Nifty close",
        "type": "market_update",
        "symbols": ["^NSEI"],
        "channels": ["x"],
        "weekdays": WEEKDAYS,
        "time_of_day": "16:00",
        "timezone": "Asia/Kolkata",
        "created_by": CREATOR,
        "next_run_at": next_run_at,
        **fields,
    }
    with database.sync_session() as session:
        schedule = ContentSchedule(**values)
        session.add(schedule)
        session.flush()
        return schedule.id


def _run(database: Database, now: datetime) -> int:
    with database.sync_session() as session:
        return schedules.run_due(session, database.settings, now)


def _schedule(database: Database, schedule_id: int) -> ContentSchedule:
    with database.sync_session() as session:
        found = session.get(ContentSchedule, schedule_id)
        assert found is not None
        return found


def _requests(database: Database) -> list[ContentRequest]:
    with database.sync_session() as session:
        return list(session.scalars(select(ContentRequest).order_by(ContentRequest.id)))


def test_a_due_run_makes_one_request_and_moves_to_the_next_run(
    database: Database, queued: list[tuple[str, tuple[object, ...]]]
) -> None:
    schedule_id = _add(database)
    assert _run(database, MONDAY_RUN - MINUTE) == 0
    assert _requests(database) == []

    assert _run(database, MONDAY_RUN + MINUTE) == 1
    [request] = _requests(database)
    assert request.idempotency_key == f"schedule:{schedule_id}:2026-11-30T10:30Z"
    assert (request.type, request.symbols, request.channels) == ("market_update", ["^NSEI"], ["x"])
    assert request.requested_by == CREATOR
    assert request.status == "pending"
    assert queued == [("content.generate", (request.id,))]
    schedule = _schedule(database, schedule_id)
    assert schedule.next_run_at == MONDAY_RUN + DAY
    assert schedule.last_run_at == MONDAY_RUN
    assert schedule.last_request_id == request.id

    # The same instant again (a second beat, a redelivered task): nothing more.
    assert _run(database, MONDAY_RUN + MINUTE) == 0
    assert len(_requests(database)) == 1
    # Tuesday's run is a run of its own.
    assert _run(database, MONDAY_RUN + DAY) == 1
    assert _requests(database)[-1].idempotency_key == f"schedule:{schedule_id}:2026-12-01T10:30Z"
    assert len(queued) == 2


def test_a_run_made_already_is_not_made_again_even_without_the_claim(
    database: Database, queued: list[tuple[str, tuple[object, ...]]]
) -> None:
    schedule_id = _add(database)
    assert _run(database, MONDAY_RUN) == 1
    # As if the claim had been lost: the same run is due again, yet its key exists.
    with database.sync_session() as session:
        schedule = session.get(ContentSchedule, schedule_id)
        assert schedule is not None
        schedule.next_run_at = MONDAY_RUN
    assert _run(database, MONDAY_RUN) == 0
    assert len(_requests(database)) == 1
    assert _schedule(database, schedule_id).next_run_at == MONDAY_RUN + DAY
    assert len(queued) == 1


def _two_beats_at_once(database: Database, now: datetime) -> list[int]:
    """run_due in two threads, each with its own session, released at the same moment."""
    barrier = threading.Barrier(2)
    made: list[int] = []
    errors: list[BaseException] = []

    def beat() -> None:
        try:
            with database.sync_session() as session:
                barrier.wait(10)
                made.append(schedules.run_due(session, database.settings, now))
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    return made


def test_two_beats_at_once_on_postgresql_make_one_request(
    committed_database_url: str, tmp_path: Path, queued: list[tuple[str, tuple[object, ...]]]
) -> None:
    database = Database(load_settings(database_url=committed_database_url, data_dir=tmp_path))
    try:
        for _ in range(5):
            schedule_id = _add(database)
            assert sorted(_two_beats_at_once(database, MONDAY_RUN)) == [0, 1]
            assert _schedule(database, schedule_id).next_run_at == MONDAY_RUN + DAY
            with database.sync_session() as session:
                session.delete(session.get(ContentSchedule, schedule_id))
        keys = [r.idempotency_key for r in _requests(database)]
        assert len(keys) == len(set(keys)) == 5
        assert len(queued) == 5
    finally:
        database.sync_engine.dispose()


def test_a_disabled_schedule_never_runs(
    database: Database, queued: list[tuple[str, tuple[object, ...]]]
) -> None:
    schedule_id = _add(database, enabled=False)
    assert _run(database, MONDAY_RUN + MINUTE) == 0
    assert _run(database, MONDAY_RUN + 3 * DAY) == 0
    assert _requests(database) == []
    assert _schedule(database, schedule_id).next_run_at == MONDAY_RUN
    assert queued == []


def test_a_run_missed_beyond_the_grace_period_is_skipped(
    database: Database, queued: list[tuple[str, tuple[object, ...]]]
) -> None:
    schedule_id = _add(database)
    late = MONDAY_RUN + MISSED_RUN_GRACE + MINUTE
    with capture_logs() as logs:
        assert _run(database, late) == 0
    assert _requests(database) == []
    assert _schedule(database, schedule_id).next_run_at == MONDAY_RUN + DAY
    assert [e["event"] for e in logs if e.get("schedule_id") == schedule_id] == [
        "content.schedule_missed"
    ]


def test_after_an_outage_only_the_latest_missed_run_is_made(
    database: Database, queued: list[tuple[str, tuple[object, ...]]]
) -> None:
    schedule_id = _add(database)
    # Down from Monday morning to Wednesday 11:00: Monday's and Tuesday's runs are too old.
    assert _run(database, MONDAY_RUN + 2 * DAY + timedelta(minutes=30)) == 1
    [request] = _requests(database)
    assert request.idempotency_key == f"schedule:{schedule_id}:2026-12-02T10:30Z"
    assert _schedule(database, schedule_id).next_run_at == MONDAY_RUN + 3 * DAY


def test_a_run_that_cannot_be_made_is_logged_and_the_schedule_moves_on(
    database: Database, queued: list[tuple[str, tuple[object, ...]]]
) -> None:
    broken = _add(database, symbols=["^NSEI", "GONE"])
    healthy = _add(database)
    with capture_logs() as logs:
        assert _run(database, MONDAY_RUN) == 1
    [failure] = [e for e in logs if e["event"] == "content.schedule_failed"]
    assert failure["schedule_id"] == broken
    assert "GONE" in failure["error"]
    assert [r.idempotency_key for r in _requests(database)] == [
        f"schedule:{healthy}:2026-11-30T10:30Z"
    ]
    assert _schedule(database, broken).next_run_at == MONDAY_RUN + DAY
    assert _schedule(database, broken).last_request_id is None


def test_the_task_runs_due_schedules_with_the_process_database(
    database: Database,
    queued: list[tuple[str, tuple[object, ...]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(db, "_process_database", database)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    _add(database, next_run_at=now - MINUTE, weekdays=list(range(1, 8)), timezone="UTC")
    _add(database, next_run_at=now + DAY)
    assert content_tasks.run_schedules() == 1
    assert content_tasks.run_schedules() == 0
    with database.sync_session() as session:
        assert session.scalar(select(func.count()).select_from(ContentRequest)) == 1


def test_the_beat_runs_the_schedules_every_minute(tmp_path: Path) -> None:
    entry = beat_schedule()["content.run_schedules"]
    assert entry["task"] == schedules.RUN_TASK == "content.run_schedules"
    assert entry["schedule"] == crontab(minute="*")
    assert 0 < entry["options"]["expires"] < 60
    celery = tasks.create_celery(load_settings(data_dir=tmp_path))
    assert schedules.RUN_TASK in celery.tasks
    assert celery.conf.beat_schedule["content.run_schedules"]["task"] == schedules.RUN_TASK
