import pytest

from adolf.lanes import LANES

CASES = {
    "wrong type": {"draft_id": "7f8f1e4c-5b6a-4c9d-8e2f-0a1b2c3d4e5f", "count": "many"},
    "missing field": {"draft_id": "7f8f1e4c-5b6a-4c9d-8e2f-0a1b2c3d4e5f"},
    "not a uuid": {"draft_id": "draft-123", "count": 1},
}


@pytest.mark.parametrize("case", CASES)
async def test_a_job_with_invalid_arguments_fails_at_once_is_not_retried_and_is_dead_lettered(case, redis, db, burst):
    queue = LANES["content_low"].queue
    bad = await redis.enqueue_job("tests.typed", _queue_name=queue, **CASES[case])
    good = await redis.enqueue_job("tests.echo", value=3, _queue_name=queue)

    group = await burst(["content_low"])

    worker = group.workers["content_low"]
    assert (worker.jobs_failed, worker.jobs_retried, worker.jobs_complete) == (1, 0, 1)
    info = await bad.result_info()
    assert info.success is False and info.job_try == 1
    assert info.result.code == "INVALID_ARGS" and "tests.typed" in info.result.message
    assert (await good.result_info()).result == {"value": 3, "try": 1}
    rows = await db.fetch("SELECT job_id, job_name, error_code, tries, kwargs FROM failed_jobs")
    assert [(r["job_id"], r["job_name"], r["error_code"], r["tries"]) for r in rows] == [
        (bad.job_id, "tests.typed", "INVALID_ARGS", 1)
    ]
    assert rows[0]["kwargs"] == CASES[case]
    assert await db.fetchval("SELECT count(*) FROM notifications WHERE kind = 'alert'") == 1
    assert await redis.get("tests:typed:7f8f1e4c-5b6a-4c9d-8e2f-0a1b2c3d4e5f") is None  # the handler never ran


async def test_arguments_postgresql_cannot_store_still_reach_failed_jobs(redis, db, burst):
    bad = await redis.enqueue_job(
        "tests.typed", _queue_name=LANES["content_low"].queue, draft_id="draft\x00id", count=1
    )
    await burst(["content_low"])
    row = await db.fetchrow("SELECT job_id, error_code, kwargs FROM failed_jobs")
    assert (row["job_id"], row["error_code"]) == (bad.job_id, "INVALID_ARGS")
    assert row["kwargs"]["draft_id"] == "draft\\u0000id"
