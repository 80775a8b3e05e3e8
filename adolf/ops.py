"""Operator commands: `adolf queues`, `adolf job ID`, `adolf failed list|retry ID|purge`.

Every input error is one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
import redis.exceptions

from adolf import queueing
from adolf.db.pool import create_pool
from adolf.db.repositories.failed_jobs import FailedJobRepository
from adolf.errors import InvalidJobArgs
from adolf.job_contracts import validate_arguments
from adolf.lanes import LANES
from adolf.settings import Settings

DELETE_FAILED = "DELETE FROM failed_jobs WHERE failed_at < $1 AND ($2 OR retried_at IS NOT NULL)"


class OpsError(Exception):
    """One line for the operator."""


class FailedJobNotFound(OpsError):
    """No failed_jobs row has that id."""


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    queues = sub.add_parser("queues", help="depth, due jobs, oldest job and live workers of every lane")
    queues.add_argument("--json", action="store_true")
    queues.set_defaults(run=cmd_queues)

    job = sub.add_parser("job", help="a job's status, result and dead letter by id (exit 1 if unknown)")
    job.add_argument("job_id")
    job.set_defaults(run=cmd_job)

    workers = sub.add_parser("workers", help="the worker processes alive: host, pid, lanes, running and done jobs")
    workers.add_argument("--json", action="store_true")
    workers.set_defaults(run=cmd_workers)

    abort = sub.add_parser("abort", help="abort a queued, deferred or running job by id (exit 1 if none)")
    abort.add_argument("job_id")
    abort.set_defaults(run=cmd_abort)

    failed = sub.add_parser("failed", help="the dead letters (failed_jobs): list, retry, purge")
    failed_sub = failed.add_subparsers(dest="failed", required=True)
    listing = failed_sub.add_parser("list", help="the latest finally failed jobs")
    listing.add_argument("--limit", type=_positive, default=20)
    listing.add_argument("--job", default=None, help="only this job name")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=cmd_failed_list)
    retry = failed_sub.add_parser("retry", help="enqueue a failed job again with its arguments")
    retry.add_argument("failed_id", type=_positive, help="the failed_jobs id (see `adolf failed list`)")
    retry.add_argument("--again", action="store_true", help="even if it was retried before")
    retry.set_defaults(run=cmd_failed_retry)
    purge = failed_sub.add_parser("purge", help="delete dead letters older than --days (retried ones only by default)")
    purge.add_argument("--days", type=_positive, required=True)
    purge.add_argument("--all", action="store_true", help="also those never retried")
    purge.set_defaults(run=cmd_failed_purge)


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def _run(name: str, work: Callable[[], Awaitable[int]]) -> int:
    try:
        return asyncio.run(work())
    except OpsError as exc:
        print(f"adolf {name}: {exc}", file=sys.stderr)
        return 1
    except (OSError, asyncpg.PostgresError, redis.exceptions.RedisError) as exc:
        print(f"adolf {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


async def connect_db(settings: Settings) -> asyncpg.Pool:
    try:
        return await create_pool(settings.database_url, min_size=1, max_size=2)
    except (OSError, asyncpg.PostgresError) as exc:
        raise OpsError(f"cannot reach PostgreSQL at ADOLF_DATABASE_URL: {type(exc).__name__}: {exc}") from None


async def _client(settings: Settings) -> Any:
    from adolf.client import AdolfClient

    try:
        return await asyncio.wait_for(AdolfClient.connect(settings), 10)
    except (OSError, TimeoutError, redis.exceptions.RedisError) as exc:
        raise OpsError(f"cannot reach Redis at ADOLF_REDIS_URL: {type(exc).__name__}: {exc}") from None


# ---------------------------------------------------------------- queues


async def queue_stats(redis: Any, now_ms: float | None = None) -> list[dict[str, Any]]:
    """Per lane: queued jobs, those due now, the age of the oldest due one, and whether a worker polls it."""
    now_ms = time.time() * 1000 if now_ms is None else now_ms
    async with redis.pipeline(transaction=False) as pipe:
        for lane in LANES.values():
            pipe.zcard(lane.queue)
            pipe.zcount(lane.queue, "-inf", now_ms)
            pipe.zrange(lane.queue, 0, 0, withscores=True)
            pipe.exists(queueing.health_key(lane.queue))
        answers = await pipe.execute()
    stats = []
    for index, lane in enumerate(LANES.values()):
        depth, due, first, polled = answers[4 * index : 4 * index + 4]
        oldest = round((now_ms - first[0][1]) / 1000, 1) if first and first[0][1] <= now_ms else None
        stats.append(
            {"lane": lane.name, "queued": depth, "due": due, "oldest_due_s": oldest, "worker_polling": bool(polled)}
        )
    return stats


async def workers_alive(redis: Any) -> list[dict[str, Any]]:
    """The worker processes that said they are alive within three health-check intervals."""
    keys = sorted([key async for key in redis.scan_iter(match=queueing.WORKER_PREFIX + "*", count=500)])
    values = await redis.mget(keys) if keys else []
    return [record for record in map(_payload, values) if record]


async def active_jobs(redis: Any, *, lane: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """The jobs in the lanes' queues now, earliest first per lane: queued (due), deferred, or running."""
    lanes = [LANES[lane]] if lane else list(LANES.values())
    now_ms = time.time() * 1000
    async with redis.pipeline(transaction=False) as pipe:
        for each in lanes:
            pipe.zrange(each.queue, 0, limit - 1, withscores=True)
        listed = await pipe.execute()
    entries = [(each, _text(job_id), score) for each, ids in zip(lanes, listed, strict=True) for job_id, score in ids]
    async with redis.pipeline(transaction=False) as pipe:
        for _, job_id, _ in entries:
            pipe.get(queueing.job_key(job_id))
            pipe.exists(queueing.in_progress_key(job_id))
            pipe.get(queueing.retry_key(job_id))
            pipe.zscore(queueing.ABORT_KEY, job_id)
        details = await pipe.execute()
    jobs = []
    for index, (each, job_id, score) in enumerate(entries):
        raw, running, tries, abort_asked = details[4 * index : 4 * index + 4]
        payload = _payload(raw)
        state = "running" if running else ("queued" if score <= now_ms else "deferred")
        jobs.append(
            {
                "job_id": job_id,
                "lane": each.name,
                "state": state,
                "function": payload.get("f"),
                "args": payload.get("k") or {},
                "tries": int(tries or 0),
                "due_at": _iso_ms(score),
                "enqueued_at": _iso_ms(payload.get("et")),
                "abort_requested": abort_asked is not None,
            }
        )
    return jobs


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _payload(raw: Any) -> dict[str, Any]:
    try:
        payload = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _iso_ms(value: Any) -> str | None:
    if not isinstance(value, int | float):
        return None
    return datetime.fromtimestamp(value / 1000, UTC).isoformat()


def cmd_workers(settings: Settings, args: argparse.Namespace) -> int:
    async def work() -> int:
        client = await _client(settings)
        try:
            alive = await workers_alive(client.redis)
        finally:
            await client.close()
        if args.json:
            print(orjson.dumps(alive).decode())
            return 0
        print(f"{'worker':28} {'lanes':48} {'running':>7} {'done':>7} {'failed':>7}  seen")
        for worker in alive:
            name = f"{worker.get('host')}:{worker.get('pid')}"
            lanes = ",".join(worker.get("lanes") or [])
            print(
                f"{name:28} {lanes:48} {worker.get('running', 0):>7} {worker.get('complete', 0):>7} "
                f"{worker.get('failed', 0):>7}  {worker.get('seen_at')}"
            )
        if not alive:
            print("no worker process is alive (start one: adolf worker, or arq adolf.workers.<Lane>)")
        return 0

    return _run("workers", work)


def cmd_abort(settings: Settings, args: argparse.Namespace) -> int:
    async def work() -> int:
        client = await _client(settings)
        try:
            if not await client.abort(args.job_id):
                raise OpsError(f"no queued, deferred or running job {args.job_id!r} (a finished job cannot be aborted)")
        finally:
            await client.close()
        print(f"abort requested: {args.job_id} (a running job stops within a third of ADOLF_JOB_LEASE_SECONDS)")
        return 0

    return _run("abort", work)


def cmd_queues(settings: Settings, args: argparse.Namespace) -> int:
    async def work() -> int:
        client = await _client(settings)
        try:
            stats = await queue_stats(client.redis)
        finally:
            await client.close()
        if args.json:
            print(orjson.dumps(stats).decode())
            return 0
        print(f"{'lane':16} {'queued':>7} {'due':>7} {'oldest due':>11}  worker")
        for row in stats:
            oldest = "-" if row["oldest_due_s"] is None else f"{row['oldest_due_s']:.1f} s"
            polling = "polling" if row["worker_polling"] else "NONE (no worker polls this lane)"
            print(f"{row['lane']:16} {row['queued']:>7} {row['due']:>7} {oldest:>11}  {polling}")
        return 0

    return _run("queues", work)


# ---------------------------------------------------------------- job


def cmd_job(settings: Settings, args: argparse.Namespace) -> int:
    async def work() -> int:
        client = await _client(settings)
        try:
            info = await client.job_info(args.job_id)
        finally:
            await client.close()
        db = await connect_db(settings)
        try:
            letters = await db.fetch(
                "SELECT id, job_name, error_code, exception, tries, failed_at, retried_at, retry_job_id "
                "FROM failed_jobs WHERE job_id = $1 ORDER BY failed_at DESC LIMIT 5",
                args.job_id,
            )
        finally:
            await db.close()
        if info["status"] == "not_found" and not letters:
            raise OpsError(
                f"no job {args.job_id!r} (results are kept ADOLF_KEEP_RESULT_SECONDS; see `adolf failed list`)"
            )
        info["dead_letters"] = [dict(row) for row in letters]
        print(orjson.dumps(info, option=orjson.OPT_INDENT_2, default=str).decode())
        return 0

    return _run("job", work)


# ---------------------------------------------------------------- failed


def cmd_failed_list(settings: Settings, args: argparse.Namespace) -> int:
    async def work() -> int:
        db = await connect_db(settings)
        try:
            rows = await FailedJobRepository(db).list_recent(limit=args.limit, job_name=args.job)
        finally:
            await db.close()
        if args.json:
            print(orjson.dumps([r.model_dump(mode="json") for r in rows]).decode())
            return 0
        print(f"{'id':>6}  {'failed at':19}  {'job':44}  {'code':16}  {'tries':>5}  retried")
        for row in rows:
            retried = row.retry_job_id or "-"
            failed_at = row.failed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
            print(
                f"{row.id:>6}  {failed_at:19}  {row.job_name:44}  {row.error_code or '-':16}  {row.tries:>5}  {retried}"
            )
            print(f"{'':8}{row.exception.splitlines()[0][:150] if row.exception else ''}")
        return 0

    return _run("failed list", work)


async def retry_failed_job(db: asyncpg.Pool, client: Any, failed_id: int, *, again: bool = False) -> str:
    """Enqueue a dead letter's job again with its arguments; returns the new job id."""
    repo = FailedJobRepository(db)
    letter = await repo.get(failed_id)
    if letter is None:
        raise FailedJobNotFound(f"no failed job with id {failed_id}")
    if letter.retried_at is not None and not again:
        raise OpsError(f"failed job {failed_id} was retried already as {letter.retry_job_id} (--again to retry anyway)")
    try:
        spec = client.registry.job(letter.job_name)
        arguments = validate_arguments(spec, tuple(letter.args), dict(letter.kwargs))
    except KeyError:
        raise OpsError(f"failed job {failed_id} is {letter.job_name!r}, which no longer exists") from None
    except InvalidJobArgs as exc:
        raise OpsError(f"failed job {failed_id} cannot run again as it was: {exc}") from None
    job = await client.enqueue(letter.job_name, **arguments.model_dump(mode="json"))
    await repo.mark_retried(failed_id, retry_job_id=job.job_id)
    return job.job_id


def cmd_failed_retry(settings: Settings, args: argparse.Namespace) -> int:
    async def work() -> int:
        db = await connect_db(settings)
        try:
            client = await _client(settings)
            try:
                job_id = await retry_failed_job(db, client, args.failed_id, again=args.again)
            finally:
                await client.close()
        finally:
            await db.close()
        print(job_id)
        return 0

    return _run("failed retry", work)


def cmd_failed_purge(settings: Settings, args: argparse.Namespace) -> int:
    async def work() -> int:
        db = await connect_db(settings)
        try:
            before = datetime.now(UTC) - timedelta(days=args.days)
            tag = await db.execute(DELETE_FAILED, before, args.all)
        finally:
            await db.close()
        print(f"deleted {tag.rsplit(' ', 1)[-1]} failed jobs older than {args.days} days")
        return 0

    return _run("failed purge", work)
