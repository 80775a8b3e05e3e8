"""A worker process says it is alive (adolf:worker:<host>:<pid>) while it runs, and takes that back when it stops."""

import asyncio
import contextlib
import os

from adolf.ops import workers_alive
from adolf.workers.runner import LaneGroup
from tests.support.jobs import TEST_REGISTRY
from tests.support.waiting import eventually


async def test_a_running_group_is_listed_with_its_lanes_and_counts_and_gone_after_it_stops(settings, db, redis, client):
    group = LaneGroup(settings, lanes=["content_low", "content_default"], registry=TEST_REGISTRY)
    await group.start()
    running = asyncio.create_task(group.run())
    try:
        await (await client.enqueue("tests.echo", value=1)).result(timeout=10)

        async def me_after_the_job():
            mine = [w for w in await workers_alive(redis) if w["pid"] == os.getpid()]
            return mine if mine and mine[0]["complete"] >= 1 else None

        [me] = await eventually(me_after_the_job, timeout=settings.health_check_interval + 5, what="this process")
        assert me["lanes"] == ["content_low", "content_default"] and me["failed"] == 0
    finally:
        group.stop(graceful=False)
        with contextlib.suppress(asyncio.CancelledError):
            await running
        await group.close()
    assert [w for w in await workers_alive(redis) if w["pid"] == os.getpid()] == []
