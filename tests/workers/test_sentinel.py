"""Redis Sentinel: a real sentinel, master and replica on loopback; when the master dies the worker follows the
promoted replica without exiting, and jobs enqueued through the sentinel keep running."""

import asyncio
import signal

from adolf.bench.servers import OwnRedis, OwnSentinel
from adolf.lanes import LANES
from adolf.workers import arq_seam
from adolf.workers.runner import LaneGroup
from tests.conftest import make_settings
from tests.support.jobs import TEST_REGISTRY
from tests.support.waiting import eventually

LOW = LANES["content_low"].queue


async def test_workers_follow_a_sentinel_failover_without_exiting(tmp_path, db):
    master = OwnRedis(tmp_path / "master")
    await master.start()
    replica = OwnRedis(tmp_path / "replica", args=("--replicaof", "127.0.0.1", str(master.port)))
    await replica.start()
    sentinel = OwnSentinel(tmp_path / "sentinel", master)
    await sentinel.start()
    settings = make_settings(redis_url="redis://127.0.0.1:6379/0", redis_sentinels=[f"127.0.0.1:{sentinel.port}"])
    group = LaneGroup(settings, lanes=["content_low"], registry=TEST_REGISTRY)
    await group.start()
    running = asyncio.create_task(group.run())
    redis = await arq_seam.connect(settings)
    try:
        before = await arq_seam.enqueue(redis, "tests.echo", {"value": 1}, queue=LOW)
        assert await before.result(timeout=10, poll_delay=0.05) == {"value": 1, "try": 1}

        await master.stop(signal.SIGKILL)

        async def promoted():
            return await sentinel.master_port() == replica.port

        await eventually(promoted, timeout=30, interval=0.2, what="the sentinel promoted the replica")

        async def enqueued():
            try:
                return await arq_seam.enqueue(redis, "tests.echo", {"value": 2}, queue=LOW)
            except Exception:
                return None  # the client's pool is still finding the new master

        after = await eventually(enqueued, timeout=30, interval=0.2, what="an enqueue on the new master")
        assert await after.result(timeout=30, poll_delay=0.1) == {"value": 2, "try": 1}
        assert not running.done()
    finally:
        group.stop(graceful=False)
        await asyncio.wait_for(running, 20)
        await group.close()
        await redis.aclose()
        clients_left = await sentinel.other_clients()
        await sentinel.stop()
        await replica.stop()
        await master.stop()
    assert clients_left == 0, "a connection to the sentinel was left open after the worker and the client closed"
