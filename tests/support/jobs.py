"""Jobs that exist only in tests, registered beside the product's own."""

from __future__ import annotations

import asyncio
import os
from typing import Any
from uuid import UUID

from adolf.errors import Deferred, RetryLater
from adolf.models.jobs import JobArgs
from adolf.workers.catalog import REGISTRY
from adolf.workers.context import JobContext
from adolf.workers.registry import CronSpec, JobSpec


class EchoArgs(JobArgs):
    value: int


class TypedArgs(JobArgs):
    draft_id: UUID
    count: int


class KeyArgs(JobArgs):
    key: str
    fail_times: int = 0
    seconds: float = 0.0


async def echo(job: JobContext, args: EchoArgs) -> dict[str, Any]:
    return {"value": args.value, "try": job.job_try}


async def typed(job: JobContext, args: TypedArgs) -> dict[str, Any]:
    await job.resources.redis.incr(f"tests:typed:{args.draft_id}")
    return {"draft_id": str(args.draft_id), "count": args.count}


async def flaky(job: JobContext, args: KeyArgs) -> dict[str, Any]:
    """Asks for a retry until it has failed `fail_times` times."""
    failures = await job.resources.redis.incr(f"tests:flaky:{args.key}")
    if failures <= args.fail_times:
        raise RetryLater("API_ERROR", f"failure {failures} of {args.fail_times}", retry_after=None)
    return {"succeeded_after": failures - 1}


async def slow(job: JobContext, args: KeyArgs) -> dict[str, Any]:
    """Marks its start (with the pid of the process running it), then sleeps; marks a cancellation too."""
    await job.resources.redis.rpush(f"tests:slow:{args.key}", f"{os.getpid()}:{job.job_try}")
    try:
        await asyncio.sleep(args.seconds)
    except asyncio.CancelledError:
        await asyncio.shield(job.resources.redis.rpush(f"tests:slow-cancelled:{args.key}", str(os.getpid())))
        raise
    await job.resources.redis.rpush(f"tests:slow-done:{args.key}", str(os.getpid()))
    return {"slept": args.seconds}


async def nap(job: JobContext, args: KeyArgs) -> dict[str, float]:
    """Only sleeps: cancelled, it leaves nothing behind (no Redis call outliving its process's pools)."""
    await asyncio.sleep(args.seconds)
    return {"napped": args.seconds}


async def defer_later(job: JobContext, args: KeyArgs) -> None:
    """Sleeps, then asks to run again later (a deferral gives its try back)."""
    await job.resources.redis.rpush(f"tests:slow:{args.key}", f"{os.getpid()}:{job.job_try}")
    try:
        await asyncio.sleep(args.seconds)
    except asyncio.CancelledError:
        await asyncio.shield(job.resources.redis.rpush(f"tests:slow-cancelled:{args.key}", str(os.getpid())))
        raise
    raise Deferred("not yet", delay=60)


async def broken(job: JobContext, args: KeyArgs) -> None:
    raise ValueError(f"broken job {args.key}")


async def cron_probe(job: JobContext, args: JobArgs) -> dict[str, Any]:
    await job.resources.redis.incr(f"tests:cron:{job.job_id}")
    return {"pid": os.getpid()}


TEST_JOBS = (
    JobSpec("tests.echo", echo, "content_low", EchoArgs, timeout=10),
    JobSpec("tests.typed", typed, "content_low", TypedArgs, timeout=10, max_tries=3),
    JobSpec("tests.flaky", flaky, "content_low", KeyArgs, timeout=10, max_tries=3),
    JobSpec("tests.slow", slow, "content_default", KeyArgs, timeout=60, max_tries=3),
    JobSpec("tests.broken", broken, "content_low", KeyArgs, timeout=10, max_tries=2),
    JobSpec("tests.nap", nap, "content_default", KeyArgs, timeout=60),
    JobSpec("tests.defer_later", defer_later, "content_default", KeyArgs, timeout=60, max_tries=3),
    JobSpec("tests.broken_retried", broken, "content_low", KeyArgs, timeout=10, max_tries=2, retry_unexpected=True),
    JobSpec("tests.cron_probe", cron_probe, "scout_default", JobArgs, timeout=10),
)
EVERY_SECOND = CronSpec("tests.cron_probe", second=set(range(60)))
# a schedule that never fires during a test (its slots are enqueued by hand)
SLOW_CRON = CronSpec("tests.slow", hour=3, minute=33, second=33, kwargs={"key": "cron", "seconds": 1.5})

TEST_REGISTRY = REGISTRY.extended(jobs=TEST_JOBS)
CRON_REGISTRY = REGISTRY.extended(jobs=TEST_JOBS, crons=[EVERY_SECOND])
SLOW_CRON_REGISTRY = REGISTRY.extended(jobs=TEST_JOBS, crons=[SLOW_CRON])
