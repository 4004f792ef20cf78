"""The pacing arithmetic of bot/platforms/shopify/throttle.py, table by table: reading
`extensions.cost` (from Shopify's own response shapes in ../shared), the bucket estimate, the
wait before a request, the wait after THROTTLED, and Retry-After."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.platforms.shopify.throttle import (
    DEFAULT_EXPECTED_COST,
    CostBucket,
    QueryCost,
    ThrottleStatus,
    read_cost,
    restore_wait,
    retry_after_seconds,
    throttled_wait,
)


@pytest.fixture
def graphql_fixtures(shared_dir: Path) -> Path:
    return shared_dir / "fixtures" / "shopify" / "graphql"


def _load(directory: Path, name: str) -> dict[str, Any]:
    return json.loads((directory / name).read_text(encoding="utf-8"))


def test_read_cost_of_a_successful_answer(graphql_fixtures: Path) -> None:
    cost = read_cost(_load(graphql_fixtures, "success_with_cost.response.json"))
    assert cost == QueryCost(1.0, 1.0, ThrottleStatus(1000.0, 999.0, 50.0))


def test_read_cost_of_a_throttled_answer(graphql_fixtures: Path) -> None:
    cost = read_cost(_load(graphql_fixtures, "throttled.response.json"))
    assert cost == QueryCost(752.0, None, ThrottleStatus(1000.0, 666.0, 50.0))


def test_a_throttled_answer_without_cost_has_none(graphql_fixtures: Path) -> None:
    assert read_cost(_load(graphql_fixtures, "throttled.shopify-app-remix-mock.json")) is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, None),
        ({"extensions": None}, None),
        ({"extensions": {"cost": "high"}}, None),
        # Missing or mistyped figures read as missing; a bool is not a number.
        (
            {"extensions": {"cost": {"requestedQueryCost": "5", "actualQueryCost": 3}}},
            QueryCost(None, 3.0, None),
        ),
        (
            {
                "extensions": {
                    "cost": {
                        "requestedQueryCost": 5,
                        "throttleStatus": {
                            "maximumAvailable": 1000,
                            "currentlyAvailable": 10,
                            "restoreRate": True,
                        },
                    }
                }
            },
            QueryCost(5.0, None, None),
        ),
    ],
)
def test_read_cost_is_tolerant(body: dict[str, Any], expected: QueryCost | None) -> None:
    assert read_cost(body) == expected


@pytest.mark.parametrize(
    ("needed", "available", "rate", "expected"),
    [
        (10, 20, 50, 0.0),
        (20, 20, 50, 0.0),
        (752, 666, 50, 1.72),  # the community-posted THROTTLED answer
        (100, 0, 100, 1.0),  # Standard plan: 100 points/second
        (1000, 0, 1000, 1.0),  # Shopify Plus
        (10, 0, 0, None),  # never refills
    ],
)
def test_restore_wait(needed: float, available: float, rate: float, expected: float | None) -> None:
    result = restore_wait(needed, available, rate)
    assert result == (None if expected is None else pytest.approx(expected))


def _status(available: float, maximum: float = 1000.0, rate: float = 50.0) -> QueryCost:
    return QueryCost(requested=None, actual=None, throttle=ThrottleStatus(maximum, available, rate))


@pytest.mark.parametrize(
    ("available", "read_at", "now", "cost", "expected_wait"),
    [
        (999, 0.0, 0.0, 1, 0.0),
        (20, 0.0, 0.0, 52, 0.64),  # (52 - 20) / 50
        (20, 0.0, 0.5, 52, 0.14),  # 25 points came back while nobody asked
        (20, 0.0, 10.0, 52, 0.0),
        (0, 0.0, 0.0, 5000, 20.0),  # never more than a full bucket: (1000 - 0) / 50
        (0, 5.0, 3.0, 50, 1.0),  # a clock behind the reading counts as no time passed
    ],
)
def test_wait_before_a_request(
    available: float, read_at: float, now: float, cost: float, expected_wait: float
) -> None:
    bucket = CostBucket()
    bucket.observe("q", _status(available), at=read_at)
    assert bucket.wait_before(cost, now) == pytest.approx(expected_wait)


def test_a_reserved_request_holds_back_the_next_one() -> None:
    bucket = CostBucket()
    bucket.observe("q", _status(100), at=0.0)
    assert bucket.wait_before(60, 0.0) == 0.0
    bucket.reserve(60, at=0.0)  # sent, not answered yet
    assert bucket.available(0.0) == 40.0
    assert bucket.wait_before(60, 0.0) == pytest.approx(0.4)  # (60 - 40) / 50
    bucket.reserve(60, at=0.4)
    assert bucket.available(0.4) == 0.0
    # The answer is the truth again.
    bucket.observe("q", _status(70), at=0.5)
    assert bucket.available(0.5) == 70.0


def test_reserving_before_any_answer_changes_nothing() -> None:
    bucket = CostBucket()
    bucket.reserve(60, at=0.0)
    assert bucket.available(0.0) is None


def test_nothing_is_held_back_before_the_first_answer() -> None:
    bucket = CostBucket()
    assert bucket.available(0.0) is None
    assert bucket.wait_before(1000, 0.0) == 0.0


def test_the_estimate_refills_up_to_the_maximum() -> None:
    bucket = CostBucket()
    bucket.observe("q", _status(900), at=0.0)
    assert bucket.available(1.0) == 950.0
    assert bucket.available(60.0) == 1000.0


def test_a_bucket_that_never_refills_does_not_block_forever() -> None:
    bucket = CostBucket()
    bucket.observe("q", _status(0, rate=0), at=0.0)
    assert bucket.wait_before(10, 1.0) == 0.0


def test_expected_cost_is_what_the_document_requested_last_time() -> None:
    bucket = CostBucket()
    assert bucket.expected_cost("orders") == DEFAULT_EXPECTED_COST
    bucket.observe("orders", QueryCost(152.0, 40.0, None), at=0.0)
    assert bucket.expected_cost("orders") == 152.0
    assert bucket.status is None  # no throttleStatus in that answer: the estimate is unchanged
    bucket.observe("orders", None, at=1.0)
    assert bucket.expected_cost("orders") == 152.0


@pytest.mark.parametrize(
    ("cost", "failures", "expected"),
    [
        # From the answer's figures: (752 - 666) / 50.
        (QueryCost(752, None, ThrottleStatus(1000, 666, 50)), 1, 1.72),
        # Figures say there is room, Shopify said no: at least the floor.
        (QueryCost(10, None, ThrottleStatus(1000, 666, 50)), 1, 0.5),
        # More than a bucket can hold: wait for a full one, (1000 - 0) / 50.
        (QueryCost(1200, None, ThrottleStatus(1000, 0, 50)), 1, 20.0),
        # No figures (Shopify's app library's mock): backoff 1 s doubling, capped at 10 s.
        (None, 1, 1.0),
        (None, 2, 2.0),
        (None, 3, 4.0),
        (None, 5, 10.0),
        # Figures without the requested cost, or a bucket that never refills: backoff too.
        (QueryCost(None, None, ThrottleStatus(1000, 0, 50)), 2, 2.0),
        (QueryCost(10, None, ThrottleStatus(1000, 0, 0)), 1, 1.0),
    ],
)
def test_throttled_wait(cost: QueryCost | None, failures: int, expected: float) -> None:
    wait = throttled_wait(cost, failures, floor=0.5, first=1.0, cap=10.0)
    assert wait == pytest.approx(expected)


NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("2", 2.0),
        ("2.0", 2.0),
        (" 0.5 ", 0.5),
        ("-3", 0.0),
        ("soon", None),
        ("nan", None),
        ("Tue, 01 Dec 2026 12:00:30 GMT", 30.0),
        ("Tue, 01 Dec 2026 11:59:00 GMT", 0.0),
    ],
)
def test_retry_after_seconds(header: str | None, expected: float | None) -> None:
    assert retry_after_seconds(header, NOW) == expected
