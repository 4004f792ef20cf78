"""The one backoff formula (bot/domain/backoff.py), with each caller's numbers: the values
below are what the formulas it replaced gave, so a change here is a change of behaviour."""

from __future__ import annotations

import pytest

from bot.domain.backoff import backoff
from channels.core.sending import RetryPolicy


def _no_draw(low: float, high: float) -> float:
    raise AssertionError("no jitter was asked for")


@pytest.mark.parametrize(
    ("failures", "first", "cap", "expected"),
    [
        # The bridge's workers (handoff/bridge/workers.py): 0.25 * 2**attempts, capped.
        (1, 0.5, 30.0, 0.5),
        (2, 0.5, 30.0, 1.0),
        (3, 0.5, 30.0, 2.0),
        (6, 0.5, 30.0, 16.0),
        (7, 0.5, 30.0, 30.0),
        (8, 0.5, 10.0, 10.0),
        # The channel sender's default policy: 0.5 s doubling to 8 s.
        (4, 0.5, 8.0, 4.0),
        (5, 0.5, 8.0, 8.0),
        # Parked turns' retry rounds: 1 s doubling to 30 s.
        (1, 1.0, 30.0, 1.0),
        (5, 1.0, 30.0, 16.0),
        (6, 1.0, 30.0, 30.0),
        # A failure count the old formula was never called with; kept as it was.
        (0, 0.5, 8.0, 0.25),
        # Days of failures stay at the cap instead of overflowing a float.
        (5000, 0.5, 30.0, 30.0),
    ],
)
def test_doubles_from_the_first_delay_up_to_the_cap(
    failures: int, first: float, cap: float, expected: float
) -> None:
    assert backoff(failures, first=first, cap=cap, uniform=_no_draw) == expected


@pytest.mark.parametrize(
    ("factor", "expected"),
    [("low", 4.0 * 0.8), ("high", 4.0 * 1.2), ("middle", 4.0)],
)
def test_jitter_scales_the_capped_delay(factor: str, expected: float) -> None:
    draws: list[tuple[float, float]] = []

    def draw(low: float, high: float) -> float:
        draws.append((low, high))
        return {"low": low, "high": high, "middle": (low + high) / 2}[factor]

    assert backoff(3, first=1.0, cap=30.0, jitter=0.2, uniform=draw) == pytest.approx(expected)
    assert draws == [(0.8, 1.2)]


@pytest.mark.parametrize("attempts", range(1, 12))
def test_the_workers_numbers_are_the_old_formula(attempts: int) -> None:
    for cap in (10.0, 30.0):
        assert backoff(attempts, first=0.5, cap=cap) == float(min(cap, 0.25 * 2**attempts))


@pytest.mark.parametrize("failed_attempts", range(1, 8))
def test_the_senders_delay_stays_within_its_old_bounds(failed_attempts: int) -> None:
    policy = RetryPolicy()
    base = min(policy.max_delay, policy.base_delay * 2 ** (failed_attempts - 1))
    for _ in range(50):
        assert base * 0.8 <= policy.delay(failed_attempts) <= base * 1.2


@pytest.mark.parametrize(("first", "cap"), [(1.0, 30.0), (0.05, 0.2)])
def test_the_retry_rounds_follow_the_old_doubling_loop(first: float, cap: float) -> None:
    """Parked turns' retry task used to keep a delay, doubled and capped after each round."""
    delay = first
    for rounds in range(1, 40):
        assert backoff(rounds, first=first, cap=cap, uniform=_no_draw) == delay
        delay = min(cap, delay * 2)
