"""Rate budgets (per hour, per day, spacing) and posting windows in local wall-clock time."""

from datetime import UTC, datetime, timedelta

import pytest

from finagency.publishing.limits import Budget, Usage, next_allowed, parse_limits
from finagency.publishing.windows import check_window, next_open

NOON = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_the_default_limits_of_the_guide_parse() -> None:
    budgets = parse_limits("linkedin:2/h,5/d;x:5/h,20/d;telegram:10/h,50/d,30s")
    assert budgets["linkedin"] == Budget(per_hour=2, per_day=5)
    assert budgets["x"] == Budget(per_hour=5, per_day=20)
    assert budgets["telegram"] == Budget(per_hour=10, per_day=50, min_spacing_seconds=30.0)


@pytest.mark.parametrize(
    ("text", "named"),
    [("myspace:1/h", "myspace"), ("x:5/w", "5/w"), ("x:0/h", "at least 1"), ("x:fast", "fast")],
)
def test_bad_limits_are_named(text: str, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        parse_limits(text)


def test_an_hourly_budget_defers_to_when_the_oldest_post_leaves_the_hour() -> None:
    budget = Budget(per_hour=2)
    used = Usage(starts=[NOON - timedelta(minutes=50), NOON - timedelta(minutes=10)])
    assert next_allowed(budget, used, NOON) == NOON + timedelta(minutes=10)
    assert next_allowed(budget, Usage(starts=used.starts[1:]), NOON) == NOON


def test_a_daily_budget_and_spacing_combine() -> None:
    budget = Budget(per_hour=10, per_day=3, min_spacing_seconds=600)
    starts = [NOON - timedelta(hours=h) for h in (20, 5, 1)]
    # Three posts in the last day: wait until the one 20 hours ago is a day old.
    assert next_allowed(budget, Usage(starts=starts), NOON) == NOON + timedelta(hours=4)
    recent = [NOON - timedelta(minutes=4)]
    assert next_allowed(budget, Usage(starts=recent), NOON) == NOON + timedelta(minutes=6)


def test_no_budget_means_now() -> None:
    assert next_allowed(Budget(), Usage(starts=[NOON] * 100), NOON) == NOON


MUMBAI = {"timezone": "Asia/Kolkata", "start": "09:00", "end": "17:00", "weekdays": [1, 2, 3, 4, 5]}


def test_inside_the_window_is_as_asked_and_outside_moves_to_the_next_opening() -> None:
    inside = datetime(2026, 11, 25, 6, 0, tzinfo=UTC)  # 11:30 in Mumbai, a Wednesday
    assert next_open(MUMBAI, inside) == inside
    evening = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)  # 18:30 in Mumbai
    assert next_open(MUMBAI, evening) == datetime(2026, 11, 26, 3, 30, tzinfo=UTC)
    friday_night = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)
    assert next_open(MUMBAI, friday_night) == datetime(2026, 11, 30, 3, 30, tzinfo=UTC)  # Monday
    assert next_open(None, friday_night) == friday_night


def test_a_window_follows_daylight_saving_in_its_zone() -> None:
    new_york = {"timezone": "America/New_York", "start": "09:30", "end": "16:00"}
    # Before the change (EDT, UTC-4) and after it (EST, UTC-5) the window opens at 09:30 local.
    assert next_open(new_york, datetime(2026, 10, 30, 5, 0, tzinfo=UTC)) == datetime(
        2026, 10, 30, 13, 30, tzinfo=UTC
    )
    assert next_open(new_york, datetime(2026, 11, 2, 5, 0, tzinfo=UTC)) == datetime(
        2026, 11, 2, 14, 30, tzinfo=UTC
    )


def test_an_opening_inside_a_spring_forward_gap_opens_after_the_gap() -> None:
    window = {"timezone": "America/New_York", "start": "02:30", "end": "05:00"}
    # 8 March 2026: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist that night.
    opened = next_open(window, datetime(2026, 3, 8, 5, 0, tzinfo=UTC))
    assert opened == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT, the end of the gap
    # The next night has no gap: 02:30 EDT.
    later = next_open(window, datetime(2026, 3, 9, 5, 0, tzinfo=UTC))
    assert later == datetime(2026, 3, 9, 6, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("window", "named"),
    [
        ({"timezone": "Mars/Olympus", "start": "09:00", "end": "17:00"}, "Mars/Olympus"),
        ({"timezone": "UTC", "start": "9am", "end": "17:00"}, "HH:MM"),
        ({"timezone": "UTC", "start": "18:00", "end": "17:00"}, "before its end"),
        ({"timezone": "UTC", "start": "09:00", "end": "17:00", "weekdays": [0]}, "ISO weekdays"),
        ({"timezone": "UTC", "start": "09:00", "end": "17:00", "colour": "red"}, "colour"),
    ],
)
def test_bad_windows_are_named(window: dict[str, object], named: str) -> None:
    with pytest.raises(ValueError, match=named):
        check_window(window)
