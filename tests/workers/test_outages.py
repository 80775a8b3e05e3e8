"""A PostgreSQL outage loses nothing: jobs retry with backoff and an alert, and a job that finally fails while the
database is away is dead-lettered through Redis and stored once the database answers again."""

from tests.conftest import make_settings
from tests.support.factories import USER_ID


async def test_a_job_failing_on_an_unreachable_database_is_stored_once_it_is_back(
    db, redis, client, burst, sandbox_server, caplog
):
    job = await client.publish_content(draft_id="7f8f1e4c-5b6a-4c9d-8e2f-0a1b2c3d4e5f", user_id=USER_ID)
    outage = make_settings(sandbox_server.url, database_url="postgresql://postgres@127.0.0.1:1/adolf")

    down = await burst(["content_high"], settings_=outage)

    info = await job.result_info()
    assert info.success is False and info.job_try == 4
    assert down.workers["content_high"].jobs_retried == 3
    assert "infrastructure error in content_factory.tasks.publish_content" in caplog.text
    assert await db.fetchval("SELECT count(*) FROM failed_jobs") == 0
    assert await redis.zcard("adolf:queue:content_low") == 1  # the dead letter waits in Redis

    await burst(["content_low"])

    row = await db.fetchrow("SELECT * FROM failed_jobs")
    assert (row["job_id"], row["job_name"], row["error_code"], row["tries"]) == (
        job.job_id,
        "content_factory.tasks.publish_content",
        "INFRA_ERROR",
        4,
    )
    assert row["kwargs"] == {"draft_id": "7f8f1e4c-5b6a-4c9d-8e2f-0a1b2c3d4e5f", "user_id": str(USER_ID)}
    assert await db.fetchval("SELECT count(*) FROM notifications WHERE kind = 'alert'") == 1
