"""The job wrapper: the one place arq meets our jobs.

Every job runs through `execute`: arguments validated by pydantic, a lease on the job renewed while it runs, the hard
time limit, retries with backoff as data, dead letters on every final failure, one structured log line per run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import pydantic
from arq.constants import retry_key_prefix
from arq.cron import CronJob, cron
from arq.worker import Function, Retry, func

from adolf.errors import InvalidJobArgs, RetryLater, error_code_of, is_infra_error
from adolf.logs import log_context
from adolf.models.content import DeadLetter
from adolf.settings import Settings
from adolf.workers import metrics
from adolf.workers.context import JobContext
from adolf.workers.failures import mark_dead_lettered
from adolf.workers.registry import CronSpec, JobSpec

logger = logging.getLogger(__name__)

# arq's own timeout is a backstop behind ours, so our handler sees its hard limit first and records it
ARQ_TIMEOUT_MARGIN = 5.0
CRON_FIRED_KEY = "adolf:cron:fired:"


class JobTimedOut(Exception):
    """The job ran past its hard time limit."""

    code = "TIMEOUT"


def to_arq_function(spec: JobSpec, settings: Settings) -> Function:
    async def run(ctx: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        return await execute(spec, ctx, args, kwargs)

    run.__qualname__ = spec.name
    return func(
        run,
        name=spec.name,
        timeout=spec.hard_timeout(settings) + ARQ_TIMEOUT_MARGIN,
        max_tries=spec.max_tries,
        keep_result=settings.keep_result_seconds,
    )


def to_arq_cron(schedule: CronSpec, spec: JobSpec, settings: Settings) -> CronJob:
    async def run(ctx: dict[str, Any], **kwargs: Any) -> Any:
        if ctx["job_try"] == 1 and not await _claim_cron_fire(ctx, settings):
            logger.info("cron %s already fired by another worker, skipped", ctx["job_id"])
            return {"skipped": "duplicate"}
        return await execute(spec, ctx, (), {**schedule.kwargs, **kwargs}, max_tries=schedule.max_tries)

    run.__qualname__ = schedule.name
    return cron(
        run,
        name=schedule.name,
        hour=schedule.hour,
        minute=schedule.minute,
        second=schedule.second,
        timeout=spec.hard_timeout(settings) + ARQ_TIMEOUT_MARGIN,
        max_tries=schedule.max_tries,
        keep_result=settings.keep_result_seconds,
    )


async def _claim_cron_fire(ctx: dict[str, Any], settings: Settings) -> bool:
    """One run per schedule slot across every process: the first try of a slot claims it in Redis."""
    return bool(await ctx["redis"].set(CRON_FIRED_KEY + ctx["job_id"], b"1", nx=True, ex=2 * 86_400))


def validate_arguments(spec: JobSpec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> pydantic.BaseModel:
    fields = list(spec.args.model_fields)
    if len(args) > len(fields):
        raise InvalidJobArgs(f"{spec.name} takes at most {len(fields)} arguments, got {len(args)} positional")
    data = {**dict(zip(fields, args, strict=False)), **kwargs}
    try:
        return spec.args.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(job)'}: {e['msg']}" for e in exc.errors())
        raise InvalidJobArgs(f"invalid arguments for {spec.name}: {problems}") from None


async def execute(
    spec: JobSpec, ctx: dict[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any], *, max_tries: int | None = None
) -> Any:
    job = JobContext.from_arq(ctx, spec, max_tries=max_tries)
    with log_context(job_id=job.job_id, job_name=spec.name, tries=job.job_try):
        started = time.monotonic()
        lease = asyncio.create_task(job.resources.leases.hold(job.job_id, job.job_try))
        try:
            arguments = validate_arguments(spec, args, kwargs)
            deadline = asyncio.timeout(spec.hard_timeout(job.resources.settings))
            try:
                async with deadline:
                    result = await spec.handler(job, arguments)
            except TimeoutError:
                if not deadline.expired():
                    raise
                limit = spec.hard_timeout(job.resources.settings)
                raise JobTimedOut(f"hard time limit of {limit:.0f}s reached") from None
        except BaseException as exc:
            await _on_failure(spec, job, exc, args, kwargs, started)
            raise
        finally:
            lease.cancel()
        _log_outcome(job, "success", started)
        return result


async def _on_failure(
    spec: JobSpec, job: JobContext, exc: BaseException, args: tuple[Any, ...], kwargs: dict[str, Any], started: float
) -> None:
    """Decide retry or final failure. Returns to let `exc` propagate, or raises arq's Retry."""
    if isinstance(exc, Retry):
        _log_outcome(job, "retry", started)
        return
    if isinstance(exc, asyncio.CancelledError):
        # a worker shutting down hands the job back: that run was cut short, not failed, so it costs no try
        _log_outcome(job, "cancelled", started)
        with contextlib.suppress(Exception):
            await job.resources.redis.decr(retry_key_prefix + job.job_id)
        return
    infra = is_infra_error(exc)
    if infra:
        await job.resources.infra_alert(exc, job_name=job.job_name)
    unexpected = spec.retry_unexpected and not isinstance(exc, InvalidJobArgs | JobTimedOut)
    retryable = isinstance(exc, RetryLater) or infra or unexpected
    if retryable and not job.is_last_try:
        delay = job.retry_delay(getattr(exc, "retry_after", None))
        _log_outcome(job, "retry", started, error=exc, retry_in_s=round(delay, 3))
        raise Retry(defer=delay) from exc
    outcome = "invalid_args" if isinstance(exc, InvalidJobArgs) else "failed"
    _log_outcome(job, outcome, started, error=exc)
    await job.resources.dead_letters.record(_letter(job, exc, args, kwargs))
    mark_dead_lettered(exc)


def _letter(job: JobContext, exc: BaseException, args: tuple[Any, ...], kwargs: dict[str, Any]) -> DeadLetter:
    return DeadLetter(
        job_id=job.job_id,
        job_name=job.job_name,
        queue=job.lane,
        args=list(args),
        kwargs=dict(kwargs),
        exception=f"{type(exc).__name__}: {exc}",
        error_code=error_code_of(exc),
        tries=job.job_try,
        enqueued_at=job.enqueue_time,
    )


def _log_outcome(job: JobContext, outcome: str, started: float, *, error: BaseException | None = None, **extra: Any):
    duration = time.monotonic() - started
    metrics.observe_job(job.job_name, job.lane, outcome, duration)
    fields: dict[str, Any] = {"outcome": outcome, "duration_ms": round(duration * 1000, 1), **extra}
    if error is not None:
        fields["error"] = f"{type(error).__name__}: {error}"
        fields["error_code"] = error_code_of(error)
    level = logging.WARNING if outcome in {"failed", "invalid_args"} else logging.INFO
    logger.log(level, "job %s %s", job.job_name, outcome, extra=fields)
