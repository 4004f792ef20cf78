"""Pacing for Shopify's GraphQL Admin API: the arithmetic of its cost-based rate limit, without
HTTP, clocks or sleeping (times come in as numbers), so it can be tested with tables.

Shopify meters the GraphQL Admin API per app and shop with a leaky bucket of *points*: each
response reports, under `extensions.cost`, what the query was estimated to cost
(`requestedQueryCost`), what it cost once run (`actualQueryCost`, null when it did not run),
and the bucket after it (`throttleStatus {maximumAvailable, currentlyAvailable, restoreRate}`,
restoreRate in points per second). A query whose requested cost exceeds what is available is
not run: the answer is HTTP 200 with an error whose `extensions.code` is "THROTTLED".

`CostBucket` keeps an estimate of that bucket from the last status seen, so that the client
waits *before* a request that would be throttled instead of sending it; `throttled_wait` says
how long to wait after a THROTTLED answer. The numbers of the client that uses these are in
bot/platforms/shopify/admin_api.py and docs/shopify-admin-api.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from bot.domain.backoff import backoff
from bot.domain.clock import utc_now

#: Shopify's documented cost of a mutation; what a document we have never sent is assumed to
#: cost before its first answer tells the real figure.
DEFAULT_EXPECTED_COST = 10.0


@dataclass(frozen=True)
class ThrottleStatus:
    maximum_available: float
    currently_available: float
    #: Points per second that flow back into the bucket.
    restore_rate: float


@dataclass(frozen=True)
class QueryCost:
    requested: float | None
    #: None when the query was not run (throttled).
    actual: float | None
    throttle: ThrottleStatus | None


def _number(value: Any) -> float | None:
    # bool is an int subclass: a true `restoreRate` would otherwise read as 1 point per second.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def read_cost(body: Mapping[str, Any]) -> QueryCost | None:
    """The `extensions.cost` of a GraphQL response body, or None when it has none (a throttled
    answer can come without it, as Shopify's own library tests show). Fields of the wrong type
    read as missing rather than failing: the cost is advice for pacing, not the answer."""
    extensions = body.get("extensions")
    cost = extensions.get("cost") if isinstance(extensions, Mapping) else None
    if not isinstance(cost, Mapping):
        return None
    status = cost.get("throttleStatus")
    throttle = None
    if isinstance(status, Mapping):
        maximum = _number(status.get("maximumAvailable"))
        current = _number(status.get("currentlyAvailable"))
        rate = _number(status.get("restoreRate"))
        if maximum is not None and current is not None and rate is not None:
            throttle = ThrottleStatus(maximum, current, rate)
    return QueryCost(
        requested=_number(cost.get("requestedQueryCost")),
        actual=_number(cost.get("actualQueryCost")),
        throttle=throttle,
    )


def restore_wait(needed: float, available: float, restore_rate: float) -> float | None:
    """Seconds until a bucket holding `available` points holds `needed`, refilling at
    `restore_rate` points per second: 0 when it already does, None when it never refills."""
    deficit = needed - available
    if deficit <= 0:
        return 0.0
    if restore_rate <= 0:
        return None
    return deficit / restore_rate


class CostBucket:
    """The client's estimate of one shop's bucket, and what each document was seen to cost.

    The estimate is the last `throttleStatus` read plus what has flowed back since, at most the
    bucket's size. Before any status is known nothing is held back: the first answer tells.
    """

    def __init__(self) -> None:
        self._status: ThrottleStatus | None = None
        self._read_at = 0.0
        self._costs: dict[str, float] = {}

    @property
    def status(self) -> ThrottleStatus | None:
        return self._status

    def observe(self, key: str, cost: QueryCost | None, at: float) -> None:
        """Take in the cost of an answer to document `key`, read at time `at`."""
        if cost is None:
            return
        if cost.requested is not None:
            self._costs[key] = cost.requested
        if cost.throttle is not None:
            self._status = cost.throttle
            self._read_at = at

    def expected_cost(self, key: str) -> float:
        """The requested cost `key` had last time (Shopify computes it from the document and
        its arguments, so a page of the same query costs the same), else the default."""
        return self._costs.get(key, DEFAULT_EXPECTED_COST)

    def available(self, now: float) -> float | None:
        status = self._status
        if status is None:
            return None
        elapsed = max(0.0, now - self._read_at)
        restored = status.currently_available + elapsed * status.restore_rate
        return min(status.maximum_available, restored)

    def reserve(self, cost: float, at: float) -> None:
        """Count a request about to be sent at `at` as paid, until its answer says what the
        bucket really holds: callers sharing the client (the action server's concurrent
        turns) then pace against each other's requests in flight, not only the last answer."""
        status, available = self._status, self.available(at)
        if status is None or available is None:
            return
        needed = min(cost, status.maximum_available)
        self._status = ThrottleStatus(
            status.maximum_available, max(0.0, available - needed), status.restore_rate
        )
        self._read_at = at

    def wait_before(self, cost: float, now: float) -> float:
        """Seconds to wait before sending a request expected to cost `cost` points, so that it
        is not throttled. A request can never need more than a full bucket (Shopify refuses
        larger ones outright, without waiting helping), so the need is capped there."""
        status, available = self._status, self.available(now)
        if status is None or available is None:
            return 0.0
        needed = min(cost, status.maximum_available)
        wait = restore_wait(needed, available, status.restore_rate)
        # A bucket that never refills (restoreRate 0) is Shopify's to explain; sending and
        # reading its answer is better than waiting forever.
        return 0.0 if wait is None else wait


def throttled_wait(
    cost: QueryCost | None,
    failures: int,
    *,
    floor: float,
    first: float,
    cap: float,
) -> float:
    """Seconds to wait after the `failures`-th THROTTLED answer in a row.

    With the answer's cost: the time the bucket needs to refill to the requested cost, at
    least `floor` (Shopify said no although the figures say yes: its bucket may have moved
    since, so do not ask again at once). Without it: the capped backoff every retry loop of
    the project uses, from `first` doubling to `cap`."""
    status = cost.throttle if cost else None
    if cost is not None and status is not None and cost.requested is not None:
        needed = min(cost.requested, status.maximum_available)
        wait = restore_wait(needed, status.currently_available, status.restore_rate)
        if wait is not None:
            return max(wait, floor)
    return backoff(failures, first=first, cap=cap)


def retry_after_seconds(header: str | None, now: datetime | None = None) -> float | None:
    """The wait a `Retry-After` header asks for: seconds ("2", "2.0") or an HTTP date (RFC 9110
    allows both); None when absent or unreadable. A date in the past means no wait."""
    if header is None:
        return None
    text = header.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or utc_now())).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN or infinite
        return None
    return max(0.0, seconds)
