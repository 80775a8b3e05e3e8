"""`adolf bench throughput`: publish jobs per second of one `adolf worker` process against the seed's deployment,
Celery prefork with 4 processes running the same publish logic synchronously, measured in the same run.

Both publish WB drafts, each to a card seeded in the marketplace simulator, which answers every request after 50 ms
and whose limits (like the worker's own limiter) are lifted far above any figure reached here, so what is measured is
the workers, not the marketplace. Every job does the real work: reading its draft, claiming and writing its
publication, the draft's status, its notification and the office agent's state in PostgreSQL and Redis. A run's time
goes from its first enqueue to the last publication's final status; ADOLF's CPU is the worker process's user and
system time over the run.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from adolf.bench.celery_publish import QUEUE
from adolf.bench.harness import Bench, Proc, Say
from adolf.bench.publish_limits import USER_ID, SandboxProcess, fresh_database, insert_drafts, worker_env
from adolf.client import AdolfClient
from adolf.db.pool import create_pool
from adolf.limits import DOCUMENTED_RATE_LIMITS
from adolf.settings import Settings

LIFTED = {bucket: "1000000/1:100000" for bucket in DOCUMENTED_RATE_LIMITS}
TERMINAL = ("published", "verified", "mismatched", "failed")


async def throughput(
    settings: Settings, say: Say, *, adolf_jobs: int = 6000, celery_jobs: int = 1000, latency_ms: float = 50.0
) -> dict[str, Any]:
    database_url = await fresh_database(settings)
    logs = Path(tempfile.gettempdir())
    sandbox = SandboxProcess(latency_ms, LIFTED, logs / f"adolf-bench-sandbox-{os.getpid()}.log")
    await sandbox.start()
    db = await create_pool(database_url, min_size=1, max_size=4)
    try:
        async with Bench(
            settings.model_copy(update={"database_url": database_url}), say, fresh_database=False
        ) as bench:
            skus = {
                kind: [f"TP-{kind}-{i:05d}" for i in range(n)] for kind, n in (("A", adolf_jobs), ("C", celery_jobs))
            }
            await sandbox.seed("wb", skus["A"] + skus["C"])
            drafts = {kind: await insert_drafts(db, "wb", names) for kind, names in skus.items()}
            say(f"seeded {adolf_jobs + celery_jobs} WB cards and approved drafts; simulator latency {latency_ms} ms")
            env = worker_env(settings, database_url, bench.redis_server.url(), sandbox.url, LIFTED)
            adolf = await _adolf(bench, env, db, drafts["A"], say)
            celery = await _celery(bench, env, db, drafts["C"], say)
    finally:
        await db.close()
        await sandbox.close()
    return {
        "adolf_jobs_per_s": round(adolf["jobs_per_s"], 1),
        "celery_jobs_per_s": round(celery["jobs_per_s"], 1),
        "ratio": round(adolf["jobs_per_s"] / celery["jobs_per_s"], 2),
        "adolf_cpu_ms_per_job": round(adolf["cpu_ms_per_job"], 3),
        "celery_cpu_ms_per_job": round(celery["cpu_ms_per_job"], 3),
        "adolf_failed": adolf["failed"],
        "celery_failed": celery["failed"],
        "jobs": {"adolf": adolf_jobs, "celery": celery_jobs},
        "latency_ms": latency_ms,
    }


async def _adolf(bench: Bench, env: dict[str, str], db: asyncpg.Pool, drafts: list[UUID], say: Say) -> dict[str, Any]:
    args = [sys.executable, "-m", "adolf", "worker", "--lanes", "content_high", "--health-port", "0"]
    worker = Proc("adolf-worker", args, {**env, "ADOLF_LOG_LEVEL": "WARNING"})
    await worker.start()
    bench.procs.append(worker)
    client = AdolfClient(bench.redis)
    await (await client.ping("content_high")).result(timeout=60)
    cpu_before = worker.cpu_seconds()
    started = time.monotonic()
    for start in range(0, len(drafts), 500):
        await asyncio.gather(
            *(client.publish_content(draft_id=d, user_id=USER_ID) for d in drafts[start : start + 500])
        )
    failed = await _until_terminal(db, "TP-A-", drafts, [worker])
    seconds = time.monotonic() - started
    cpu = worker.cpu_seconds() - cpu_before
    await worker.stop()
    say(f"ADOLF, one process: {len(drafts)} publish jobs in {seconds:.1f}s = {len(drafts) / seconds:.0f}/s, "
        f"{cpu * 1000 / len(drafts):.2f} ms CPU a job, {failed} failed")  # fmt: skip
    return {"jobs_per_s": len(drafts) / seconds, "cpu_ms_per_job": cpu * 1000 / len(drafts), "failed": failed}


async def _celery(bench: Bench, env: dict[str, str], db: asyncpg.Pool, drafts: list[UUID], say: Say) -> dict[str, Any]:
    from adolf.bench.celery_publish import app

    broker = bench.redis_server.url().rsplit("/", 1)[0] + "/1"
    app.conf.broker_url = broker
    args = [
        *(sys.executable, "-m", "celery", "-A", "adolf.bench.celery_publish", "worker", "--pool", "prefork", "-c", "4"),
        *("-Q", QUEUE, "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "warning"),
    ]
    worker = Proc("celery-worker", args, {**env, "ADOLF_LOG_LEVEL": "WARNING", "BENCH_CELERY_BROKER": broker})
    await worker.start()
    bench.procs.append(worker)
    await asyncio.to_thread(_wait_for_celery, app)
    cpu_before = _tree_cpu(worker)
    started = time.monotonic()
    await asyncio.to_thread(_send_celery, app, [str(d) for d in drafts])
    failed = await _until_terminal(db, "TP-C-", drafts, [worker])
    seconds = time.monotonic() - started
    cpu = _tree_cpu(worker) - cpu_before
    await worker.stop()
    say(f"Celery prefork-4: {len(drafts)} publish jobs in {seconds:.1f}s = {len(drafts) / seconds:.0f}/s, "
        f"{cpu * 1000 / len(drafts):.2f} ms CPU a job, {failed} failed")  # fmt: skip
    return {"jobs_per_s": len(drafts) / seconds, "cpu_ms_per_job": cpu * 1000 / len(drafts), "failed": failed}


def _wait_for_celery(app: Any) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=0.5)
        if replies:
            return
    raise RuntimeError("the Celery worker did not answer a ping within 60 s")


def _send_celery(app: Any, drafts: list[str]) -> None:
    with app.producer_or_acquire() as producer:
        for draft in drafts:
            app.send_task("bench.publish", args=[draft, str(USER_ID)], queue=QUEUE, producer=producer)


def _tree_cpu(proc: Proc) -> float:
    import psutil

    total = proc.cpu_seconds()
    try:
        for child in psutil.Process(proc.pid).children(recursive=True):
            times = child.cpu_times()
            total += times.user + times.system
    except psutil.Error:
        pass
    return total


async def _until_terminal(
    db: asyncpg.Pool, prefix: str, drafts: list[UUID], workers: list[Proc], timeout: float = 900
) -> int:
    """Wait until every draft's publication is final; returns how many failed."""
    query = """
        SELECT count(*) FILTER (WHERE status = ANY($2::text[])) AS done, count(*) FILTER (WHERE status = 'failed')
        FROM publications WHERE sku LIKE $1
    """
    deadline = time.monotonic() + timeout
    while True:  # a cheap poll: the bench's own queries must not weigh on the database it measures
        done, failed = await db.fetchrow(query, f"{prefix}%", list(TERMINAL))
        for worker in workers:
            worker.sample()
        if done >= len(drafts):
            return failed
        if time.monotonic() > deadline or any(w.process and w.process.returncode is not None for w in workers):
            raise RuntimeError(f"{done} of {len(drafts)} publications final when the bench stopped waiting")
        await asyncio.sleep(0.1)
