"""The batcher against the simulator and real Redis: a card cancelled before it goes is never sent, and the sender
outlives a failing limiter."""

import asyncio
import logging

from adolf.adapters import CardContent, CardUpdate
from adolf.adapters.ratelimit import RateLimiter
from tests.support.waiting import eventually

CONTENT = CardContent(title="Кружка", description="Описание")


async def test_the_sender_outlives_a_failing_rate_limiter_and_sends_once_it_answers(
    marketplace, build_adapters, redis, caplog
):
    await marketplace.seed("wb", {"sku": "W-1", "title": "t", "description": "d"})
    adapters = build_adapters()
    batcher = adapters.batcher("wb")
    key = RateLimiter.key("wb.cards_update", batcher.adapter.account)
    await redis.hset(key, "broken", "1")  # the limiter's script now fails with WRONGTYPE on this bucket
    loop = asyncio.get_running_loop()
    card = CardUpdate(sku="W-1", content=CONTENT)
    publishing = asyncio.create_task(batcher.publish(card, send_by=loop.time() + 20, answer_by=loop.time() + 25))

    async def sender_failed():
        return "sending wb cards failed before the request" in caplog.text

    with caplog.at_level(logging.ERROR):
        await eventually(sender_failed, what="the limiter failure logged")
    await redis.delete(key)
    result = await asyncio.wait_for(publishing, 10)
    assert result.success
    assert len(await marketplace.control("GET", "/requests?path_contains=cards/update")) == 1


async def test_a_card_whose_job_is_cancelled_before_it_goes_is_never_sent(marketplace, build_adapters, redis):
    await marketplace.seed("ym", *({"sku": s, "title": "t", "description": "d"} for s in ("A", "B")))
    batcher = build_adapters(batch_window=0.3).batcher("ym")
    loop = asyncio.get_running_loop()
    deadlines = {"send_by": loop.time() + 20, "answer_by": loop.time() + 25}
    cancelled = asyncio.create_task(batcher.publish(CardUpdate(sku="A", content=CONTENT), **deadlines))
    kept = asyncio.create_task(batcher.publish(CardUpdate(sku="B", content=CONTENT), **deadlines))
    await asyncio.sleep(0)  # both handed in, still gathering
    cancelled.cancel()
    assert (await kept).success
    [update] = await marketplace.control("GET", "/requests?path_contains=offer-mappings/update")
    assert update["skus"] == ["B"]
