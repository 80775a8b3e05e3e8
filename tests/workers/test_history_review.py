"""Review: the job history must not get stuck on one row, nor lose its flusher, nor hold up shutdown."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from uuid import uuid4

import asyncpg

from adolf.workers.history import JobHistory, JobRun


def run(**fields) -> JobRun:
    values = {
        "job_id": uuid4().hex,
        "job_name": "tests.echo",
        "lane": "content_low",
        "try_": 1,
        "status": "failed",
        "args": {},
        "started_at": datetime.now(UTC),
        "duration_ms": 1.0,
        **fields,
    }
    return JobRun(**values)


async def test_a_row_that_cannot_be_serialized_does_not_hold_up_the_others(db: asyncpg.Pool):
    history = JobHistory(db)
    history.record(run(job_id="before"))
    history.record(run(job_id="odd", error_message="bad \ud800 byte"))  # e.g. a text decoded with surrogateescape
    history.record(run(job_id="after"))
    await history.close()
    rows = {r["job_id"]: r["error_message"] for r in await db.fetch("SELECT job_id, error_message FROM job_runs")}
    assert set(rows) == {"before", "odd", "after"} and rows["odd"] == "bad ? byte"
    assert not history._waiting


async def test_an_outage_while_writing_row_by_row_keeps_the_flusher_alive(db: asyncpg.Pool):
    history = JobHistory(db, flush_interval=0.01)
    real = db.execute
    calls = 0

    async def execute(query, *args):
        nonlocal calls
        calls += 1
        if calls == 1:
            raise asyncpg.CheckViolationError("refused")  # the batch: written row by row
        if calls == 2:
            raise ConnectionResetError("PostgreSQL went away")  # the first row: an outage
        return await real(query, *args)

    history.db = type("Pool", (), {"execute": staticmethod(execute)})()
    history.record(run(job_id="a"))
    history.record(run(job_id="b"))
    await asyncio.sleep(0.2)
    assert history._task is not None and not history._task.done(), "the flusher died"
    history.record(run(job_id="c"))
    await asyncio.sleep(0.2)
    assert {r["job_id"] for r in await db.fetch("SELECT job_id FROM job_runs")} == {"a", "b", "c"}
    await history.close()


async def test_closing_while_postgresql_hangs_does_not_hold_up_shutdown(db: asyncpg.Pool):
    history = JobHistory(db, flush_interval=0.01)
    async with db.acquire() as locker, locker.transaction():
        await locker.execute("LOCK TABLE job_runs IN ACCESS EXCLUSIVE MODE")  # every INSERT hangs
        history.record(run())
        await asyncio.sleep(0.1)  # the flusher's INSERT is waiting for the lock
        started = asyncio.get_running_loop().time()
        await asyncio.wait_for(history.close(), 30)
        assert asyncio.get_running_loop().time() - started < 15
