"""Job history rows: batched, masked, linked to their business objects, kept through a PostgreSQL outage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import asyncpg
import pytest

from adolf.db.pool import create_pool
from adolf.models.results import PublishContentResult
from adolf.serialization import JobFailed
from adolf.workers.history import JobHistory, JobRun, delete_old_runs
from tests.support.waiting import eventually


def run(name="content_factory.tasks.publish_content", status="success", **fields) -> JobRun:
    values = {
        "job_id": uuid4().hex,
        "job_name": name,
        "lane": "content_high",
        "try_": 1,
        "status": status,
        "args": {},
        "started_at": datetime.now(UTC),
        "duration_ms": 12.5,
        **fields,
    }
    return JobRun(**values)


async def test_rows_are_written_in_one_batch_masked_and_linked(db: asyncpg.Pool):
    history = JobHistory(db, secrets=("sk-live-1234567",))
    draft, publication = uuid4(), uuid4()
    history.record(
        run(
            args={"draft_id": str(draft), "user_id": str(uuid4()), "api_key": "plain", "note": "has sk-live-1234567"},
            result={"success": True, "publication_id": str(publication)},
        )
    )
    for _ in range(499):
        history.record(run(name="adolf.ping", status="retry", error_code="API_ERROR", error_message="x" * 5000))
    await history.close()
    assert await db.fetchval("SELECT count(*) FROM job_runs") == 500
    row = await db.fetchrow("SELECT * FROM job_runs WHERE job_name = 'content_factory.tasks.publish_content'")
    assert row["args"]["api_key"] == "***" and row["args"]["note"] == "has ***"
    assert (row["draft_id"], row["publication_id"]) == (draft, publication)
    assert row["result"] == {"success": True, "publication_id": str(publication)}
    retry = await db.fetchrow("SELECT * FROM job_runs WHERE job_name = 'adolf.ping' LIMIT 1")
    assert retry["status"] == "retry" and len(retry["error_message"]) == 2000


async def test_rows_wait_for_postgresql_and_are_written_once_it_answers(db: asyncpg.Pool, settings):
    away = await create_pool("postgresql://postgres@127.0.0.1:9/x", min_size=0, max_size=1, connect_timeout=0.5)
    history = JobHistory(away)
    history.record(run(status="failed", error_code="INFRA_ERROR"))
    await history.flush()
    assert len(history._waiting) == 1  # kept, not lost
    history.db = db
    await history.close()
    assert await db.fetchval("SELECT count(*) FROM job_runs WHERE status = 'failed'") == 1
    await away.close()


async def test_closing_while_a_batch_is_being_written_loses_nothing(db: asyncpg.Pool):
    history = JobHistory(db, flush_interval=0.001)
    for _ in range(5000):
        history.record(run())

    async def batch_taken() -> bool:  # the flusher has taken its first batch: an INSERT in flight
        return len(history._waiting) < 5000

    await eventually(batch_taken, interval=0, what="the first batch taken")
    await history.close()
    assert await db.fetchval("SELECT count(*) FROM job_runs") == 5000


async def test_nul_characters_are_dropped_and_a_row_postgresql_refuses_does_not_hold_up_the_others(db):
    history = JobHistory(db)
    history.record(run(args={"sku": "A\x00B", "note": "a \\u0000 b"}, error_message="bad\x00byte"))
    history.record(run(duration_ms=-1.0))  # the table's CHECK refuses it
    history.record(run(job_id="after"))
    await history.close()
    rows = await db.fetch("SELECT job_id, args, error_message FROM job_runs ORDER BY id")
    assert len(rows) == 2 and rows[-1]["job_id"] == "after"
    assert rows[0]["args"] == {"sku": "AB", "note": "a \\u0000 b"} and rows[0]["error_message"] == "badbyte"
    assert history.dropped == 1


async def test_old_runs_are_deleted_in_batches(db: asyncpg.Pool):
    history = JobHistory(db)
    for age in (1, 40, 41):
        history.record(run(started_at=datetime.now(UTC) - timedelta(days=age)))
    await history.close()
    assert await delete_old_runs(db, datetime.now(UTC) - timedelta(days=30), batch=1) == 2
    assert await db.fetchval("SELECT count(*) FROM job_runs") == 1


async def test_every_run_is_in_the_history_and_a_reported_failure_is_a_failed_run(db, redis, client, burst):
    from tests.support.factories import USER_ID

    missing = uuid4()
    publish = await client.publish_content(draft_id=missing, user_id=USER_ID)
    cleanup = await client.cleanup_old_drafts()
    await burst(["content_high", "content_low"])
    rows = {r["job_id"]: r for r in await db.fetch("SELECT * FROM job_runs")}
    failed = rows[publish.job_id]
    assert (failed["status"], failed["error_code"], failed["draft_id"]) == ("failed", "DRAFT_NOT_FOUND", missing)
    assert failed["result"] == PublishContentResult.failure("DRAFT_NOT_FOUND", "Draft not found").wire()
    assert failed["error_message"] == "Draft not found"
    assert failed["args"] == {"draft_id": str(missing), "user_id": str(USER_ID)}
    assert rows[cleanup.job_id]["status"] == "success" and rows[cleanup.job_id]["lane"] == "content_low"
    info = await client.job_info(publish.job_id)
    assert (info["outcome"], info["error_code"]) == ("failed", "DRAFT_NOT_FOUND")


async def test_a_bugs_run_keeps_its_traceback_and_an_expected_failure_none(db, client, burst):
    bug = await client.enqueue("tests.broken", key="tb")
    expected = await client.enqueue("tests.flaky", key="tb", fail_times=5)
    await burst(["content_low"])
    for job in (bug, expected):
        with pytest.raises(JobFailed):
            await job.result(timeout=10)

    async def final_runs():
        rows = await db.fetch(
            "SELECT job_id, traceback FROM job_runs WHERE job_id = ANY($1) AND status = 'failed'",
            [bug.job_id, expected.job_id],
        )
        return rows if len(rows) == 2 else None

    tracebacks = {row["job_id"]: row["traceback"] for row in await eventually(final_runs, what="both final runs")}
    assert "Traceback" in tracebacks[bug.job_id] and "in broken" in tracebacks[bug.job_id]
    assert tracebacks[expected.job_id] is None  # RetryLater: the marketplace's answer, not a bug
