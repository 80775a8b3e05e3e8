"""`adolf queues`, `adolf job ID`, `adolf failed list|retry|purge` as an operator runs them: real Redis, PostgreSQL,
subprocesses; every input error one line and a non-zero exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from uuid import uuid4

from adolf.db.repositories.failed_jobs import FailedJobRepository
from tests.support.waiting import eventually


def run(settings, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "ADOLF_DATABASE_URL": settings.database_url,
        "ADOLF_REDIS_URL": settings.redis_url,
        "ADOLF_LOG_LEVEL": "WARNING",
    }
    return subprocess.run([sys.executable, "-m", "adolf", *args], capture_output=True, text=True, timeout=60, env=env)


def one_line_error(done: subprocess.CompletedProcess) -> str:
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


async def test_queues_shows_depth_due_oldest_and_missing_workers(settings, redis, client):
    await client.cleanup_old_drafts()
    await client.enqueue("content_factory.tasks.sync_publication_status", _defer_by=3600)
    done = run(settings, "queues", "--json")
    assert done.returncode == 0, done.stderr
    lanes = {row["lane"]: row for row in json.loads(done.stdout)}
    assert (lanes["content_low"]["queued"], lanes["content_low"]["due"]) == (1, 1)
    assert lanes["content_low"]["oldest_due_s"] >= 0 and lanes["content_low"]["worker_polling"] is False
    assert (lanes["content_default"]["queued"], lanes["content_default"]["due"]) == (1, 0)  # deferred
    assert lanes["content_default"]["oldest_due_s"] is None
    table = run(settings, "queues")
    assert "NONE (no worker polls this lane)" in table.stdout


async def test_job_shows_a_finished_job_and_refuses_an_unknown_one(settings, db, redis, client, burst):
    job = await client.cleanup_old_drafts()
    await burst(["content_low"])
    done = run(settings, "job", job.job_id)
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)
    assert info["status"] == "complete" and info["success"] is True and info["dead_letters"] == []
    assert "no job 'nope'" in one_line_error(run(settings, "job", "nope"))


async def _dead_letter(db, **kwargs) -> int:
    row = await FailedJobRepository(db).record(
        job_id=uuid4().hex,
        job_name=kwargs.get("job_name", "content_factory.tasks.cleanup_old_drafts"),
        queue="adolf:queue:content_low",
        args=[],
        kwargs=kwargs.get("kwargs", {"archive_days": 7, "delete_days": 9}),
        exception="ConnectionResetError: database went away",
        error_code="INFRA_ERROR",
        tries=3,
        enqueued_at=datetime.now(UTC),
    )
    return row.id


async def test_failed_list_retry_and_purge(settings, db, redis, client, burst):
    failed_id = await _dead_letter(db)
    listed = run(settings, "failed", "list")
    assert listed.returncode == 0 and "content_factory.tasks.cleanup_old_drafts" in listed.stdout
    assert "INFRA_ERROR" in listed.stdout

    retried = run(settings, "failed", "retry", str(failed_id))
    assert retried.returncode == 0, retried.stderr
    new_job = retried.stdout.strip()
    await burst(["content_low"])
    info = await client.job_info(new_job)
    assert info["status"] == "complete" and info["success"] is True
    row = await FailedJobRepository(db).get(failed_id)
    assert row.retry_job_id == new_job and row.retried_at is not None
    assert "retried already" in one_line_error(run(settings, "failed", "retry", str(failed_id)))
    assert "no failed job with id 999999" in one_line_error(run(settings, "failed", "retry", "999999"))
    bad_id = run(settings, "failed", "retry", "abc")
    assert bad_id.returncode == 2 and "'abc' is not a whole number" in bad_id.stderr

    never_retried = await _dead_letter(db)
    await db.execute("UPDATE failed_jobs SET failed_at = now() - interval '10 days'")
    purged = run(settings, "failed", "purge", "--days", "5")
    assert purged.returncode == 0 and purged.stdout.startswith("deleted 1 ")  # only the retried one
    assert await FailedJobRepository(db).get(never_retried) is not None
    assert run(settings, "failed", "purge", "--days", "5", "--all").stdout.startswith("deleted 1 ")
    assert await db.fetchval("SELECT count(*) FROM failed_jobs") == 0


async def test_a_dead_letter_whose_arguments_no_longer_fit_is_not_retried(settings, db, redis):
    failed_id = await _dead_letter(db, kwargs={"archive_days": "soon"})
    line = one_line_error(run(settings, "failed", "retry", str(failed_id)))
    assert f"failed job {failed_id} cannot run again as it was" in line
    gone = await _dead_letter(db, job_name="content_factory.tasks.removed_job", kwargs={})
    assert "no longer exists" in one_line_error(run(settings, "failed", "retry", str(gone)))


def test_unreachable_servers_are_one_line(settings):
    env_settings = settings.model_copy(
        update={"redis_url": "redis://127.0.0.1:9/0", "database_url": "postgresql://postgres@127.0.0.1:9/x"}
    )
    assert "ADOLF_REDIS_URL" in one_line_error(run(env_settings, "queues"))
    assert "ADOLF_DATABASE_URL" in one_line_error(run(env_settings, "failed", "list"))


async def test_abort_marks_a_queued_job_and_refuses_an_unknown_one(settings, redis, client):
    job = await client.enqueue("content_factory.tasks.sync_publication_status", _defer_by=3600)
    done = run(settings, "abort", job.job_id)
    assert done.returncode == 0, done.stderr
    assert job.job_id in done.stdout
    assert await redis.zscore("arq:abort", job.job_id) is not None
    assert "no queued, deferred or running job 'nope'" in one_line_error(run(settings, "abort", "nope"))


async def test_workers_lists_the_processes_alive(settings, redis, lane_group):
    done = run(settings, "workers")
    assert done.returncode == 0 and "no worker process is alive" in done.stdout
    await lane_group(["content_low"])

    async def listed():
        alive = json.loads(run(settings, "workers", "--json").stdout)
        return [w for w in alive if w["pid"] == os.getpid()]

    [me] = await eventually(listed, what="this process listed")
    assert me["lanes"] == ["content_low"]
