"""Jobs that exist only for the benchmarks, registered beside the product's own."""

from __future__ import annotations

import asyncio
import os
import time

from adolf.models.jobs import JobArgs
from adolf.workers.catalog import REGISTRY
from adolf.workers.context import JobContext
from adolf.workers.registry import JobSpec


class HoldArgs(JobArgs):
    key: str
    seconds: float = 0.0


async def noop(job: JobContext, args: JobArgs) -> None:
    return None


async def stamp(job: JobContext, args: JobArgs) -> float:
    """When it started (the pickup latency's end)."""
    return time.time()


async def hold(job: JobContext, args: HoldArgs) -> dict[str, float]:
    """Marks its start (pid, try, time), then holds its slot."""
    await job.resources.redis.rpush(f"bench:hold:{args.key}", f"{os.getpid()}:{job.job_try}:{time.time()}")
    await asyncio.sleep(args.seconds)
    return {"held": args.seconds}


BENCH_JOBS = (
    JobSpec("bench.noop", noop, "content_low", JobArgs, timeout=10),
    JobSpec("bench.stamp", stamp, "content_low", JobArgs, timeout=10),
    JobSpec("bench.hold", hold, "content_default", HoldArgs, timeout=300, max_tries=3),
)
BENCH_REGISTRY = REGISTRY.extended(jobs=BENCH_JOBS)
