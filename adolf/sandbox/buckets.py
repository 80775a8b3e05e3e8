"""Token buckets per (account, bucket name) and in-flight request tracking."""

from __future__ import annotations

import logging
import math
import time
from collections import defaultdict
from dataclasses import dataclass

from adolf.limits import RateSpec

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BucketSnapshot:
    """What a rate-limit answer or header needs to know about a bucket."""

    capacity: int
    remaining: int
    retry_after_s: int
    reset_s: int
    until: float | None = None  # the window's end as a Unix time (YM's windows)


class TokenBucket:
    """Capacity ``burst``; refills ``limit`` tokens per ``period`` continuously."""

    def __init__(self, spec: RateSpec, now: float) -> None:
        self.spec = spec
        self.tokens = float(spec.burst)
        self.stamp = now

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.stamp)
        self.tokens = min(float(self.spec.burst), self.tokens + elapsed * self.spec.rate)
        self.stamp = now

    def try_consume(self, now: float) -> bool:
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def snapshot(self, now: float) -> BucketSnapshot:
        self._refill(now)
        rate = self.spec.rate
        missing_for_one = max(0.0, 1.0 - self.tokens)
        return BucketSnapshot(
            capacity=self.spec.burst,
            remaining=math.floor(self.tokens + 1e-9),
            retry_after_s=max(1, math.ceil(missing_for_one / rate)),
            reset_s=math.ceil((self.spec.burst - self.tokens) / rate - 1e-9),
        )


class RateLimiter:
    """All buckets of one simulator; specs come from the live config."""

    def __init__(self) -> None:
        self._buckets: dict[tuple[str, str], TokenBucket] = {}

    def _bucket(self, account: str, name: str, spec: RateSpec, now: float) -> TokenBucket:
        key = (account, name)
        bucket = self._buckets.get(key)
        if bucket is None or bucket.spec != spec:
            bucket = self._buckets[key] = TokenBucket(spec, now)
        return bucket

    def consume(self, account: str, name: str, spec: RateSpec) -> tuple[bool, BucketSnapshot]:
        """Take one token; returns whether it was granted and the state afterwards."""
        now = time.monotonic()
        bucket = self._bucket(account, name, spec, now)
        granted = bucket.try_consume(now)
        return granted, bucket.snapshot(now)

    def peek(self, account: str, name: str, spec: RateSpec) -> BucketSnapshot:
        now = time.monotonic()
        return self._bucket(account, name, spec, now).snapshot(now)

    def reset(self, names: set[str] | None = None) -> None:
        """Forget buckets (all, or only those with the given names)."""
        if names is None:
            self._buckets.clear()
            return
        for key in [key for key in self._buckets if key[1] in names]:
            del self._buckets[key]


class ResourceWindows:
    """Yandex Market's resource limits: per key (business) and method, AMOUNT units per window of PERIOD seconds,
    a unit being a request or an item of the request; refused requests cost nothing. Windows end at a whole second
    of the wall clock, so every answer of a window names the same X-RateLimit-Resource-Until."""

    def __init__(self) -> None:
        self._windows: dict[tuple[str, str], tuple[float, float]] = {}  # (key, bucket) -> (window end, used)

    def _window(self, key: str, bucket: str, spec: RateSpec, now: float) -> tuple[float, float]:
        end, used = self._windows.get((key, bucket), (0.0, 0.0))
        return (math.ceil(now + spec.period), 0.0) if now >= end else (end, used)

    def consume(self, key: str, bucket: str, spec: RateSpec, cost: int) -> tuple[bool, BucketSnapshot]:
        now = time.time()
        end, used = self._window(key, bucket, spec, now)
        granted = used + cost <= spec.limit
        if granted:
            used += cost
        self._windows[(key, bucket)] = (end, used)
        return granted, self._snapshot(spec, end, used, now)

    def peek(self, key: str, bucket: str, spec: RateSpec) -> BucketSnapshot:
        now = time.time()
        end, used = self._window(key, bucket, spec, now)
        return self._snapshot(spec, end, used, now)

    @staticmethod
    def _snapshot(spec: RateSpec, end: float, used: float, now: float) -> BucketSnapshot:
        left = max(1, math.ceil(end - now))
        remaining = int(spec.limit - used)
        return BucketSnapshot(int(spec.limit), remaining, retry_after_s=left, reset_s=left, until=end)

    def reset(self) -> None:
        self._windows.clear()


class InFlight:
    """Concurrent requests per key: ``admitted`` ones (for caps) and all ``seen`` ones."""

    def __init__(self) -> None:
        self._admitted: dict[str, set[int]] = defaultdict(set)
        self._seen: dict[str, set[int]] = defaultdict(set)
        self.max_seen: dict[str, int] = defaultdict(int)

    def enter(self, key: str, marketplace: str, request_id: int, cap: int | None) -> bool:
        """Register a request; returns False when ``cap`` admitted requests are already running."""
        seen = self._seen[key]
        seen.add(request_id)
        self.max_seen[marketplace] = max(self.max_seen[marketplace], len(seen))
        admitted = self._admitted[key]
        if cap is not None and len(admitted) >= cap:
            return False
        admitted.add(request_id)
        return True

    def leave(self, key: str, request_id: int) -> None:
        self._seen[key].discard(request_id)
        self._admitted[key].discard(request_id)

    def reset(self) -> None:
        self._admitted.clear()
        self._seen.clear()
        self.max_seen.clear()
