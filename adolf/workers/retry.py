"""The retry ladder (seed §7.9.2), as data: 60 / 120 / 300 s, each x0.8-1.2 jitter; a longer Retry-After wins."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

DEFAULT_DELAYS: tuple[float, ...] = (60.0, 120.0, 300.0)
JITTER = (0.8, 1.2)


def backoff_delay(
    failed_try: int,
    *,
    delays: Sequence[float] = DEFAULT_DELAYS,
    retry_after: float | None = None,
    uniform: Callable[[float, float], float] = random.uniform,
) -> float:
    """Seconds to wait after try number `failed_try` (1-based) failed."""
    base = delays[min(max(failed_try, 1), len(delays)) - 1]
    delay = base * uniform(*JITTER)
    return max(delay, retry_after or 0.0)
