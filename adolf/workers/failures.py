"""The dead-letter path (seed §7.9.3): every job that finally failed becomes a `failed_jobs` row plus an alert.

The row is written at once. When PostgreSQL is down, the letter is handed to the job
`content_factory.tasks.handle_failed_task` (content_low lane), which retries until the database is back; if Redis
is down too, the letter is logged in full at CRITICAL so nothing is lost silently.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

import asyncpg
from arq.connections import ArqRedis

from adolf.db.repositories.failed_jobs import FailedJobRepository
from adolf.errors import is_infra_error
from adolf.lanes import LANES
from adolf.models.content import DeadLetter, FailedJob
from adolf.services.notifications import send_alert
from adolf.workers.registry import FailureHook
from adolf.workers.serialization import JobFailed, describe_exception

logger = logging.getLogger(__name__)

DEAD_LETTER_JOB = "content_factory.tasks.handle_failed_task"
DEAD_LETTER_LANE = "content_low"


def letter_from_result(data: dict[str, Any]) -> DeadLetter:
    """The dead letter of a failed job, from the result arq records for it (keys f, a, k, t, et, r, q, id)."""
    exc = data.get("r")
    info = describe_exception(exc) if isinstance(exc, BaseException) else {"type": "Error", "message": str(exc)}
    return DeadLetter(
        job_id=str(data.get("id") or "<unknown>"),
        job_name=str(data.get("f") or "<unknown>"),
        queue=str(data.get("q") or ""),
        args=list(data.get("a") or ()),
        kwargs=dict(data.get("k") or {}),
        exception=f"{info['type']}: {info['message']}",
        error_code=info.get("code") or _arq_failure_code(info),
        tries=max(1, int(data.get("t") or 1)),
        enqueued_at=datetime.fromtimestamp((data.get("et") or 0) / 1000, UTC),
    )


def _arq_failure_code(info: dict[str, Any]) -> str:
    message = str(info.get("message"))
    if info["type"] in {"DeserializationError", "SerializationError"}:
        return "UNDECODABLE_JOB"
    if "retries exceeded" in message:
        return "TRIES_EXHAUSTED"
    if "not found" in message:
        return "UNKNOWN_JOB"
    if "expired" in message:
        return "JOB_EXPIRED"
    if info["type"] in {"TimeoutError", "CancelledError"}:
        return "TIMEOUT" if info["type"] == "TimeoutError" else "CANCELLED"
    return "JOB_FAILED"


def _without_nul(value: Any) -> Any:
    """PostgreSQL text and jsonb cannot hold NUL characters; a malformed job's arguments may contain them."""
    if isinstance(value, str):
        return value.replace("\x00", "\\u0000")
    if isinstance(value, list):
        return [_without_nul(v) for v in value]
    if isinstance(value, dict):
        return {_without_nul(k): _without_nul(v) for k, v in value.items()}
    return value


async def store_dead_letter(db: asyncpg.Pool, letter: DeadLetter) -> FailedJob | None:
    """Write the failed_jobs row and its alert in one transaction; None if this run was already stored."""
    async with db.acquire() as conn, conn.transaction():
        row = await FailedJobRepository(conn).record(**_without_nul(letter.model_dump()))
        if row is not None:
            await send_alert(
                conn,
                event_type="job.failed",
                message=f"Task {letter.job_name} permanently failed: {letter.exception}",
                data={"failed_job_id": row.id, "job_id": letter.job_id, "tries": letter.tries},
                dedup_key=f"failed_job:{row.id}",
            )
    if row is not None:
        logger.error(
            "job permanently failed: %s",
            letter.job_name,
            extra={"failed_job_id": row.id, "dead_job_id": letter.job_id, "exception": letter.exception},
        )
    return row


class DeadLetterOffice:
    """Takes dead letters from any failure path and makes sure each one is stored, then runs the failed job's
    final-failure hook (e.g. a publication left `processing` becomes `failed`)."""

    def __init__(self, db: asyncpg.Pool, redis: ArqRedis, hooks: dict[str, FailureHook] | None = None) -> None:
        self.db = db
        self.redis = redis
        self.hooks = hooks or {}
        self._pending: set[asyncio.Task[None]] = set()

    def submit_result(self, data: dict[str, Any]) -> None:
        """Sync entry point for the result serializer: store in the background."""
        try:
            letter = letter_from_result(data)
        except Exception:
            logger.critical("failed job could not be described", extra={"result": repr(data)[:2000]}, exc_info=True)
            return
        task = asyncio.get_running_loop().create_task(self.record(letter))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def store(self, letter: DeadLetter) -> FailedJob | None:
        """Store the letter and run its job's hook. Raises when PostgreSQL is away."""
        row = await store_dead_letter(self.db, letter)
        hook = self.hooks.get(letter.job_name)
        if hook is not None:
            await hook(self.db, letter)
        return row

    async def record(self, letter: DeadLetter) -> None:
        """Store the letter, or hand it to Redis while PostgreSQL is away; never raises."""
        try:
            await self.store(letter)
        except Exception as exc:
            if is_infra_error(exc):
                logger.warning("database unavailable, deferring dead letter of %s: %s", letter.job_id, exc)
                await self._defer(letter)
            else:
                logger.critical(
                    "dead letter could not be stored", extra={"letter": letter.model_dump(mode="json")}, exc_info=True
                )

    async def _defer(self, letter: DeadLetter) -> None:
        if letter.job_name == DEAD_LETTER_JOB:
            logger.critical("dead letter could not be stored", extra={"letter": letter.model_dump(mode="json")})
            return
        try:
            await self.redis.enqueue_job(
                DEAD_LETTER_JOB,
                _job_id=f"dead-letter:{letter.job_id}:{int(letter.enqueued_at.timestamp() * 1000)}",
                _queue_name=LANES[DEAD_LETTER_LANE].queue,
                **letter.model_dump(mode="json"),
            )
        except Exception:
            logger.critical(
                "dead letter could not be stored", extra={"letter": letter.model_dump(mode="json")}, exc_info=True
            )

    async def drain(self) -> None:
        """Wait for letters still being written (at shutdown)."""
        if self._pending:
            await asyncio.gather(*self._pending, return_exceptions=True)


def mark_dead_lettered(exc: BaseException) -> BaseException:
    """Flag an exception whose failure is already stored, so the result serializer does not store it again."""
    try:
        exc.dead_lettered = True  # type: ignore[attr-defined]
        return exc
    except AttributeError:
        info = describe_exception(exc)
        wrapped = JobFailed(info["type"], info["message"], info["code"])
        wrapped.dead_lettered = True  # type: ignore[attr-defined]
        return wrapped
