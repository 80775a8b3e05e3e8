"""Review: an abort takes effect however the run ends, and a mark left from before a run never aborts it."""

from __future__ import annotations

import asyncio
import time

import pytest

from adolf import queueing
from adolf.client import queue_for
from adolf.serialization import JobFailed
from tests.support.jobs import TEST_REGISTRY
from tests.support.waiting import eventually


async def test_an_abort_that_a_run_ends_by_deferring_still_ends_the_job_now(client, redis, lane_group):
    await lane_group(["content_default"])
    # it runs 0.3 s, then asks to run again in 60 s; the abort comes before the lease renewal (every 1 s) asks
    job = await client.enqueue("tests.defer_later", key="abort-defer", seconds=0.3)
    await eventually(lambda: redis.llen("tests:slow:abort-defer"), interval=0.005, what="the job started")
    assert await client.abort(job.job_id)

    started = time.monotonic()
    with pytest.raises(JobFailed) as failed:
        await job.result(timeout=10)  # not after the deferral's 60 s
    assert failed.value.code == "ABORTED" and time.monotonic() - started < 10
    assert await redis.zcard("arq:abort") == 0


async def test_a_mark_from_before_a_run_was_enqueued_does_not_abort_it(client, redis, burst):
    """arq's own Job.abort (the handle every AdolfClient method returns has it) marks an id unconditionally, even
    a finished one; the next run of that id (a unique job: one per draft) must not be aborted by it."""
    first = await client.enqueue("tests.echo", value=1)
    await burst(["content_low"])
    await first.result(timeout=5)
    assert not await first.abort(timeout=0.2)  # arq: "not aborted" (it had finished), but its mark stays
    assert await redis.zscore("arq:abort", first.job_id) is not None
    await redis.delete(f"arq:result:{first.job_id}")  # the id is free again (as the client frees a finished one)
    await asyncio.sleep(0.01)

    again = await queueing.enqueue(
        redis, "tests.echo", {"value": 2}, queue=queue_for("tests.echo", TEST_REGISTRY), job_id=first.job_id
    )
    await burst(["content_low"])
    assert (await again.result(timeout=5))["value"] == 2


async def test_an_aborted_cron_slot_is_a_dead_letter_of_its_job_that_can_run_again(client, redis, db, burst):
    from adolf.ops import retry_failed_job
    from tests.support.jobs import SLOW_CRON_REGISTRY

    slot = "cron:tests.slow:1000"
    await redis.enqueue_job("cron:tests.slow", _queue_name=queue_for("tests.slow", TEST_REGISTRY), _job_id=slot)
    assert await client.abort(slot)
    await burst(["content_default"], registry=SLOW_CRON_REGISTRY)

    letter = await db.fetchrow("SELECT id, job_name, kwargs, error_code FROM failed_jobs WHERE job_id = $1", slot)
    assert (letter["job_name"], letter["error_code"]) == ("tests.slow", "ABORTED")
    assert letter["kwargs"] == {"key": "cron", "seconds": 1.5}  # the schedule's arguments
    run = await db.fetchrow("SELECT job_name FROM job_runs WHERE job_id = $1", slot)
    assert run is None or run["job_name"] == "tests.slow"
    job_id = await retry_failed_job(db, client, letter["id"])  # `adolf failed retry` runs it again
    await burst(["content_default"])
    assert (await client.job(job_id, queue_for("tests.slow", TEST_REGISTRY)).result(timeout=5)) == {"slept": 1.5}
