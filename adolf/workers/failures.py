"""The dead-letter path (seed §7.9.3): every job that finally failed becomes a `failed_jobs` row plus an alert.

The row is written at once. When PostgreSQL is down, the letter is handed to the job
`content_factory.tasks.handle_failed_task` (content_low lane), which retries until the database is back; if Redis
is down too, the letter is logged in full at CRITICAL so nothing is lost silently.
"""

from __future__ import annotations

import asyncio
import logging
import time

import asyncpg

from adolf.db.repositories.failed_jobs import FailedJobRepository
from adolf.errors import is_infra_error
from adolf.lanes import LANES
from adolf.models.content import DeadLetter, FailedJob
from adolf.queueing import put_job
from adolf.services.notifications import send_alert
from adolf.workers.arq_seam import Scripts
from adolf.workers.registry import FailureHook

logger = logging.getLogger(__name__)

DEAD_LETTER_JOB = "content_factory.tasks.handle_failed_task"
DEAD_LETTER_LANE = "content_low"


def without_nul(value: object) -> object:
    """PostgreSQL text and jsonb cannot hold NUL characters; a malformed job's arguments may contain them."""
    if isinstance(value, str):
        return value.replace("\x00", "\\u0000")
    if isinstance(value, list):
        return [without_nul(v) for v in value]
    if isinstance(value, dict):
        return {without_nul(k): without_nul(v) for k, v in value.items()}
    return value


async def store_dead_letter(db: asyncpg.Pool, letter: DeadLetter) -> FailedJob | None:
    """Write the failed_jobs row and its alert in one transaction; None if this run was already stored."""
    clean = DeadLetter.model_validate(without_nul(letter.model_dump()))
    async with db.acquire() as conn, conn.transaction():
        row = await FailedJobRepository(conn).record(**clean.model_dump())
        if row is not None:
            await send_alert(
                conn,
                event_type="job.failed",
                message=f"Task {clean.job_name} permanently failed: {clean.exception}",
                data={"failed_job_id": row.id, "job_id": clean.job_id, "tries": clean.tries},
                dedup_key=f"failed_job:{row.id}",
            )
    if row is not None:
        logger.error(
            "job permanently failed: %s",
            clean.job_name,
            extra={"failed_job_id": row.id, "dead_job_id": clean.job_id, "exception": clean.exception},
        )
    return row


class DeadLetterOffice:
    """The one home of dead letters: every job that finally failed, on every path (its own code, or the engine
    failing it before it could run), is handed here; each letter is stored with its alert, then the failed job's
    final-failure hook runs (e.g. a publication left `processing` becomes `failed`). While PostgreSQL is away a
    letter waits in Redis as a `handle_failed_task` job, stored once the database answers."""

    def __init__(self, db: asyncpg.Pool, scripts: Scripts, hooks: dict[str, FailureHook] | None = None) -> None:
        self.db = db
        self.scripts = scripts
        self.hooks = hooks or {}
        self.waiting: list[DeadLetter] = []  # neither PostgreSQL nor Redis took them yet: tried again by `retry`

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
            logger.critical(
                "dead letter kept in memory until PostgreSQL answers", extra={"letter": letter.model_dump(mode="json")}
            )
            self.waiting.append(letter)
            return
        now_ms = int(time.time() * 1000)
        try:
            await put_job(
                self.scripts.redis,
                LANES[DEAD_LETTER_LANE].queue,
                f"dead-letter:{letter.job_id}:{int(letter.enqueued_at.timestamp() * 1000)}",
                DEAD_LETTER_JOB,
                without_nul(letter.model_dump(mode="json")),  # type: ignore[arg-type]
                score_ms=now_ms,
                expires_ms=7 * 86_400_000,
                now_ms=now_ms,
            )
        except Exception:
            logger.critical(
                "dead letter kept in memory until PostgreSQL or Redis answers",
                extra={"letter": letter.model_dump(mode="json")},
                exc_info=True,
            )
            self.waiting.append(letter)

    async def retry_waiting(self) -> None:
        """Hand the letters kept in memory on again (called periodically and at shutdown)."""
        letters, self.waiting = self.waiting, []
        for letter in letters:
            await self.record(letter)

    async def run_forever(self, interval: float = 5.0) -> None:
        while True:
            await asyncio.sleep(interval)
            if self.waiting:
                await self.retry_waiting()
