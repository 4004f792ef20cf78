"""When a crashed process is started again, after how long, and when to give up.

A pure function of the process's recent crash times, so it is tested as a table
(tests/unit/test_restart_policy.py) and the supervisor only carries it out. The defaults are
the same numbers as the systemd units in docs/deployment.md: 1 s, doubling, at most 30 s
(RestartSec=1s, RestartSteps, RestartMaxDelaySec=30s), and a crash loop is 5 crashes within
60 s (StartLimitBurst=5, StartLimitIntervalSec=60).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class RestartPolicy:
    #: Wait before the first restart, in seconds.
    base_delay: float = 1.0
    #: Each further crash within `interval` multiplies the wait by this.
    factor: float = 2.0
    #: The wait never exceeds this.
    max_delay: float = 30.0
    #: This many crashes within `interval` seconds is a crash loop: give up.
    burst: int = 5
    interval: float = 60.0

    def __post_init__(self) -> None:
        if self.burst < 1 or self.interval <= 0 or self.base_delay < 0 or self.factor < 1:
            raise ValueError(f"unusable restart policy: {self}")

    @classmethod
    def never(cls) -> RestartPolicy:
        """Give up at the first crash (the behaviour before restarts existed)."""
        return cls(burst=1)


@dataclass(frozen=True)
class Restart:
    #: Seconds to wait before starting the process again.
    delay: float
    #: Crashes within the policy's interval, this one included (1 for the first).
    recent_crashes: int


@dataclass(frozen=True)
class GiveUp:
    recent_crashes: int
    interval: float

    @property
    def reason(self) -> str:
        return f"{self.recent_crashes} crashes within {self.interval:g} s"


def after_crash(
    policy: RestartPolicy, earlier_crashes: Sequence[float], now: float
) -> Restart | GiveUp:
    """What to do about a crash at `now`, given the times of earlier crashes (monotonic s).

    Crashes older than the interval are forgotten, so a process that ran well for a minute
    starts again from `base_delay`. (A time equal to `now` is this crash, not an earlier one.)
    """
    recent = [t for t in earlier_crashes if now - policy.interval < t < now]
    crashes = len(recent) + 1  # this one
    if crashes >= policy.burst:
        return GiveUp(recent_crashes=crashes, interval=policy.interval)
    delay = min(policy.max_delay, policy.base_delay * policy.factor ** (crashes - 1))
    return Restart(delay=delay, recent_crashes=crashes)
