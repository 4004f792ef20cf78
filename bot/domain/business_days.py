"""Business-day arithmetic for honest delivery and refund expectations."""

from __future__ import annotations

from datetime import date, timedelta


def add_business_days(start: date, days: int) -> date:
    """The date `days` business days (Mon-Fri) after `start`."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            remaining -= 1
    return current
