"""The shared limiter against real Redis: bursts, spacing, refusal beyond max_wait, penalties, several clients."""

import asyncio
import time

import pytest

from adolf.adapters.ratelimit import ClientRate, RateLimiter, patient_waits
from adolf.errors import Deferred
from adolf.limits import RateSpec


def test_specs_parse_and_keep_a_margin():
    spec = RateSpec.parse("10/60:5")
    assert (spec.limit, spec.period, spec.burst) == (10, 60.0, 5)
    client = ClientRate(spec)
    assert client.client_burst == 4 and client.client_interval_ms == pytest.approx(6000 * 1.02)
    assert RateSpec.parse("3/1").burst == 1
    for bad in ("10 per minute", "0/60:5", "10/0:1"):
        with pytest.raises(ValueError):
            RateSpec.parse(bad)


async def test_a_burst_goes_at_once_then_requests_are_spaced(redis):
    limiter = RateLimiter(redis, {"b": "20/1:5"}, max_wait=5)
    waits = [await limiter.acquire("b", "acct") for _ in range(4)]
    assert waits == [0.0] * 4  # the burst, less the one kept in hand
    started = time.monotonic()
    await limiter.acquire("b", "acct")
    assert 0.03 < time.monotonic() - started < 0.2  # one interval of 51 ms


async def test_limiters_in_different_clients_share_one_schedule(redis, redis_pool):
    first = RateLimiter(redis, {"b": "50/1:2"}, max_wait=5)
    second = RateLimiter(redis_pool, {"b": "50/1:2"}, max_wait=5)
    started = time.monotonic()
    await asyncio.gather(*(limiter.acquire("b", "acct") for limiter in (first, second) for _ in range(10)))
    elapsed = time.monotonic() - started
    assert elapsed == pytest.approx(19 * 1.02 / 50, abs=0.08)  # 20 requests, 1 free, 19 intervals


async def test_a_wait_beyond_max_wait_defers_the_caller_without_booking_a_slot(redis):
    limiter = RateLimiter(redis, {"b": "1/10:1"}, max_wait=1)
    await limiter.acquire("b", "acct")
    with pytest.raises(Deferred) as refused:  # waiting is not a failure: the job runs again at its slot
        await limiter.acquire("b", "acct")
    assert 9 < refused.value.delay <= 10.3
    with pytest.raises(Deferred) as again:
        await limiter.acquire("b", "acct")
    assert again.value.delay <= refused.value.delay  # the refusal booked nothing


async def test_patient_callers_book_a_far_slot_and_a_spare_keeps_the_burst(redis):
    limiter = RateLimiter(redis, {"b": "60/60:5"}, max_wait=0.01)
    with patient_waits():
        assert [await limiter.book("b", "acct") for _ in range(4)] == [0.0] * 4  # the client burst is 4
        assert await limiter.book("b", "acct") > 0.5  # booked a second away, no Deferred
    paced = RateLimiter(redis, {"b": "60/60:5"}, max_wait=5)
    assert await paced.book("b", "other", spare=3) == 0.0
    assert await paced.book("b", "other", spare=3) == pytest.approx(1.02, abs=0.05)  # the burst stays unused


async def test_accounts_and_unknown_buckets_are_independent(redis):
    limiter = RateLimiter(redis, {"b": "1/10:1"}, max_wait=1)
    await limiter.acquire("b", "seller-1")
    assert await limiter.acquire("b", "seller-2") == 0.0
    assert await limiter.acquire("not-limited", "seller-1") == 0.0


async def test_a_penalty_holds_every_client_off_the_bucket(redis):
    limiter = RateLimiter(redis, {"b": "100/1:10"}, max_wait=0.5)
    await limiter.penalize("b", "acct", 3)
    with pytest.raises(Deferred) as refused:
        await limiter.acquire("b", "acct")
    assert 2.5 < refused.value.delay <= 3.1
