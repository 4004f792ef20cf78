"""The restart policy: after a crash, how long to wait, and when a crash loop means giving up."""

from __future__ import annotations

import pytest

from bot.processes.restart_policy import GiveUp, Restart, RestartPolicy, after_crash

DEFAULT = RestartPolicy()  # 1 s doubling up to 30 s; 5 crashes within 60 s give up
NOW = 1000.0


@pytest.mark.parametrize(
    ("policy", "earlier", "expected"),
    [
        # first crash: the base delay
        (DEFAULT, [], Restart(delay=1, recent_crashes=1)),
        # each crash within the interval doubles the wait
        (DEFAULT, [NOW - 10], Restart(delay=2, recent_crashes=2)),
        (DEFAULT, [NOW - 20, NOW - 10], Restart(delay=4, recent_crashes=3)),
        (DEFAULT, [NOW - 30, NOW - 20, NOW - 10], Restart(delay=8, recent_crashes=4)),
        # the fifth crash within 60 s is a crash loop
        (DEFAULT, [NOW - 40, NOW - 30, NOW - 20, NOW - 10], GiveUp(recent_crashes=5, interval=60)),
        (DEFAULT, [NOW - 59, NOW - 3, NOW - 2, NOW - 1], GiveUp(recent_crashes=5, interval=60)),
        # crashes older than the interval are forgotten: back to the base delay
        (DEFAULT, [NOW - 600, NOW - 300, NOW - 120, NOW - 61], Restart(delay=1, recent_crashes=1)),
        (DEFAULT, [NOW - 60, NOW - 59], Restart(delay=2, recent_crashes=2)),  # 60 s ago: out
        # a long history: only the recent ones count
        (DEFAULT, [NOW - 500 + i for i in range(50)] + [NOW - 5], Restart(2, 2)),
        # this crash's own time already in the list is not counted twice
        (DEFAULT, [NOW - 10, NOW], Restart(delay=2, recent_crashes=2)),
        # the cap
        (RestartPolicy(burst=10), [NOW - 9 + i for i in range(8)], Restart(30, 9)),
        (RestartPolicy(max_delay=5, burst=10), [NOW - 3, NOW - 2, NOW - 1], Restart(5, 4)),
        # other bases and factors
        (RestartPolicy(base_delay=0.1, factor=3), [NOW - 1], Restart(delay=0.3, recent_crashes=2)),
        (RestartPolicy(base_delay=0), [NOW - 1, NOW - 0.5], Restart(delay=0, recent_crashes=3)),
        (RestartPolicy(factor=1), [NOW - 3, NOW - 2, NOW - 1], Restart(delay=1, recent_crashes=4)),
        # a shorter window and burst
        (RestartPolicy(burst=3, interval=10), [NOW - 9, NOW - 8], GiveUp(3, 10)),
        (RestartPolicy(burst=3, interval=10), [NOW - 11, NOW - 8], Restart(2, 2)),
        # never: give up at the first crash
        (RestartPolicy.never(), [], GiveUp(recent_crashes=1, interval=60)),
    ],
)
def test_after_crash(
    policy: RestartPolicy, earlier: list[float], expected: Restart | GiveUp
) -> None:
    decision = after_crash(policy, earlier, NOW)
    assert type(decision) is type(expected)
    if isinstance(expected, Restart):
        assert isinstance(decision, Restart)
        assert decision.delay == pytest.approx(expected.delay)
        assert decision.recent_crashes == expected.recent_crashes
    else:
        assert decision == expected


def test_default_schedule_before_giving_up() -> None:
    """Crashing right after every restart: 1, 2, 4, 8 s, then the fifth crash gives up."""
    crashes: list[float] = []
    now, delays = 0.0, []
    while True:
        decision = after_crash(DEFAULT, crashes, now)
        crashes.append(now)
        if isinstance(decision, GiveUp):
            break
        delays.append(decision.delay)
        now += decision.delay + 0.5  # it crashes half a second after each start
    assert delays == [1, 2, 4, 8]
    assert decision.reason == "5 crashes within 60 s"


@pytest.mark.parametrize(
    "bad", [{"burst": 0}, {"interval": 0}, {"base_delay": -1}, {"factor": 0.5}]
)
def test_unusable_policies_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="unusable restart policy"):
        RestartPolicy(**bad)  # type: ignore[arg-type]
