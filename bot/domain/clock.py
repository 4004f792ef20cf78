"""The wall clock that stores, channels and workers default to: timezone-aware UTC.

Aware because the store's `UTCDateTime` columns refuse naive values, and aware and naive
datetimes cannot be compared. Callers take it as a `clock=` default, so tests hand them a fake
clock instead of patching this.
"""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
