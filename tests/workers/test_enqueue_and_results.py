from uuid import uuid4

import pytest
from arq.jobs import Job, JobStatus

from adolf.client import queue_for
from adolf.errors import InvalidJobArgs
from adolf.lanes import LANES
from adolf.serialization import deserialize
from tests.support.jobs import TEST_REGISTRY


async def test_a_job_enqueued_through_the_client_runs_and_its_result_is_readable_by_id(client, lane_group):
    await lane_group(["content_low"])
    job = await client.enqueue("tests.echo", value=41)
    assert await job.result(timeout=10, poll_delay=0.05) == {"value": 41, "try": 1}
    info = await client.job_info(job.job_id)
    assert (info["status"], info["success"], info["result"], info["function"]) == (
        "complete",
        True,
        {"value": 41, "try": 1},
        "tests.echo",
    )


async def test_a_job_enqueued_by_plain_arq_name_runs_and_its_result_is_readable_by_id(redis, client, lane_group):
    await lane_group(["content_low"])
    job = await redis.enqueue_job("tests.echo", value=7, _queue_name=queue_for("tests.echo", TEST_REGISTRY))
    assert await client.result(job.job_id, timeout=10, poll_delay=0.05) == {"value": 7, "try": 1}
    assert await client.status(job.job_id) == JobStatus.complete
    stored = await Job(job.job_id, redis, _deserializer=deserialize).result_info()
    assert (stored.function, stored.kwargs, stored.success) == ("tests.echo", {"value": 7}, True)


async def test_ping_proves_each_lane_picks_up_jobs(client, lane_group):
    await lane_group(list(LANES))
    for lane in LANES:
        result = await (await client.ping(lane, payload=lane)).result(timeout=10, poll_delay=0.05)
        assert (result["pong"], result["lane"]) == (lane, lane)


async def test_invalid_arguments_are_refused_before_anything_reaches_redis(client, redis):
    for bad in ({"value": "seven"}, {}, {"value": 1, "extra": 2}):
        with pytest.raises(InvalidJobArgs, match=r"tests\.echo"):
            await client.enqueue("tests.echo", **bad)
    with pytest.raises(InvalidJobArgs, match="draft_id"):
        await client.enqueue("tests.typed", draft_id="not-a-uuid", count=1)
    assert await redis.zcard(LANES["content_low"].queue) == 0
    assert await redis.keys("arq:job:*") == []


async def test_status_of_a_queued_job_is_found_without_knowing_its_lane(client):
    job = await client.enqueue("tests.typed", draft_id=str(uuid4()), count=1)
    assert await client.status(job.job_id) == JobStatus.queued
    assert await client.status("no-such-job") == JobStatus.not_found
