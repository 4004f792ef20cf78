"""How long to wait before trying again after failures: the one capped exponential backoff
every retry loop uses (a provider send, a bridge delivery, a round of parked turns), so the
processes cannot drift apart on what "doubling, capped, with jitter" means.

Each caller keeps its own numbers (first delay, cap, jitter); the shape is the same for all.
"""

from __future__ import annotations

import random
from collections.abc import Callable

#: Doublings past this change nothing for any cap in use (2**64 times the smallest first
#: delay is years); bounding the exponent keeps a retry loop that runs for days from
#: raising OverflowError on a float too large.
_MAX_DOUBLINGS = 64


def backoff(
    failures: int,
    *,
    first: float,
    cap: float,
    jitter: float = 0.0,
    uniform: Callable[[float, float], float] = random.uniform,
) -> float:
    """Seconds to wait after `failures` consecutive failures (1 for the first): `first`,
    doubling with each further failure, at most `cap`; then multiplied by a random factor in
    [1 - jitter, 1 + jitter], so that after an outage many waiters do not retry in lockstep
    (the factor may take the result past `cap` by up to `jitter`). `uniform` draws the
    factor (tests pass a fixed one)."""
    delay = min(cap, first * 2 ** min(failures - 1, _MAX_DOUBLINGS))
    if jitter:
        delay *= uniform(1 - jitter, 1 + jitter)
    return float(delay)
