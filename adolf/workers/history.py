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
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from adolf.errors import is_infra_error
from adolf.logs import SecretMasker

logger = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.5
BATCH = 2000
MAX_WAITING = 100_000
RESULT_BYTES = 4000
MESSAGE_CHARS = 2000
TRACEBACK_CHARS = 8000  # the end of a traceback: where it was raised
CLOSE_PATIENCE = 10.0  # seconds shutdown waits for PostgreSQL to take the last rows (a hanging one holds up no more)
SECRET_KEY = re.compile(r"token|secret|password|passwd|api_?key|authorization|credential", re.IGNORECASE)
ENTITIES = {"draft_id": "dr", "publication_id": "pu", "niche_id": "ni", "analysis_id": "an"}

# the batch travels as one JSON array (orjson on our side, one parse on PostgreSQL's): a fifth of the client CPU of
# fifteen typed arrays for unnest(), measured on 2,000-row batches
INSERT = """
    INSERT INTO job_runs (job_id, job_name, lane, try, status, args, started_at, duration_ms, error_code,
                          error_message, traceback, result, draft_id, publication_id, niche_id, analysis_id)
    SELECT j, n, l, t, s, a, st, d, ec, em, tb, r, dr, pu, ni, an
    FROM jsonb_to_recordset($1::jsonb) AS u(j text, n text, l text, t int4, s text, a jsonb, st timestamptz,
                                            d float8, ec text, em text, tb text, r jsonb, dr uuid, pu uuid, ni uuid,
                                            an uuid)
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
    traceback: str | None = None  # of an unexpected error only


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


def _json(value: Any, limit: int) -> orjson.Fragment:
    text = orjson.dumps(value, default=str)
    if len(text) > limit:
        text = orjson.dumps({"truncated": True, "preview": text[:limit].decode(errors="ignore")})
    return orjson.Fragment(text)


def _storable(run: JobRun) -> JobRun:
    """The run with text PostgreSQL and JSON can carry: no NUL character (text and jsonb hold none), no lone
    surrogate (a text decoded with surrogateescape; replaced by '?')."""

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
        if isinstance(value, dict):
            return {clean(k): clean(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        return value

    return replace(
        run,
        job_id=clean(run.job_id),
        job_name=clean(run.job_name),
        lane=clean(run.lane),
        args=clean(run.args),
        error_code=clean(run.error_code),
        error_message=clean(run.error_message),
        traceback=clean(run.traceback),
        result=clean(run.result),
    )


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
        self._waiting: deque[JobRun] = deque()
        self._closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failing = False
        self.dropped = 0

    def record(self, run: JobRun) -> None:
        """Queue a run (never blocks, never raises); it is written with the next batch."""
        if not self.enabled:
            return
        self._waiting.append(run)
        if len(self._waiting) > MAX_WAITING:
            self._waiting.popleft()
            self.dropped += 1
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="adolf-job-history")

    def _row(self, run: JobRun) -> dict[str, Any]:
        args = masked(run.args, self.mask)
        result = masked(run.result, self.mask) if run.result is not None else None
        message = self.mask(run.error_message)[:MESSAGE_CHARS] if run.error_message else None
        return {
            "j": run.job_id,
            "n": run.job_name,
            "l": run.lane,
            "t": run.try_,
            "s": run.status,
            "a": _json(args, RESULT_BYTES),
            "st": run.started_at,
            "d": run.duration_ms,
            "ec": run.error_code,
            "em": message,
            "tb": self.mask(run.traceback)[-TRACEBACK_CHARS:] if run.traceback else None,
            "r": None if result is None else _json(result, RESULT_BYTES),
            **{column: _entity(key, run.args, run.result) for key, column in ENTITIES.items()},
        }

    def _batch(self, runs: list[JobRun]) -> orjson.Fragment:
        try:
            blob: bytes | None = orjson.dumps(self._rows(runs, careful=False), default=str)
        except TypeError:  # a text JSON cannot carry (a lone surrogate)
            blob = None
        if blob is None or b"\\u0000" in blob:  # untrusted payloads: repaired, never a batch stuck for good
            blob = orjson.dumps(self._rows([_storable(run) for run in runs], careful=True), default=str)
        return orjson.Fragment(blob)

    def _rows(self, runs: list[JobRun], *, careful: bool) -> list[dict[str, Any]]:
        """Not careful: text JSON cannot carry raises TypeError. Careful: a row that does not serialize is dropped."""
        rows = []
        for run in runs:
            try:
                row = self._row(run)
                if careful:
                    orjson.dumps(row, default=str)
            except Exception as exc:  # a history row must never stop the others
                if not careful and isinstance(exc, TypeError):
                    raise
                logger.warning("job history: could not record %s: %s", run.job_name, exc)
                self.dropped += 1
                continue
            rows.append(row)
        return rows

    async def _run(self) -> None:
        while not self._closing.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.flush_interval)
            try:
                await self.flush()
            except Exception:  # the flusher must outlive any one batch: its rows stay queued for the next round
                logger.exception("job history: writing a batch failed")

    async def flush(self) -> None:
        """Write what waits, a batch at a time; rows stay queued while PostgreSQL is away. A batch PostgreSQL refuses
        for its content is written row by row, and only the rows it refuses are dropped (and said so)."""
        while self._waiting:
            runs = [self._waiting.popleft() for _ in range(min(BATCH, len(self._waiting)))]
            try:
                await self.db.execute(INSERT, self._batch(runs))
            except asyncio.CancelledError:  # shutdown stopped waiting for PostgreSQL: counted as not written
                self._waiting.extendleft(reversed(runs))
                raise
            except Exception as exc:
                if not is_infra_error(exc) and isinstance(exc, asyncpg.PostgresError):
                    outage = await self._write_one_by_one(runs)
                    if outage is None:
                        continue
                    exc = outage
                else:
                    self._waiting.extendleft(reversed(runs))
                if not self._failing:
                    logger.warning("job history waits for PostgreSQL (%s rows): %s", len(self._waiting), exc)
                self._failing = True
                return
            if self._failing:
                logger.info("job history written again after an outage")
                self._failing = False

    async def _write_one_by_one(self, runs: list[JobRun]) -> Exception | None:
        """The rows PostgreSQL takes; on an outage the rest go back to the queue and the outage is returned."""
        for index, run in enumerate(runs):
            try:
                await self.db.execute(INSERT, self._batch([run]))
            except asyncio.CancelledError:
                self._waiting.extendleft(reversed(runs[index:]))
                raise
            except Exception as exc:
                if is_infra_error(exc) or not isinstance(exc, asyncpg.PostgresError):
                    self._waiting.extendleft(reversed(runs[index:]))
                    return exc
                self.dropped += 1
                logger.warning("job history: PostgreSQL refused the run of %s %s: %s", run.job_name, run.job_id, exc)
        return None

    async def close(self, patience: float = CLOSE_PATIENCE) -> None:
        """Write what waits; a flush in progress finishes first (cancelling it could lose its batch), but a
        PostgreSQL that does not answer holds shutdown up for `patience` seconds at most."""
        self._closing.set()
        try:
            async with asyncio.timeout(patience):
                if self._task is not None:
                    with contextlib.suppress(Exception):
                        await self._task
                await self.flush()
        except TimeoutError:
            logger.warning("job history: PostgreSQL did not answer within %gs at shutdown", patience)
        finally:
            self._task = None
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
