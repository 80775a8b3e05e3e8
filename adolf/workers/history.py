"""Durable job history (`job_runs`): one row per job run, written in batches so recording costs the worker almost
nothing (one INSERT of up to BATCH rows every FLUSH_INTERVAL, off the jobs' path).

A row keeps the job's arguments with secrets masked (keys that name a secret, and every configured secret value),
how the run ended (a finished job whose result says `success: false` is a failed run, with its code), a result
summary, and the draft / publication / niche / analysis it concerns, so the history is searchable by business object.
While PostgreSQL is away rows wait in memory (at most MAX_WAITING; the oldest are dropped, and said so, beyond that).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from adolf.logs import SecretMasker

logger = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.5
BATCH = 2000
MAX_WAITING = 100_000
RESULT_BYTES = 4000
MESSAGE_CHARS = 2000
SECRET_KEY = re.compile(r"token|secret|password|passwd|api_?key|authorization|credential", re.IGNORECASE)
ENTITIES = ("draft_id", "publication_id", "niche_id", "analysis_id")

INSERT = """
    INSERT INTO job_runs (job_id, job_name, lane, try, status, args, started_at, duration_ms, error_code,
                          error_message, result, draft_id, publication_id, niche_id, analysis_id)
    SELECT j, n, l, t, s, a::jsonb, st, d, ec, em, r::jsonb, dr, pu, ni, an
    FROM unnest($1::text[], $2::text[], $3::text[], $4::int4[], $5::text[], $6::text[], $7::timestamptz[],
                $8::float8[], $9::text[], $10::text[], $11::text[], $12::uuid[], $13::uuid[], $14::uuid[],
                $15::uuid[]) AS u(j, n, l, t, s, a, st, d, ec, em, r, dr, pu, ni, an)
"""
DELETE_OLD = "DELETE FROM job_runs WHERE id IN (SELECT id FROM job_runs WHERE started_at < $1 LIMIT $2)"


@dataclass(frozen=True)
class JobRun:
    job_id: str
    job_name: str
    lane: str
    try_: int
    status: str  # success, failed, retry, deferred, cancelled
    args: dict[str, Any]
    started_at: datetime
    duration_ms: float
    error_code: str | None = None
    error_message: str | None = None
    result: Any = None


def masked(value: Any, mask: SecretMasker) -> Any:
    """A copy with the values of secret-named keys and every known secret value replaced by '***'."""
    if isinstance(value, dict):
        return {k: "***" if SECRET_KEY.search(str(k)) else masked(v, mask) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [masked(v, mask) for v in value]
    return mask(value) if isinstance(value, str) else value


def _entity(key: str, *sources: Any) -> UUID | None:
    for source in sources:
        if isinstance(source, dict) and source.get(key):
            try:
                return UUID(str(source[key]))
            except ValueError:
                continue
    return None


def _json(value: Any, limit: int) -> str:
    text = orjson.dumps(value, default=str).decode()
    if len(text) <= limit:
        return text
    return orjson.dumps({"truncated": True, "preview": text[:limit]}).decode()


class JobHistory:
    def __init__(
        self,
        db: asyncpg.Pool,
        *,
        secrets: tuple[str, ...] = (),
        flush_interval: float = FLUSH_INTERVAL,
        enabled: bool = True,
    ):
        self.db = db
        self.enabled = enabled
        self.mask = SecretMasker(secrets)
        self.flush_interval = flush_interval
        self._waiting: deque[tuple[Any, ...]] = deque()
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self.dropped = 0

    def record(self, run: JobRun) -> None:
        """Queue a row (never blocks, never raises); it is written with the next batch."""
        if not self.enabled:
            return
        try:
            self._waiting.append(self._row(run))
        except Exception as exc:  # a history row must never fail its job
            logger.warning("job history: could not record %s: %s", run.job_name, exc)
            return
        if len(self._waiting) > MAX_WAITING:
            self._waiting.popleft()
            self.dropped += 1
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="adolf-job-history")

    def _row(self, run: JobRun) -> tuple[Any, ...]:
        args = masked(run.args, self.mask)
        result = masked(run.result, self.mask) if run.result is not None else None
        message = self.mask(run.error_message)[:MESSAGE_CHARS] if run.error_message else None
        return (
            run.job_id,
            run.job_name,
            run.lane,
            run.try_,
            run.status,
            _json(args, RESULT_BYTES),
            run.started_at,
            run.duration_ms,
            run.error_code,
            message,
            None if result is None else _json(result, RESULT_BYTES),
            *(_entity(key, run.args, run.result) for key in ENTITIES),
        )

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_interval)
            await self.flush()

    async def flush(self) -> None:
        while self._waiting:
            batch = [self._waiting.popleft() for _ in range(min(BATCH, len(self._waiting)))]
            try:
                await self.db.execute(INSERT, *(list(column) for column in zip(*batch, strict=True)))
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                self._waiting.extendleft(reversed(batch))
                if not self._failing:
                    logger.warning("job history waits for PostgreSQL (%s rows): %s", len(self._waiting), exc)
                self._failing = True
                return
            if self._failing:
                logger.info("job history written again after an outage")
                self._failing = False

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.flush()
        if self._waiting:
            logger.warning("job history: %d rows not written at shutdown (PostgreSQL away)", len(self._waiting))


async def delete_old_runs(db: asyncpg.Pool, before: datetime, *, batch: int = 10_000) -> int:
    """Delete rows started before `before`, in batches (no long lock on a big table)."""
    deleted = 0
    while True:
        tag = await db.execute(DELETE_OLD, before, batch)
        count = int(tag.rsplit(" ", 1)[-1])
        deleted += count
        if count < batch:
            return deleted
