"""What ADOLF reads and writes of arq's own Redis keys, in one place (arq is in maintenance-only mode: a later move to
another queue changes this module, not the jobs)."""

from __future__ import annotations

from datetime import datetime

import orjson
from arq.constants import in_progress_key_prefix, job_key_prefix, retry_key_prefix
from redis.asyncio import Redis

# KEYS[1] the retry counter. A run that ends without using its try gives it back; never below 0, expiry kept.
_REFUND = """
local tries = tonumber(redis.call('GET', KEYS[1]))
if tries and tries > 0 then return redis.call('DECR', KEYS[1]) end
return tries or 0
"""


def job_ref(job_id: str, enqueue_time: datetime) -> str:
    """One run of a job: its id and enqueue time (a job id enqueued again is another run)."""
    return f"{job_id}@{int(enqueue_time.timestamp() * 1000)}"


def in_progress_key(job_id: str) -> str:
    return in_progress_key_prefix + job_id


async def refund_try(redis: Redis, job_id: str) -> None:
    """The run ends without spending its try (handed back at shutdown, or deferred)."""
    await redis.eval(_REFUND, 1, retry_key_prefix + job_id)


async def job_alive(redis: Redis, ref: str) -> bool:
    """Whether the run `ref` still exists: queued, deferred, waiting for a retry, or running."""
    job_id, _, enqueued_ms = ref.rpartition("@")
    if not job_id or not enqueued_ms.isdecimal():
        return False
    raw = await redis.get(job_key_prefix + job_id)
    if raw is None:
        return False
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return True  # an id we cannot read still names a live job; never take over from it
    return not isinstance(payload, dict) or payload.get("et") == int(enqueued_ms)
