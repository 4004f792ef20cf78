"""Business hours: open or not, the next opening, and service-level clocks that skip nights."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from handoff.domain.hours import BusinessHours, BusinessHoursError, describe_moment

LA = ZoneInfo("America/Los_Angeles")
HOURS = BusinessHours.parse("Mon-Fri 09:00-18:00; Sat 10:00-14:00", "America/Los_Angeles")


def la(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in November 2026 in Los Angeles (the 16th is a Monday)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=LA)


@pytest.mark.parametrize(
    ("moment", "open_now"),
    [
        (la(16, 9), True), (la(16, 8, 59), False), (la(16, 17, 59), True), (la(16, 18), False),
        (la(21, 11), True), (la(21, 14), False), (la(22, 12), False),
    ],
)  # fmt: skip
def test_is_open(moment: datetime, open_now: bool) -> None:
    assert HOURS.is_open(moment) is open_now
    assert HOURS.is_open(moment.astimezone(UTC)) is open_now


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (la(16, 10), la(16, 10)),  # open: now
        (la(16, 20), la(17, 9)),  # evening: tomorrow morning
        (la(20, 19), la(21, 10)),  # Friday evening: Saturday's short day
        (la(21, 15), la(23, 9)),  # Saturday afternoon: Monday
    ],
)
def test_next_opening(moment: datetime, expected: datetime) -> None:
    assert HOURS.next_opening(moment) == expected


def test_service_level_clock_counts_open_minutes_only() -> None:
    # 10 open minutes from Friday 17:55 end at Saturday 10:05.
    assert HOURS.add_open_minutes(la(20, 17, 55), 10) == la(21, 10, 5)
    # Raised on Sunday: the clock starts on Monday at 9.
    assert HOURS.add_open_minutes(la(22, 12), 5) == la(23, 9, 5)
    always = BusinessHours.parse("24/7", "UTC")
    start = datetime(2026, 11, 22, 3, tzinfo=UTC)
    assert always.add_open_minutes(start, 5) == start + timedelta(minutes=5)


@pytest.mark.parametrize(
    "spec", ["Mon-Fri 9-18", "Someday 09:00-10:00", "Mon 18:00-09:00", "", "Mon 25:00-26:00"]
)
def test_bad_specs_are_refused(spec: str) -> None:
    with pytest.raises(BusinessHoursError):
        BusinessHours.parse(spec, "America/Los_Angeles")


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(BusinessHoursError):
        BusinessHours.parse("Mon-Fri 09:00-18:00", "Mars/Olympus")


def test_describe_moment_for_shoppers() -> None:
    assert describe_moment(la(17, 9), la(16, 20), LA) == "tomorrow at 09:00 PST"
    assert describe_moment(la(23, 9), la(21, 15), LA) == "Monday at 09:00 PST"
    assert describe_moment(la(16, 9), la(16, 7), LA) == "today at 09:00 PST"
