"""A rate limiter shared by every worker process: GCRA with its state in Redis.

Each call reserves the next free slot of its bucket (marketplace method + seller account) atomically in Redis and
sleeps until that slot, so the whole fleet sends at the documented rate without polling and without bursts beyond
the marketplace's own burst. The limiter keeps one request of the burst in hand and runs 2% under the rate, so the
jitter of a real network never turns into a limit answer. A limit answer that arrives anyway pushes the bucket back
for everybody (`penalize`).

Waiting for a slot is never a failure: a caller whose slot is further away than `max_wait` gets `Deferred` (its job
runs again at that time without spending a try), and code that must wait however long it takes (the card batcher)
runs inside `patient_waits()`. A caller may also keep part of the burst in reserve (`spare`), which paces it at the
sustained rate and leaves the burst for whoever comes next.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
from collections.abc import Iterator
from contextlib import contextmanager

from redis.asyncio import Redis

from adolf.errors import Deferred
from adolf.limits import RateSpec

logger = logging.getLogger(__name__)

SAFETY_MARGIN = 0.02
_patient: contextvars.ContextVar[bool] = contextvars.ContextVar("adolf_patient_waits", default=False)

# KEYS[1] bucket; ARGV: interval ms, burst usable by this call, max wait ms. Returns {allowed, wait ms}. Time comes
# from Redis, so workers on machines with skewed clocks still share one schedule.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat + interval - burst * interval - now
if ARGV[3] ~= 'inf' and wait > tonumber(ARGV[3]) then return {0, wait} end
if wait < 0 then wait = 0 end
local new_tat = tat + interval
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(new_tat - now + 1000))
return {1, wait}
"""

# KEYS[1] bucket; ARGV: interval ms, burst usable by this call. The wait _ACQUIRE would book, without booking it.
_PEEK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
return math.ceil(tat + tonumber(ARGV[1]) - tonumber(ARGV[2]) * tonumber(ARGV[1]) - now)
"""

# KEYS[1] bucket; ARGV: interval ms, burst, pause ms. Nobody sends on this bucket for the next `pause` ms.
_PENALIZE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local blocked = now + tonumber(ARGV[3]) + (tonumber(ARGV[2]) - 1) * tonumber(ARGV[1])
if blocked > tat then
    redis.call('SET', KEYS[1], tostring(blocked), 'PX', math.ceil(blocked - now + 1000))
end
return 1
"""


class ClientRate:
    """How the fleet spends a marketplace limit: one request of the burst kept in hand, 2% under the rate."""

    def __init__(self, spec: RateSpec) -> None:
        self.spec = spec

    @property
    def client_interval_ms(self) -> float:
        return self.spec.period / self.spec.limit * 1000 * (1 + SAFETY_MARGIN)

    @property
    def client_burst(self) -> int:
        return max(1, self.spec.burst - 1)


@contextmanager
def patient_waits() -> Iterator[None]:
    """Inside this block the limiter waits for a slot however far away it is (never `Deferred`)."""
    token = _patient.set(True)
    try:
        yield
    finally:
        _patient.reset(token)


def waits_patiently() -> bool:
    """Whether the caller runs inside `patient_waits()`."""
    return _patient.get()


class RateLimiter:
    def __init__(self, redis: Redis, specs: dict[str, str], *, max_wait: float = 20.0) -> None:
        self.redis = redis
        self.specs = {bucket: ClientRate(RateSpec.parse(text)) for bucket, text in specs.items()}
        self.max_wait = max_wait
        self._acquire = redis.register_script(_ACQUIRE)
        self._peek = redis.register_script(_PEEK)
        self._penalize = redis.register_script(_PENALIZE)

    @staticmethod
    def key(bucket: str, account: str) -> str:
        return f"adolf:ratelimit:{bucket}:{account}"

    def spec(self, bucket: str) -> ClientRate | None:
        return self.specs.get(bucket)

    async def acquire(self, bucket: str, account: str, *, spare: int = 0) -> float:
        """Wait for this caller's slot, leaving `spare` requests of the burst unused; returns the seconds waited.

        Deferred when the slot is further away than max_wait (outside `patient_waits()`); nothing is booked then."""
        wait = await self.book(bucket, account, spare=spare)
        if wait > 0:
            await asyncio.sleep(wait)
        return wait

    async def peek(self, bucket: str, account: str, *, spare: int = 0) -> float:
        """Seconds until a slot that leaves `spare` of the burst unused, without booking it."""
        spec = self.specs.get(bucket)
        if spec is None:
            return 0.0
        usable = max(1, spec.client_burst - max(0, spare))
        wait_ms = await self._peek(keys=[self.key(bucket, account)], args=[spec.client_interval_ms, usable])
        return max(0.0, float(wait_ms) / 1000)

    async def book(self, bucket: str, account: str, *, spare: int = 0) -> float:
        """Book this caller's slot without waiting for it: the seconds until it comes."""
        spec = self.specs.get(bucket)
        if spec is None:
            return 0.0
        usable = max(1, spec.client_burst - max(0, spare))
        max_wait = "inf" if _patient.get() or math.isinf(self.max_wait) else self.max_wait * 1000
        allowed, wait_ms = await self._acquire(
            keys=[self.key(bucket, account)], args=[spec.client_interval_ms, usable, max_wait]
        )
        wait = float(wait_ms) / 1000
        if not allowed:
            raise Deferred(f"the next {bucket} slot is {wait:.1f}s away", delay=wait)
        return max(0.0, wait)

    async def penalize(self, bucket: str, account: str, seconds: float) -> None:
        """The marketplace answered with its limit: hold every process off this bucket for `seconds`."""
        spec = self.specs.get(bucket)
        if spec is None:
            return
        logger.warning("rate limit answer on %s, pausing it for %.1fs", bucket, seconds)
        await self._penalize(
            keys=[self.key(bucket, account)], args=[spec.client_interval_ms, spec.client_burst, seconds * 1000]
        )
