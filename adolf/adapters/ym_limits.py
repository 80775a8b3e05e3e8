"""Yandex Market's limits, kept by the whole fleet through Redis (research/marketplaces.md 3.5).

- At most `max_parallel` (4) requests of a business in flight at once: a semaphore whose slots are leases in a Redis
  sorted set. A holder renews its lease while its request runs, so a worker killed mid-request frees its slot within
  one lease (LEASE seconds), never holds it for good.
- Per-method resource windows, learnt from the X-RateLimit-Resource-Limit / -Remaining / -Until headers of every
  answer (YM publishes no table to trust): a request that costs more units than the window has left waits for the
  window's end. Units are requests, or items for an item-metered method (an update costs one unit per offer).

Waiting is never a failure: outside `patient_waits()` a wait longer than `max_wait` is `Deferred` like the shared
rate limiter's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import uuid
from collections.abc import AsyncIterator, Mapping
from email.utils import parsedate_to_datetime

from redis.asyncio import Redis

from adolf.adapters.ratelimit import waits_patiently
from adolf.errors import Deferred, ValidationFailed

logger = logging.getLogger(__name__)

LEASE = 15.0  # seconds a slot is held without renewal
RENEW_EVERY = 5.0
POLL = 0.02  # seconds between tries for a parallel slot, doubled up to POLL_MAX
POLL_MAX = 0.2
GUESSED_WINDOW = 60.0  # a window whose end has passed is assumed to last this long until an answer says otherwise
UNTIL_MARGIN = 1.0  # X-RateLimit-Resource-Until has whole seconds

# KEYS[1] slots (sorted set token -> lease end ms); ARGV: token, cap, lease ms. 1 when the slot is taken.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[3]))
return 1
"""

# KEYS[1] slots; ARGV: token, lease ms. Extends the token's lease if it still holds one.
_RENEW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local held = redis.call('ZADD', KEYS[1], 'XX', 'CH', now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2]))
return held
"""

# KEYS[1] window (hash limit, remaining, until ms); ARGV: cost, guessed window ms, margin ms. Returns the ms to wait
# (0: the units are booked; -1: the cost exceeds the whole window) and the window's limit. The window counts as over
# `margin` after its announced end.
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local w = redis.call('HMGET', KEYS[1], 'limit', 'remaining', 'until')
local limit, remaining, untilms = tonumber(w[1]), tonumber(w[2]), tonumber(w[3])
if not limit then return {0, 0} end
local cost = tonumber(ARGV[1])
if cost > limit then return {-1, limit} end
local guessed = 0
if untilms + tonumber(ARGV[3]) <= now then
    remaining = limit
    untilms = now + tonumber(ARGV[2])
    guessed = 1
end
if remaining < cost then return {untilms + tonumber(ARGV[3]) - now, limit} end
if guessed == 1 then redis.call('HSET', KEYS[1], 'guessed', 1) end
redis.call('HSET', KEYS[1], 'remaining', remaining - cost, 'until', untilms)
redis.call('PEXPIREAT', KEYS[1], untilms + tonumber(ARGV[2]))
return {0, limit}
"""

# KEYS[1] window; ARGV: limit, remaining, until ms. A later window (or any, when ours is a guess) replaces the known
# one; within the same window the lower remaining wins (answers arrive out of order, and units we booked may not be
# counted by YM yet); an answer about an earlier window is ignored.
_OBSERVE = """
local w = redis.call('HMGET', KEYS[1], 'remaining', 'until', 'guessed')
local remaining, untilms = tonumber(ARGV[2]), tonumber(ARGV[3])
local known_remaining, known_until = tonumber(w[1]), tonumber(w[2])
if w[3] == '1' then
    known_until = nil
    redis.call('HDEL', KEYS[1], 'guessed')
end
if known_until and math.abs(known_until - untilms) < 1500 then
    if known_remaining and known_remaining < remaining then remaining = known_remaining end
    if known_until > untilms then untilms = known_until end
elseif known_until and known_until > untilms then
    return 0
end
redis.call('HSET', KEYS[1], 'limit', ARGV[1], 'remaining', remaining, 'until', untilms)
redis.call('PEXPIREAT', KEYS[1], untilms + 60000)
return 1
"""


class YmTraffic:
    """The parallel cap and the resource windows of one business, for MarketplaceHttp."""

    def __init__(self, redis: Redis, business: str, *, max_parallel: int = 4, max_wait: float = 20.0) -> None:
        self.redis = redis
        self.business = business
        self.max_parallel = max_parallel
        self.max_wait = max_wait
        self._local = asyncio.Semaphore(max_parallel)  # this process never polls for more slots than exist
        self._take = redis.register_script(_TAKE)
        self._renew = redis.register_script(_RENEW)
        self._admit = redis.register_script(_ADMIT)
        self._observe = redis.register_script(_OBSERVE)

    def slots_key(self) -> str:
        return f"adolf:ym:parallel:{self.business}"

    def window_key(self, bucket: str) -> str:
        return f"adolf:ym:window:{bucket}:{self.business}"

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the business's parallel slots for the duration of a request. A request that ended without an
        answer (a timeout, a lost connection, a cancelled caller) may still be running at YM: its slot is left to
        run out with its lease instead of being given back."""
        async with self._local:
            token = uuid.uuid4().hex
            await self._wait_for_slot(token)
            renewer = asyncio.create_task(self._keep(token))
            answered = False
            try:
                yield
                answered = True
            finally:
                renewer.cancel()
                if answered:
                    await self._release(token)

    async def _release(self, token: str) -> None:
        try:
            await self.redis.zrem(self.slots_key(), token)
        except Exception:  # Redis away: the slot frees itself when its lease runs out
            logger.warning("could not give a YM parallel slot back; it frees itself within %.0fs", LEASE)

    async def _wait_for_slot(self, token: str) -> None:
        pause = POLL
        while not await self._take(keys=[self.slots_key()], args=[token, self.max_parallel, int(LEASE * 1000)]):
            await asyncio.sleep(pause)
            pause = min(POLL_MAX, pause * 2)

    async def _keep(self, token: str) -> None:
        while True:
            await asyncio.sleep(RENEW_EVERY)
            try:
                if not await self._renew(keys=[self.slots_key()], args=[token, int(LEASE * 1000)]):
                    logger.warning("a YM parallel slot lease ran out while its request was still running")
                    return
            except Exception:  # Redis briefly away: the lease is long enough to try again
                logger.warning("could not renew a YM parallel slot lease", exc_info=True)

    async def admit(self, bucket: str, cost: int) -> None:
        """Book `cost` units of the method's window, waiting for the next window when this one has too few. A request
        that costs more than a whole window is refused (ValidationFailed, so a batch is split to fit)."""
        while True:
            args = [cost, int(GUESSED_WINDOW * 1000), int(UNTIL_MARGIN * 1000)]
            wait_ms, limit = await self._admit(keys=[self.window_key(bucket)], args=args)
            if wait_ms < 0:
                raise ValidationFailed(f"YM takes {limit} units of {bucket} a window, the request needs {cost}")
            wait = float(wait_ms) / 1000
            if wait <= 0:
                return
            if not waits_patiently() and wait > self.max_wait:
                raise Deferred(f"the {bucket} window of Yandex Market reopens in {wait:.1f}s", delay=wait)
            logger.info("%s: %d units wanted, the window reopens in %.1fs", bucket, cost, wait)
            await asyncio.sleep(wait)

    async def observe(self, bucket: str, status: int, headers: Mapping[str, str]) -> None:
        window = read_window(headers)
        if window is None:
            return
        limit, remaining, until = window
        try:
            await self._observe(keys=[self.window_key(bucket)], args=[limit, remaining, int(until * 1000)])
        except Exception:  # the answer stands; the next answer tells the window again
            logger.warning("could not record the %s window YM announced", bucket, exc_info=True)


def read_window(headers: Mapping[str, str]) -> tuple[int, int, float] | None:
    """(limit, remaining, window end as a Unix time) from X-RateLimit-Resource-*, None when they are absent or bad."""
    try:
        limit = int(headers["X-RateLimit-Resource-Limit"])
        remaining = int(headers["X-RateLimit-Resource-Remaining"])
        until = parsedate_to_datetime(headers["X-RateLimit-Resource-Until"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return None
    if limit <= 0 or not math.isfinite(until):
        return None
    return limit, max(0, remaining), until
