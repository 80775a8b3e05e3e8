"""With adolf/queueing.py, the only code that knows arq from the inside (arq is in maintenance-only mode: a move to
another queue changes these two modules, not the jobs). Tests in tests/workers/test_arq_seam.py pin each arq
behaviour relied on here, so an arq upgrade fails loudly in one place.

What ADOLF keeps of arq is its Redis data model (adolf/queueing.py: keys, connection, enqueue, job handle), so
that services enqueue with arq's `enqueue_job` and read status and results with arq's `Job`, and the plain `arq`
command starts a lane.

The jobs themselves run in ADOLF's engine (adolf/workers/engine.py). Every write a run makes when it ends goes
through one script fenced by the run's lease token, so a run whose lease was lost (a stalled process whose job was
taken over) can never touch another run's job, result or try count.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from arq.connections import RedisSettings
from arq.constants import in_progress_key_prefix
from arq.cron import next_cron
from arq.worker import func

from adolf.group_commit import GroupCommit
from adolf.queueing import (
    ABORT_KEY,
    EXPIRES_EXTRA_MS,
    WAKE_PREFIX,
    ArqRedis,
    Job,
    JobStatus,
    connect,
    enqueue,
    health_key,
    in_progress_key,
    job_handle,
    job_key,
    job_ref,
    put_job,
    redis_settings,
    result_key,
    retry_key,
    wake_key,
)
from adolf.serialization import deserialize, serialize

__all__ = [
    "ABORT_KEY",
    "EXPIRES_EXTRA_MS",
    "WAKE_PREFIX",
    "ArqRedis",
    "Job",
    "JobStatus",
    "RetryKeyTtl",
    "Scripts",
    "connect",
    "enqueue",
    "health_key",
    "in_progress_key",
    "job_handle",
    "job_key",
    "job_ref",
    "put_job",
    "redis_settings",
    "result_key",
    "retry_key",
    "wake_key",
]

RetryKeyTtl = 88_400  # seconds arq keeps a try counter


def cron_job_id(name: str, when: datetime) -> str:
    """arq's id for one slot of a schedule: every process computes the same one, so the slot is enqueued once."""
    return f"{name}:{int(when.timestamp() * 1000)}"


def next_cron_time(after: datetime, *, hour: Any, minute: Any, second: Any) -> datetime:
    return next_cron(after, hour=hour, minute=minute, second=second, microsecond=0)


# --- the job, as arq stores it -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Payload:
    function: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    enqueue_job_try: int | None
    enqueue_time_ms: int


class UndecodableJob(Exception):
    """The job's payload is not a JSON object of arq's shape (or was written with pickle)."""

    code = "UNDECODABLE_JOB"


def decode_job(raw: bytes) -> Payload:
    try:
        data = deserialize(raw)
    except (orjson.JSONDecodeError, TypeError, ValueError) as exc:
        raise UndecodableJob(f"the job's payload cannot be read: {exc}") from None
    return Payload(data["f"], tuple(data["a"]), data["k"], data["t"], data["et"])


def encode_result(
    *,
    payload: Payload | None,
    job_id: str,
    queue: str,
    job_try: int,
    success: bool,
    result: Any,
    started_ms: int,
    finished_ms: int,
) -> bytes:
    """The result arq's `Job.result()` and `Job.result_info()` read."""
    data = {
        "t": job_try,
        "f": payload.function if payload else "<unknown>",
        "a": list(payload.args) if payload else [],
        "k": payload.kwargs if payload else {},
        "et": payload.enqueue_time_ms if payload else 0,
        "s": success,
        "r": result,
        "st": started_ms,
        "ft": finished_ms,
        "q": queue,
        "id": job_id,
    }
    try:
        return serialize(data)
    except TypeError:
        data.update(r=f"unable to serialize result: {type(result).__name__}", s=False)
        return serialize(data)


# --- scripts -------------------------------------------------------------------------------------------------------

# KEYS[1] queue, KEYS[2] its wake list; ARGV: in-progress prefix, token prefix, lease ms, how many to claim, ids read
# at a time, now (ms, the worker's clock, as arq's claim uses it), how many ids to read at most. Claims the due jobs
# no run holds (arq's claim, for a whole poll in one round trip), reading past the ones other processes hold, so more
# processes on one queue each find work. Returns {id, score, token, ...}, then the earliest time (ms) a job read becomes
# claimable: the first not yet due, or a due job's lease running out, so a crashed run is taken over the moment its
# lease ends (-1: none), and `now`. If due jobs were left unclaimed it pushes the wake list, so another idle process
# takes them.
_CLAIM = """
local now = tonumber(ARGV[6])
local prefix, tokens, lease, wanted, limit = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local scan = tonumber(ARGV[7])
local out = {}
local claimed, left, nxt, offset, reading = 0, 0, -1, 0, true
while reading do
    local entries = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '+inf', 'WITHSCORES', 'LIMIT', offset, limit)
    reading = #entries == 2 * limit and offset + limit < scan
    for i = 1, #entries, 2 do
        local id, score = entries[i], tonumber(entries[i + 1])
        if score > now then
            if nxt < 0 or score < nxt then
                nxt = score
            end
            reading = false
            break
        end
        local held = redis.call('PTTL', prefix .. id)
        if held >= 0 and (nxt < 0 or now + held < nxt) then
            nxt = now + held
        end
        if held == -2 then
            if claimed < wanted then
                local token = tokens .. ':' .. now .. ':' .. (offset + i)
                redis.call('SET', prefix .. id, token, 'PX', lease)
                out[#out + 1] = id
                out[#out + 1] = entries[i + 1]
                out[#out + 1] = token
                claimed = claimed + 1
            else
                left = left + 1
                reading = false
            end
        end
    end
    offset = offset + limit
end
if left > 0 then
    redis.call('LPUSH', KEYS[2], 1)
    redis.call('LTRIM', KEYS[2], 0, 0)
end
out[#out + 1] = nxt
out[#out + 1] = now
return out
"""

# KEYS: in-progress, job, retry, abort. ARGV: token, retry ttl, job id. The run starts: its try counted. Returns
# {payload, try, aborted} (aborted 1: an operator asked to abort the job before it ran) or {false, 0} when the run no
# longer holds the job.
_START = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {false, 0, 0} end
local job_try = redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], ARGV[2])
local aborted = 0
if redis.call('ZSCORE', KEYS[4], ARGV[3]) then aborted = 1 end
return {redis.call('GET', KEYS[2]), job_try, aborted}
"""

# KEYS: in-progress, queue, job, retry, result, abort. ARGV: token, job id, mode, result, result ttl ms, score, now
# ms. mode 'done': result kept, the job gone (and any request to abort it). 'again': due again at `score`, the try
# kept. 'refund': due again at `score`, the try given back (never below 0, its expiry kept). Due again, the job's
# payload is kept until a day past `score` (a deferral may be longer than its enqueue expiry), and a job an operator
# asked to abort meanwhile is due now instead (it ends ABORTED at once, not after its retry delay). 1 = written, 0 =
# the run no longer held the job.
_FINISH = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local mode = ARGV[3]
if mode == 'done' then
    if ARGV[4] ~= '' then redis.call('SET', KEYS[5], ARGV[4], 'PX', ARGV[5]) end
    redis.call('DEL', KEYS[3], KEYS[4])
    redis.call('ZREM', KEYS[2], ARGV[2])
    redis.call('ZREM', KEYS[6], ARGV[2])
else
    if mode == 'refund' then
        local tries = tonumber(redis.call('GET', KEYS[4]))
        if tries and tries > 0 then redis.call('DECR', KEYS[4]) end
    end
    local due = ARGV[6]
    if redis.call('ZSCORE', KEYS[6], ARGV[2]) then due = ARGV[7] end
    redis.call('ZADD', KEYS[2], 'XX', due, ARGV[2])
    local keep = tonumber(ARGV[6]) - tonumber(ARGV[7]) + 86400000
    local left = redis.call('PTTL', KEYS[3])
    if left >= 0 and left < keep then redis.call('PEXPIRE', KEYS[3], keep) end
end
redis.call('DEL', KEYS[1])
return 1
"""

# KEYS: in-progress. ARGV: token, lease ms. 1 = renewed, 0 = the run no longer holds the job.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


@dataclass(frozen=True)
class Claimed:
    job_id: str
    score: int
    token: str
    at_ms: int  # when the claim was sent (wall ms): its lease runs from no earlier than then


@dataclass(frozen=True)
class Poll:
    claimed: list[Claimed]
    next_due_ms: int | None  # the next job not yet due, if any
    now_ms: int  # the clock the claim used


class Scripts:
    """The Lua scripts over arq's keys, registered once per Redis client."""

    def __init__(self, redis: ArqRedis) -> None:
        self.redis = redis
        self._claim = redis.register_script(_CLAIM)
        self._start = redis.register_script(_START)
        self._starts: GroupCommit[tuple[str, str], Any] = GroupCommit(self._start_many, key=lambda run: run[0])
        self._finish = redis.register_script(_FINISH)
        self._renew = redis.register_script(_RENEW)

    async def claim(
        self, queue: str, *, token_prefix: str, lease_ms: int, wanted: int, read_limit: int, scan_limit: int
    ) -> Poll:
        args = [
            *(in_progress_key_prefix, token_prefix, lease_ms, wanted, read_limit, int(time.time() * 1000)),
            scan_limit,
        ]
        out = await self._claim(keys=[queue, wake_key(queue)], args=args)
        now_ms, next_due = int(out[-1]), int(float(out[-2]))
        claimed = [
            Claimed(_text(out[i]), int(float(out[i + 1])), _text(out[i + 2]), args[5])
            for i in range(0, len(out) - 2, 3)
        ]
        return Poll(claimed, None if next_due < 0 else next_due, now_ms)

    async def start(self, job_id: str, token: str) -> tuple[bytes | None, int, bool] | None:
        """The job's payload, this run's try and whether it was aborted before it ran; None when the run no longer
        holds the job. The runs a poll started start together: one pipelined round trip (the try is counted when
        the run starts, as arq counts it, so a claim whose answer was lost costs no job a try)."""
        raw, job_try, aborted = await self._starts.submit((job_id, token))
        if raw is None and job_try == 0:
            return None
        return raw, int(job_try), bool(aborted)

    async def _start_many(self, runs: Sequence[tuple[str, str]]) -> list[Any]:
        async with self.redis.pipeline(transaction=False) as pipe:
            for job_id, token in runs:
                keys = [in_progress_key(job_id), job_key(job_id), retry_key(job_id), ABORT_KEY]
                await self._start(keys=keys, args=[token, RetryKeyTtl, job_id], client=pipe)
            return list(await pipe.execute())

    async def finish(
        self,
        queue: str,
        job_id: str,
        token: str,
        *,
        mode: str,
        result: bytes = b"",
        result_ttl_ms: int = 0,
        score_ms: int = 0,
    ) -> bool:
        keys = [in_progress_key(job_id), queue, job_key(job_id), retry_key(job_id), result_key(job_id), ABORT_KEY]
        now_ms = int(time.time() * 1000)
        written = await self._finish(keys=keys, args=[token, job_id, mode, result, result_ttl_ms, score_ms, now_ms])
        return bool(written)

    async def set_try(self, job_id: str, job_try: int) -> None:
        await self.redis.set(retry_key(job_id), job_try, ex=RetryKeyTtl)

    async def renew(self, job_id: str, token: str, lease_ms: int, *, client: Any = None) -> Any:
        return await self._renew(keys=[in_progress_key(job_id)], args=[token, lease_ms], client=client)

    @staticmethod
    def aborted(job_ids: Sequence[str], *, client: Any) -> Any:
        """Queue, on a pipeline, which of these jobs an operator asked to abort (one score or None each)."""
        return client.zmscore(ABORT_KEY, list(job_ids))


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def job_alive(redis: ArqRedis, ref: str) -> bool:
    """Whether the run `ref` still exists: queued, deferred, waiting for a retry, or running."""
    job_id, _, enqueued_ms = ref.rpartition("@")
    if not job_id or not enqueued_ms.isdecimal():
        return False
    raw = await redis.get(job_key(job_id))
    if raw is None:
        return False
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return True  # an id we cannot read still names a live job; never take over from it
    return not isinstance(payload, dict) or payload.get("et") == int(enqueued_ms)


_scripts: weakref.WeakKeyDictionary[ArqRedis, Scripts] = weakref.WeakKeyDictionary()


def scripts_for(redis: ArqRedis) -> Scripts:
    known = _scripts.get(redis)
    if known is None:
        known = _scripts[redis] = Scripts(redis)
    return known


# --- the plain `arq` command ---------------------------------------------------------------------------------------


def arq_command_burst() -> bool:
    """Whether the `arq` command was started with --burst (arq does not tell its on_startup hook)."""
    return "--burst" in sys.argv[1:]


async def _never_called(ctx: dict[str, Any]) -> None:
    raise RuntimeError("arq's own loop does not run ADOLF's jobs; the engine does")


def arq_settings_class(
    class_name: str, *, queue: str, job_names: list[str], redis_settings_: RedisSettings, run_engine: Any, doc: str
) -> type:
    """An arq settings class whose worker hands its lane to ADOLF's engine: its on_startup hook runs the engine until
    it stops (SIGTERM/SIGINT, or an empty queue with --burst) and then ends the process, so arq's own loop never
    runs and the plain `arq` command has the engine's guarantees. Redis and PostgreSQL are checked before arq connects
    (adolf/workers/lanes.py); a start that fails on a setting prints one line and exits 1."""

    async def on_startup(ctx: dict[str, Any]) -> None:
        from adolf.workers.lifecycle import StartupError

        code = 0
        try:
            await run_engine(burst=arq_command_burst())
        except StartupError as error:  # a server or port it needs: one line naming the setting
            print(f"arq {class_name}: {error}", file=sys.stderr, flush=True)
            code = 1
        except BaseException:
            logging.getLogger(__name__).exception("the %s lane stopped on an error", queue)
            code = 1
        finally:
            logging.shutdown()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)  # arq's teardown would run its own loop's cleanup against a lane it never ran

    redis_settings_.conn_retries = 0  # checked just before (adolf/workers/lanes.py): no retry lines, no waiting
    attrs = {
        "functions": [func(_never_called, name=name) for name in job_names],
        "queue_name": queue,
        "redis_settings": redis_settings_,
        "on_startup": on_startup,
        "handle_signals": False,  # the engine handles SIGTERM/SIGINT itself
        "job_serializer": serialize,
        "job_deserializer": deserialize,
        "__doc__": doc,
    }
    return type(class_name, (), attrs)
