"""Token-bucket arithmetic and the in-process view of delayed applies."""

from __future__ import annotations

import time

from adolf.sandbox import SandboxServer
from adolf.sandbox.buckets import InFlight, RateLimiter, TokenBucket
from adolf.sandbox.config import RateSpec
from tests.support.waiting import eventually

from .helpers import Client


def test_bucket_refills_continuously() -> None:
    spec = RateSpec.parse("10/60:5")  # one token per 6 s, burst 5
    bucket = TokenBucket(spec, now=0.0)
    assert all(bucket.try_consume(0.0) for _ in range(5))
    assert not bucket.try_consume(0.0)
    snap = bucket.snapshot(0.0)
    assert (snap.capacity, snap.remaining, snap.retry_after_s, snap.reset_s) == (5, 0, 6, 30)
    assert not bucket.try_consume(5.9)
    assert bucket.try_consume(6.0)
    assert bucket.snapshot(1000.0).remaining == 5  # never above the burst


def test_limiter_is_per_account_and_bucket_and_resets() -> None:
    limiter, spec = RateLimiter(), RateSpec.parse("1/3600:1")
    assert limiter.consume("a", "x", spec)[0]
    assert not limiter.consume("a", "x", spec)[0]
    assert limiter.consume("b", "x", spec)[0] and limiter.consume("a", "y", spec)[0]
    limiter.reset({"x"})
    assert limiter.consume("a", "x", spec)[0]
    assert not limiter.consume("a", "y", spec)[0]


def test_inflight_cap_and_max_seen() -> None:
    inflight = InFlight()
    assert inflight.enter("k", "ym", 1, cap=1)
    assert not inflight.enter("k", "ym", 2, cap=1)
    inflight.leave("k", 2)
    inflight.leave("k", 1)
    assert inflight.enter("k", "ym", 3, cap=1)
    assert inflight.max_seen["ym"] == 2


async def test_apply_lands_on_time_without_further_requests(client: Client, sandbox: SandboxServer) -> None:
    [card] = await client.seed("wb", {"sku": "T-1", "title": "before"})
    update = [{"nmID": card["id"], "vendorCode": "T-1", "sizes": card["raw"]["sizes"], "title": "after"}]
    assert (await client.wb("/content/v2/cards/update", update))[0] == 200
    started = time.monotonic()

    async def applied() -> bool:  # looks at the state directly, no HTTP request in between
        return sandbox.state.wb["default"]["T-1"].title == "after"

    await eventually(applied)
    assert time.monotonic() - started < 1.0
    assert len(sandbox.state.scheduler) == 0
