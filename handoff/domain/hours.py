"""Business hours of the support team: are people answering now, and when next?

Pure. Written in configuration as "Mon-Fri 09:00-18:00; Sat 10:00-14:00" (or "24/7") with an
IANA time zone. Service-level targets only count open minutes: a ticket raised on Friday night
is not late on Saturday morning, it waits for Monday (see `add_open_minutes`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(
    r"^(?P<days>[a-z]{3}(?:-[a-z]{3})?(?:,[a-z]{3}(?:-[a-z]{3})?)*)\s+"
    r"(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})$"
)
_ALWAYS = {"24/7", "always"}
#: How far ahead `next_opening` looks; a schedule with no open minute at all is refused.
_HORIZON_DAYS = 8


class BusinessHoursError(ValueError):
    pass


def _minutes(clock: str) -> int:
    hours, minutes = (int(part) for part in clock.split(":"))
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or hours * 60 + minutes > 24 * 60:
        raise BusinessHoursError(f"{clock!r} is not a time of day (00:00 to 24:00)")
    return hours * 60 + minutes


def _days(spec: str) -> list[int]:
    days: list[int] = []
    for part in spec.split(","):
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise BusinessHoursError(f"unknown day in {part!r}; use {', '.join(DAYS)}")
        start, end = DAYS.index(first), DAYS.index(last or first)
        days.extend(range(start, end + 1) if start <= end else [*range(start, 7), *range(end + 1)])
    return days


@dataclass(frozen=True)
class BusinessHours:
    #: Open intervals per weekday (0 = Monday), in minutes after local midnight.
    windows: tuple[tuple[tuple[int, int], ...], ...]
    zone: ZoneInfo
    spec: str

    @classmethod
    def parse(cls, spec: str, timezone: str) -> BusinessHours:
        try:
            zone = ZoneInfo(timezone)
        except (KeyError, ValueError) as error:
            raise BusinessHoursError(f"unknown time zone {timezone!r}") from error
        days: list[list[tuple[int, int]]] = [[] for _ in DAYS]
        text = spec.strip().lower()
        if text in _ALWAYS:
            return cls(tuple(((0, 24 * 60),) for _ in DAYS), zone, spec)
        for chunk in filter(None, (part.strip() for part in text.split(";"))):
            match = _RANGE.match(re.sub(r"\s+", " ", chunk))
            if not match:
                raise BusinessHoursError(f"{chunk!r} is not like 'Mon-Fri 09:00-18:00'")
            start, end = _minutes(match["start"]), _minutes(match["end"])
            if start >= end:
                raise BusinessHoursError(f"{chunk!r}: opening must be before closing")
            for day in _days(match["days"]):
                days[day].append((start, end))
        if not any(days):
            raise BusinessHoursError(f"{spec!r} has no open hours")
        return cls(tuple(tuple(sorted(day)) for day in days), zone, spec)

    @property
    def always_open(self) -> bool:
        return all(day == ((0, 24 * 60),) for day in self.windows)

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.windows[local.weekday()])

    def next_opening(self, at: datetime) -> datetime:
        """`at` itself when open, else the start of the next open interval (aware, local)."""
        local = at.astimezone(self.zone)
        if self.is_open(local):
            return local
        for offset in range(_HORIZON_DAYS):
            day = (local + timedelta(days=offset)).date()
            for start, _end in self.windows[day.weekday()]:
                opening = datetime(
                    day.year, day.month, day.day, start // 60, start % 60, tzinfo=self.zone
                )
                if opening > local:
                    return opening
        raise BusinessHoursError("no opening within a week")  # parse() rules this out

    def add_open_minutes(self, start: datetime, minutes: float) -> datetime:
        """The moment `minutes` of open time have passed since `start`."""
        if self.always_open:
            return start + timedelta(minutes=minutes)
        moment = self.next_opening(start)
        remaining = timedelta(minutes=minutes)
        while True:
            local = moment.astimezone(self.zone)
            minute = local.hour * 60 + local.minute
            end = next(e for s, e in self.windows[local.weekday()] if s <= minute < e)
            midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
            closing = midnight + timedelta(minutes=end)
            if moment + remaining <= closing:
                return moment + remaining
            remaining -= closing - moment
            moment = self.next_opening(closing)


def describe_moment(moment: datetime, now: datetime, zone: ZoneInfo) -> str:
    """'today at 09:00 PST', 'tomorrow at 09:00 PST', 'Monday at 09:00 PST' for shoppers."""
    local, today = moment.astimezone(zone), now.astimezone(zone).date()
    days = (local.date() - today).days
    day = {0: "today", 1: "tomorrow"}.get(days, f"{local:%A}" if days < 7 else f"{local:%b %d}")
    return f"{day} at {local:%H:%M} {local:%Z}"


def sla_deadline(
    opened_at: datetime,
    target_minutes: float,
    hours: BusinessHours,
    last_alert_at: datetime | None = None,
) -> datetime:
    """When an unclaimed ticket is (next) overdue: `target_minutes` of open time after it was
    opened, or after the last re-alert (so alerts repeat once per target, not every tick)."""
    return hours.add_open_minutes(last_alert_at or opened_at, target_minutes)
