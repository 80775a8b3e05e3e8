"""arq's Redis data model as the ones who enqueue see it: the keys, the connection, enqueue and a job handle.

This is what `adolf.client` and other services need, with nothing of the worker (adolf/workers/arq_seam.py adds the
worker's side: claims, leases, fenced finishes). The model:

- the queue: a sorted set of job ids scored by run-at time in ms (one per lane);
- `arq:job:<id>`: the job (function name, args, kwargs, try, enqueue time), here as JSON, never pickle;
- `arq:in-progress:<id>`: the claim of a run; here it holds the run's lease token and lives one lease, renewed;
- `arq:retry:<id>`: how many tries have started;
- `arq:result:<id>`: the outcome arq's `Job.result()` reads;
- `<queue>:health-check`: what `arq --check` reads;
- `adolf:wake:<queue>`: pushed with every enqueue so an idle lane picks the job up at once.
"""

from __future__ import annotations

import time
import uuid
import weakref
from datetime import datetime
from typing import Any

from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import (
    abort_jobs_ss,
    health_check_key_suffix,
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
    retry_key_prefix,
)
from arq.jobs import Job, JobStatus
from redis.asyncio.sentinel import Sentinel

from adolf.serialization import deserialize, serialize

__all__ = ["ArqRedis", "Job", "JobStatus", "connect", "enqueue", "job_handle"]

ABORT_KEY = abort_jobs_ss  # arq's sorted set of job ids to abort ("arq:abort"), scored by when it was asked
EXPIRES_EXTRA_MS = 86_400_000  # arq's default: a job not started a day after its time expires
WAKE_PREFIX = "adolf:wake:"


def job_key(job_id: str) -> str:
    return job_key_prefix + job_id


def in_progress_key(job_id: str) -> str:
    return in_progress_key_prefix + job_id


def retry_key(job_id: str) -> str:
    return retry_key_prefix + job_id


def result_key(job_id: str) -> str:
    return result_key_prefix + job_id


def health_key(queue: str) -> str:
    return queue + health_check_key_suffix


def wake_key(queue: str) -> str:
    """A list an idle lane blocks on; pushed with every enqueue (and by a lane that left due jobs unclaimed)."""
    return WAKE_PREFIX + queue


WORKER_PREFIX = "adolf:worker:"


def worker_key(host: str, pid: int) -> str:
    """Where a worker process says it is alive (adolf/workers/presence.py)."""
    return f"{WORKER_PREFIX}{host}:{pid}"


def job_ref(job_id: str, enqueue_time: datetime) -> str:
    """One run of a job: its id and enqueue time (a job id enqueued again is another run)."""
    return f"{job_id}@{int(enqueue_time.timestamp() * 1000)}"


# --- redis connections -------------------------------------------------------------------------------------------


class _SentinelArqRedis(ArqRedis):
    """The master's pool found through Sentinel; closing it closes the sentinels' connections too (arq's own
    create_pool leaves them open)."""

    sentinel: Sentinel | None = None

    async def aclose(self, close_connection_pool: bool | None = None) -> None:
        try:
            await super().aclose(close_connection_pool)
        finally:
            if self.sentinel is not None:
                for client in self.sentinel.sentinels:
                    await client.aclose()


async def connect(settings: Any) -> ArqRedis:
    """An ArqRedis pool for settings.redis_url, or through Redis Sentinel when settings.redis_sentinels is set.
    Raises a connection error if Redis does not answer a PING; nothing is left open then."""
    config = redis_settings(settings)
    if not config.sentinel:
        return await create_pool(
            config, job_serializer=serialize, job_deserializer=deserialize, default_queue_name="arq:queue"
        )
    sentinel = Sentinel(
        config.host,
        sentinel_kwargs={"socket_timeout": config.conn_timeout, "socket_connect_timeout": config.conn_timeout},
        ssl=config.ssl,
    )
    redis = sentinel.master_for(
        config.sentinel_master,
        redis_class=_SentinelArqRedis,
        db=config.database,
        username=config.username,
        password=config.password,
        encoding="utf8",
        socket_connect_timeout=config.conn_timeout,
    )
    redis.sentinel = sentinel
    redis.job_serializer, redis.job_deserializer, redis.default_queue_name = serialize, deserialize, "arq:queue"
    try:
        await redis.ping()
    except BaseException:
        await redis.aclose()
        raise
    return redis


def redis_settings(settings: Any) -> RedisSettings:
    base = RedisSettings.from_dsn(settings.redis_url)
    base.conn_retries = 0  # the engine reconnects with its own backoff
    if not settings.redis_sentinels:
        return base
    hosts = [(host, int(port)) for host, _, port in (s.rpartition(":") for s in settings.redis_sentinels)]
    base.host, base.sentinel, base.sentinel_master = hosts, True, settings.redis_sentinel_master
    return base


# --- enqueue -------------------------------------------------------------------------------------------------------

# KEYS: job, result, queue, wake, abort. ARGV: payload, expiry ms, score, job id. arq's enqueue (refused while the id
# has a job or a kept result), plus the wake-up of an idle lane. A request to abort the id left from before (arq's own
# Job.abort marks any id, a finished one too) is dropped: it must not abort this new run. 1 = enqueued.
_ENQUEUE = """
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('ZREM', KEYS[5], ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
redis.call('LPUSH', KEYS[4], 1)
redis.call('LTRIM', KEYS[4], 0, 0)
return 1
"""

_enqueue_scripts: weakref.WeakKeyDictionary[ArqRedis, Any] = weakref.WeakKeyDictionary()


async def put_job(
    redis: ArqRedis,
    queue: str,
    job_id: str,
    function: str,
    kwargs: dict[str, Any],
    *,
    score_ms: int,
    expires_ms: int,
    now_ms: int,
) -> bool:
    """Write one job in arq's shape and wake its lane; False while the id has a job or a kept result."""
    script = _enqueue_scripts.get(redis)
    if script is None:
        script = _enqueue_scripts[redis] = redis.register_script(_ENQUEUE)
    payload = serialize({"f": function, "a": [], "k": kwargs, "t": None, "et": now_ms})
    keys = [job_key(job_id), result_key(job_id), queue, wake_key(queue), ABORT_KEY]
    return bool(await script(keys=keys, args=[payload, expires_ms, score_ms, job_id]))


async def enqueue(
    redis: ArqRedis,
    function: str,
    kwargs: dict[str, Any],
    *,
    queue: str,
    job_id: str | None = None,
    defer_by: float = 0.0,
) -> Job | None:
    """arq's enqueue_job (refused, None, while the id has a job or a kept result) that also wakes an idle lane."""
    job_id = job_id or uuid.uuid4().hex
    now_ms = int(time.time() * 1000)
    defer_ms = int(max(0.0, defer_by) * 1000)
    enqueued = await put_job(
        redis,
        queue,
        job_id,
        function,
        kwargs,
        score_ms=now_ms + defer_ms,
        expires_ms=defer_ms + EXPIRES_EXTRA_MS,
        now_ms=now_ms,
    )
    return job_handle(job_id, redis, queue) if enqueued else None


# KEYS: job, queue, wake, abort. ARGV: job id, now ms. Marks a job that still exists (queued, deferred, waiting for
# its next try, or running) to be aborted; a job not due yet is made due, so a worker picks it up and ends it. 1 =
# marked, 0 = no such job (unknown, or finished already).
_ABORT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if score and tonumber(score) > tonumber(ARGV[2]) then redis.call('ZADD', KEYS[2], 'XX', ARGV[2], ARGV[1]) end
redis.call('LPUSH', KEYS[3], 1)
redis.call('LTRIM', KEYS[3], 0, 0)
return 1
"""

_abort_scripts: weakref.WeakKeyDictionary[ArqRedis, Any] = weakref.WeakKeyDictionary()


async def abort(redis: ArqRedis, job_id: str, queue: str) -> bool:
    """Ask the workers to abort a job that still exists; False when there is no such job (or it has finished).

    A job not started yet fails without running; a running one is cancelled within a third of a lease
    (ADOLF_JOB_LEASE_SECONDS / 3). Either way it ends as a failure with code ABORTED and a dead letter."""
    script = _abort_scripts.get(redis)
    if script is None:
        script = _abort_scripts[redis] = redis.register_script(_ABORT)
    keys = [job_key(job_id), queue, wake_key(queue), ABORT_KEY]
    return bool(await script(keys=keys, args=[job_id, int(time.time() * 1000)]))


def job_handle(job_id: str, redis: ArqRedis, queue: str) -> Job:
    """arq's handle on a job: `status()`, `result()`, `result_info()`."""
    return Job(job_id, redis, _queue_name=queue, _deserializer=deserialize)
