"""Typed enqueue API for other async services.

    async with await AdolfClient.connect(settings) as adolf:
        job = await adolf.publish_content(draft_id=draft.id, user_id=user.id)
        print(await job.status(), await job.result(timeout=130))

Arguments are validated with the job's pydantic model before anything reaches Redis (InvalidJobArgs otherwise).
Each method returns the arq `Job`, so callers can await its result or poll its status; results are kept 24 h.
Plain arq works too: `await redis.enqueue_job("content_factory.tasks.publish_content", draft_id=..., user_id=...,
_queue_name="adolf:queue:content_high")` (use `queue_for(name)` for the queue).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Self
from uuid import UUID

import pydantic

from adolf import queueing
from adolf.errors import InvalidJobArgs
from adolf.job_contracts import CONTRACTS, JobCatalog, NamedJob, ping_contract
from adolf.lanes import LANES
from adolf.models.jobs import result_failure
from adolf.queueing import ArqRedis, Job, JobStatus
from adolf.serialization import JobFailed
from adolf.settings import Settings

logger = logging.getLogger(__name__)


def queue_for(job_name: str, registry: JobCatalog = CONTRACTS) -> str:
    """The arq queue a job must be enqueued on."""
    return LANES[registry.job(job_name).lane].queue


class AdolfClient:
    def __init__(self, redis: ArqRedis, *, registry: JobCatalog = CONTRACTS, owns_redis: bool = False) -> None:
        self.redis = redis
        self.registry = registry
        self._owns_redis = owns_redis

    @classmethod
    async def connect(cls, settings: Settings | None = None, *, registry: JobCatalog = CONTRACTS) -> AdolfClient:
        redis = await queueing.connect(settings or Settings())
        return cls(redis, registry=registry, owns_redis=True)

    async def close(self) -> None:
        if self._owns_redis:
            await self.redis.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # --- one method per on-request job

    async def publish_content(self, *, draft_id: UUID | str, user_id: UUID | str) -> Job:
        """Publish a draft to its marketplace (one publish job per draft at a time)."""
        return await self.enqueue("content_factory.tasks.publish_content", draft_id=draft_id, user_id=user_id)

    async def retry_publication(self, *, publication_id: UUID | str, user_id: UUID | str) -> Job:
        return await self.enqueue(
            "content_factory.tasks.retry_publication", publication_id=publication_id, user_id=user_id
        )

    async def cleanup_old_drafts(self, *, archive_days: int = 30, delete_days: int = 90) -> Job:
        return await self.enqueue(
            "content_factory.tasks.cleanup_old_drafts", archive_days=archive_days, delete_days=delete_days
        )

    async def sync_publication_status(self) -> Job:
        return await self.enqueue("content_factory.tasks.sync_publication_status")

    async def update_trend_data(self) -> Job:
        return await self.enqueue("scout.tasks.update_trend_data")

    async def analyze_niche(
        self,
        *,
        niche_id: UUID | str,
        params: dict[str, Any] | None = None,
        analysis_id: UUID | str | None = None,
        requested_by: UUID | str | None = None,
    ) -> Job:
        """Deep analysis of a niche (forecast, backtest, competition, margin, opportunity score)."""
        return await self.enqueue(
            "scout.tasks.analyze_niche",
            niche_id=niche_id,
            params=params or {},
            analysis_id=analysis_id,
            requested_by=requested_by,
        )

    async def calculate_opportunity_score(self, *, niche_id: UUID | str) -> Job:
        return await self.enqueue("scout.tasks.calculate_opportunity_score", niche_id=niche_id)

    async def export_report(self, *, analysis_id: UUID | str, format: str = "html") -> Job:
        """Write an analysis as csv, xlsx, json or html; the job's result says where."""
        return await self.enqueue("scout.tasks.export_report", analysis_id=analysis_id, format=format)

    async def cleanup_old_analyses(self, *, keep_days: int = 90) -> Job:
        return await self.enqueue("scout.tasks.cleanup_old_analyses", keep_days=keep_days)

    async def ping(self, lane: str, payload: Any = None) -> Job:
        """A no-op on one lane: proves that lane's workers pick jobs up."""
        if lane not in LANES:
            raise InvalidJobArgs(f"unknown lane {lane!r}; lanes are {list(LANES)}")
        return await self._enqueue_spec(ping_contract(lane), {"payload": payload})

    # --- generic

    async def enqueue(self, job_name: str, /, *, _defer_by: float | timedelta | None = None, **arguments: Any) -> Job:
        """Validate and enqueue any registered job by its dotted name."""
        return await self._enqueue_spec(self.registry.job(job_name), arguments, defer_by=_defer_by)

    async def _enqueue_spec(
        self, spec: NamedJob, arguments: dict[str, Any], *, defer_by: float | timedelta | None = None
    ) -> Job:
        try:
            validated = spec.args.model_validate(arguments)
        except pydantic.ValidationError as exc:
            raise InvalidJobArgs(f"invalid arguments for {spec.name}: {exc}") from None
        queue = LANES[spec.lane].queue
        kwargs = validated.model_dump(mode="json")
        job_id = spec.job_id_for(validated)
        job = await self._put(spec.name, job_id, queue, kwargs, defer_by)
        if job is None and job_id is not None:
            job = await self._replace_finished(spec.name, job_id, queue, kwargs, defer_by)
        if job is None:
            raise RuntimeError(f"could not enqueue {spec.name}")
        return job

    async def _replace_finished(
        self, name: str, job_id: str, queue: str, kwargs: dict[str, Any], defer_by: float | timedelta | None
    ) -> Job:
        """A unique job id is taken: join the run in flight, or start a new run once the last one has finished.

        arq refuses an id while its result is kept (24 h); a finished run's result gives way to the new run."""
        existing = self.job(job_id, queue)
        if await existing.status() == JobStatus.complete:
            await self.redis.delete(queueing.result_key(job_id))
            job = await self._put(name, job_id, queue, kwargs, defer_by)
            if job is not None:
                return job
        logger.info("job %s is already queued or running; returning it", job_id)
        return existing

    async def _put(
        self, name: str, job_id: str | None, queue: str, kwargs: dict[str, Any], defer_by: float | timedelta | None
    ) -> Job | None:
        seconds = defer_by.total_seconds() if isinstance(defer_by, timedelta) else float(defer_by or 0)
        return await queueing.enqueue(self.redis, name, kwargs, queue=queue, job_id=job_id, defer_by=seconds)

    def job(self, job_id: str, queue: str | None = None) -> Job:
        """A handle on a job by id (pass its queue for accurate `queued`/`deferred` status)."""
        return queueing.job_handle(job_id, self.redis, queue or "")

    async def find(self, job_id: str) -> Job:
        """A handle on a job by id alone: finds which lane's queue holds it."""
        return self.job(job_id, await self._queue_of(job_id))

    async def abort(self, job_id: str) -> bool:
        """Abort a job that is queued, deferred, waiting for its next try or running: it fails for good with code
        ABORTED (a dead letter, retryable), a running one within a third of a lease. False: no such job, or it has
        finished already."""
        queue = await self._queue_of(job_id)
        return queue is not None and await queueing.abort(self.redis, job_id, queue)

    async def _queue_of(self, job_id: str) -> str | None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for lane in LANES.values():
                pipe.zscore(lane.queue, job_id)
            scores = await pipe.execute()
        for lane, score in zip(LANES.values(), scores, strict=True):
            if score is not None:
                return lane.queue
        return None

    async def result(self, job_id: str, *, timeout: float | None = None, poll_delay: float = 0.1) -> Any:
        """Wait for a job's result by id alone; re-raises a failed job's error as JobFailed."""
        return await (await self.find(job_id)).result(timeout=timeout, poll_delay=poll_delay)

    async def status(self, job_id: str) -> JobStatus:
        return await (await self.find(job_id)).status()

    async def job_info(self, job_id: str) -> dict[str, Any]:
        """Status plus, once complete, success and result (for status endpoints)."""
        job = await self.find(job_id)
        status = await job.status()
        info: dict[str, Any] = {"job_id": job_id, "status": status.value}
        result = await job.result_info() if status == JobStatus.complete else None
        if result is not None:
            info.update(
                function=result.function,
                success=result.success,
                result=result.result if result.success else str(result.result),
                finished_at=_iso(result.finish_time),
                tries=result.job_try,
            )
            failure = result_failure(result.result) if result.success else _raised(result.result)
            info["outcome"] = "success" if failure is None else "failed"
            if failure is not None:
                info["error_code"], info["error_message"] = failure
        return info


def _raised(error: Any) -> tuple[str, str]:
    """(code, message) of a job that ended by raising (its result is the JobFailed it raised)."""
    if isinstance(error, JobFailed):
        return error.code or "JOB_FAILED", error.message
    return "JOB_FAILED", str(error)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
