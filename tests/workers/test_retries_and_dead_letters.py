from adolf.lanes import LANES
from adolf.serialization import JobFailed

LOW = LANES["content_low"].queue


async def failed_jobs(db):
    return [dict(r) for r in await db.fetch("SELECT job_id, job_name, error_code, tries FROM failed_jobs ORDER BY id")]


async def test_a_job_asking_for_retries_runs_again_and_succeeds(redis, db, burst):
    job = await redis.enqueue_job("tests.flaky", key="a", fail_times=2, _queue_name=LOW)
    group = await burst(["content_low"])
    assert (await job.result_info()).result == {"succeeded_after": 2}
    worker = group.workers["content_low"]
    assert (worker.jobs_retried, worker.jobs_complete, worker.jobs_failed) == (2, 1, 0)
    assert await failed_jobs(db) == []


async def test_retries_exhausted_end_in_failed_jobs_with_the_cause(redis, db, burst):
    job = await redis.enqueue_job("tests.flaky", key="b", fail_times=10, _queue_name=LOW)
    group = await burst(["content_low"])
    info = await job.result_info()
    assert info.success is False and info.job_try == 3
    assert isinstance(info.result, JobFailed) and info.result.code == "API_ERROR"
    assert group.workers["content_low"].jobs_retried == 2
    assert await failed_jobs(db) == [
        {"job_id": job.job_id, "job_name": "tests.flaky", "error_code": "API_ERROR", "tries": 3}
    ]


async def test_an_unexpected_error_fails_at_once_unless_the_job_retries_unexpected_errors(redis, db, burst):
    once = await redis.enqueue_job("tests.broken", key="c", _queue_name=LOW)
    retried = await redis.enqueue_job("tests.broken_retried", key="d", _queue_name=LOW)
    await burst(["content_low"])
    assert (await once.result_info()).job_try == 1
    assert (await retried.result_info()).job_try == 2
    rows = {r["job_name"]: r for r in await failed_jobs(db)}
    assert (rows["tests.broken"]["tries"], rows["tests.broken_retried"]["tries"]) == (1, 2)
    assert rows["tests.broken"]["error_code"] is None


async def test_tries_used_up_by_crashes_still_reach_failed_jobs(redis, db, burst):
    # arq's own path: a job whose try counter is already past max_tries is failed before any job code runs
    job = await redis.enqueue_job("tests.flaky", key="e", _job_try=4, _queue_name=LOW)
    await burst(["content_low"])
    info = await job.result_info()
    assert info.success is False and "tries were used up" in info.result.message
    assert await failed_jobs(db) == [
        {"job_id": job.job_id, "job_name": "tests.flaky", "error_code": "TRIES_EXHAUSTED", "tries": 4}
    ]
    assert await redis.get("tests:flaky:e") is None


async def test_a_job_for_an_unknown_function_is_dead_lettered(redis, db, burst):
    job = await redis.enqueue_job("content_factory.tasks.no_such_task", _queue_name=LOW)
    await burst(["content_low"])
    assert (await job.result_info()).success is False
    assert await failed_jobs(db) == [
        {
            "job_id": job.job_id,
            "job_name": "content_factory.tasks.no_such_task",
            "error_code": "UNKNOWN_JOB",
            "tries": 1,
        }
    ]


async def test_the_hard_time_limit_fails_the_job_and_dead_letters_it(redis, db, burst, settings):
    from adolf.workers.registry import JobSpec
    from tests.support.jobs import TEST_REGISTRY, KeyArgs, slow

    registry = TEST_REGISTRY.extended(jobs=[JobSpec("tests.too_slow", slow, "content_low", KeyArgs, timeout=0.2)])
    job = await redis.enqueue_job("tests.too_slow", key="f", seconds=5, _queue_name=LOW)
    await burst(["content_low"], registry=registry)
    info = await job.result_info()
    assert info.success is False and info.result.type_name == "JobTimedOut"
    assert await failed_jobs(db) == [
        {"job_id": job.job_id, "job_name": "tests.too_slow", "error_code": "TIMEOUT", "tries": 1}
    ]
