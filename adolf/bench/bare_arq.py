"""Bare arq, the comparison the benchmarks measure ADOLF against: arq's own Worker with the same jobs as plain
coroutines and the same orjson serializer, nothing of ADOLF around them.

    arq adolf.bench.bare_arq.WorkerSettings    # BARE_ARQ_QUEUE, BARE_ARQ_MAX_JOBS, BARE_ARQ_POLL_DELAY, ADOLF_REDIS_URL
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any, ClassVar

from arq.connections import RedisSettings
from arq.worker import func

from adolf.serialization import deserialize, serialize


async def noop(ctx: dict[str, Any]) -> None:
    return None


async def stamp(ctx: dict[str, Any]) -> float:
    return time.time()


async def hold(ctx: dict[str, Any], key: str, seconds: float = 0.0) -> dict[str, float]:
    await ctx["redis"].rpush(f"bench:hold:{key}", f"{os.getpid()}:{ctx['job_try']}:{time.time()}")
    await asyncio.sleep(seconds)
    return {"held": seconds}


class WorkerSettings:
    functions: ClassVar[list[Any]] = [
        func(noop, name="bench.noop"),
        func(stamp, name="bench.stamp"),
        func(hold, name="bench.hold", timeout=300, max_tries=3),
    ]
    queue_name = os.environ.get("BARE_ARQ_QUEUE", "arq:queue")
    max_jobs = int(os.environ.get("BARE_ARQ_MAX_JOBS", "10"))
    poll_delay = float(os.environ.get("BARE_ARQ_POLL_DELAY", "0.5"))
    redis_settings = RedisSettings.from_dsn(os.environ.get("ADOLF_REDIS_URL", "redis://127.0.0.1:6379/0"))
    job_serializer = serialize
    job_deserializer = deserialize
    keep_result = 86_400
    health_check_interval = float(os.environ.get("ADOLF_HEALTH_CHECK_INTERVAL", "10"))  # ADOLF's default
