"""An operator aborts a job: one still queued fails without running, a running one is cancelled within a lease's
third; either way it ends for good as ABORTED, with a dead letter that can be retried."""

import pytest

from adolf import queueing
from adolf.client import queue_for
from adolf.serialization import JobFailed
from tests.support.jobs import TEST_REGISTRY
from tests.support.waiting import eventually


async def _dead_letter(db, job_id):
    return await db.fetchrow("SELECT job_name, error_code, kwargs FROM failed_jobs WHERE job_id = $1", job_id)


async def test_a_running_job_is_cancelled_and_fails_as_aborted(client, redis, db, lane_group):
    await lane_group(["content_default"])
    job = await client.enqueue("tests.slow", key="abort-running", seconds=50)
    await eventually(lambda: redis.llen("tests:slow:abort-running"), what="the slow job started")

    assert await client.abort(job.job_id)

    with pytest.raises(JobFailed) as failed:
        await job.result(timeout=10)
    assert failed.value.code == "ABORTED"
    assert await redis.llen("tests:slow-cancelled:abort-running") == 1  # cancelled where it was
    assert await redis.llen("tests:slow-done:abort-running") == 0
    letter = await eventually(lambda: _dead_letter(db, job.job_id), what="the dead letter")
    assert letter["job_name"] == "tests.slow" and letter["error_code"] == "ABORTED"
    info = await client.job_info(job.job_id)
    assert info["outcome"] == "failed" and info["error_code"] == "ABORTED"


async def test_a_deferred_job_fails_as_aborted_without_running(client, redis, db, lane_group):
    await lane_group(["content_default"])
    job = await client.enqueue("tests.slow", key="abort-deferred", seconds=0, _defer_by=3600)

    assert await client.abort(job.job_id)  # made due, so a worker ends it now rather than in an hour

    with pytest.raises(JobFailed) as failed:
        await job.result(timeout=10)
    assert failed.value.code == "ABORTED"
    assert await redis.llen("tests:slow:abort-deferred") == 0  # it never ran
    letter = await eventually(lambda: _dead_letter(db, job.job_id), what="the dead letter")
    assert letter["error_code"] == "ABORTED" and letter["kwargs"]["key"] == "abort-deferred"
    assert await redis.zscore("arq:abort", job.job_id) is None  # the request went with the job
    run = await eventually(
        lambda: db.fetchrow("SELECT status, error_code, args FROM job_runs WHERE job_id = $1", job.job_id),
        what="the run in the history",
    )
    assert (run["status"], run["error_code"], run["args"]["key"]) == ("failed", "ABORTED", "abort-deferred")


async def test_an_unknown_or_finished_job_cannot_be_aborted_and_leaves_no_mark(client, redis, burst):
    assert not await client.abort("no-such-job")
    job = await client.enqueue("tests.echo", value=1)
    await burst(["content_low"])
    assert (await job.result(timeout=5))["value"] == 1
    assert not await client.abort(job.job_id)
    assert await redis.zcard("arq:abort") == 0


async def test_a_job_id_enqueued_again_after_an_abort_runs_normally(client, redis, burst):
    first = await client.enqueue("tests.slow", key="again", seconds=0, _defer_by=3600)
    assert await client.abort(first.job_id)
    await burst(["content_default"])
    with pytest.raises(JobFailed):
        await first.result(timeout=5)

    await redis.delete(f"arq:result:{first.job_id}")  # the id is free again (as the client frees a finished one)
    again = await queueing.enqueue(
        redis,
        "tests.slow",
        {"key": "again", "seconds": 0},
        queue=queue_for("tests.slow", TEST_REGISTRY),
        job_id=first.job_id,
    )
    assert again is not None
    await burst(["content_default"])
    await again.result(timeout=5)  # ran to its end, not aborted by the old request
    assert await redis.llen("tests:slow-done:again") == 1
