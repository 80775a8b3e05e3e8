"""The one decision between another try and a final failure, and the retry ladder (seed §7.9.2) it uses:
60 / 120 / 300 s, each x0.8-1.2 jitter; a longer Retry-After wins."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from adolf.errors import AdolfError, is_infra_error

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


def is_retryable(exc: BaseException, *, retry_unexpected: bool) -> bool:
    """Recoverable errors (marketplace RATE_LIMIT / TIMEOUT / API_ERROR, Redis or PostgreSQL away) are retried;
    permanent ones, invalid arguments and the hard time limit never are; a job may ask for its unexpected errors
    (bugs, not AdolfErrors) to be retried too."""
    if is_infra_error(exc):
        return True
    if isinstance(exc, AdolfError):
        return exc.recoverable
    return retry_unexpected and isinstance(exc, Exception)


@dataclass(frozen=True)
class RetryPolicy:
    delays: tuple[float, ...] = DEFAULT_DELAYS

    def next_try_in(self, exc: BaseException, *, job_try: int, max_tries: int, retry_unexpected: bool) -> float | None:
        """Seconds until the next try after this failure, or None when it is final."""
        if job_try >= max_tries or not is_retryable(exc, retry_unexpected=retry_unexpected):
            return None
        return backoff_delay(job_try, delays=self.delays, retry_after=getattr(exc, "retry_after", None))
