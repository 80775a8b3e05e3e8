"""The job wrapper: the one place arq meets our jobs, and the only place that decides between another try and a
final failure.

Every job runs through `execute`: arguments validated by pydantic, a lease on the job renewed while it runs, the hard
time limit, retries with backoff as data (adolf/workers/retry.py), deferrals that cost no try, a job's own way of
ending a final failure (`JobSpec.finalize`: publish_content's failed publication and its seed result), dead letters
for every other final failure, one structured log line per run.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pydantic
from arq.cron import CronJob, cron
from arq.worker import Function, Retry, func

from adolf.errors import Deferred, InvalidJobArgs, JobTimedOut, error_code_of, is_infra_error
from adolf.logs import log_context
from adolf.models.content import DeadLetter
from adolf.settings import Settings
from adolf.workers import metrics
from adolf.workers.arq_keys import refund_try
from adolf.workers.context import JobContext
from adolf.workers.failures import mark_dead_lettered
from adolf.workers.registry import CronSpec, JobSpec
from adolf.workers.retry import RetryPolicy

logger = logging.getLogger(__name__)

# arq's own timeout is a backstop behind ours, so our handler sees its hard limit first and records it
ARQ_TIMEOUT_MARGIN = 5.0
CRON_FIRED_KEY = "adolf:cron:fired:"


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
        if not await _claim_cron_fire(ctx, settings):
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
    """One run per schedule slot across every process: the slot is claimed in Redis by the run that fires it (named
    by its enqueue time), so that run's own retries and deferrals go on while any other copy of the slot skips."""
    key, run = CRON_FIRED_KEY + ctx["job_id"], str(int(ctx["enqueue_time"].timestamp() * 1000)).encode()
    redis = ctx["redis"]
    if await redis.set(key, run, nx=True, ex=2 * 86_400):
        return True
    return await redis.get(key) == run


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
        lease = job.resources.leases.hold(job.job_id, job.job_try)
        arguments: pydantic.BaseModel | None = None
        try:
            arguments = validate_arguments(spec, args, kwargs)
            result = await _run(spec, job, arguments)
        except Deferred as deferral:
            await _defer(job, deferral, started)
        except BaseException as exc:
            return await _on_failure(spec, job, arguments, exc, args, kwargs, started)
        finally:
            job.resources.leases.release(lease)
        _log_outcome(job, "success", started)
        return result


async def _run(spec: JobSpec, job: JobContext, arguments: pydantic.BaseModel) -> Any:
    limit = spec.hard_timeout(job.resources.settings)
    deadline = asyncio.timeout(limit)
    try:
        async with deadline:
            return await spec.handler(job, arguments)
    except TimeoutError:
        if not deadline.expired():
            raise
        raise JobTimedOut(f"hard time limit of {limit:.0f}s reached") from None


async def _defer(job: JobContext, deferral: Deferred, started: float) -> None:
    """Run again after `deferral.delay`; this run gives its try back (if Redis lets it: else it costs one)."""
    try:
        await refund_try(job.resources.redis, job.job_id)
    except Exception as refund_error:
        logger.warning("could not give back the try of deferred job %s: %s", job.job_id, refund_error)
    _log_outcome(job, "deferred", started, retry_in_s=round(deferral.delay, 3), reason=deferral.message)
    raise Retry(defer=deferral.delay) from deferral


async def _on_failure(
    spec: JobSpec,
    job: JobContext,
    arguments: pydantic.BaseModel | None,
    exc: BaseException,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    started: float,
) -> Any:
    """Raise arq's Retry for another try; return the job's result when its finalizer ends the failure; otherwise
    store the dead letter and let `exc` propagate."""
    if isinstance(exc, Retry):
        _log_outcome(job, "retry", started)
        raise exc
    if isinstance(exc, asyncio.CancelledError):
        # a worker shutting down hands the job back: that run was cut short, not failed, so it costs no try
        _log_outcome(job, "cancelled", started)
        try:
            await refund_try(job.resources.redis, job.job_id)
        except Exception as refund_error:
            logger.warning("could not give back the try of job %s: %s", job.job_id, refund_error)
        raise exc
    if is_infra_error(exc):
        await job.resources.infra_alert(exc, job_name=job.job_name)
    policy = RetryPolicy(job.resources.settings.retry_delays)
    delay = policy.next_try_in(
        exc, job_try=job.job_try, max_tries=job.max_tries, retry_unexpected=spec.retry_unexpected
    )
    if delay is not None:
        _log_outcome(job, "retry", started, error=exc, retry_in_s=round(delay, 3))
        raise Retry(defer=delay) from exc
    result = await _finalize(spec, job, arguments, exc)
    if result is not None:
        _log_outcome(job, "failed", started, error=exc)
        return result
    outcome = "invalid_args" if isinstance(exc, InvalidJobArgs) else "failed"
    _log_outcome(job, outcome, started, error=exc)
    await job.resources.dead_letters.record(_letter(job, exc, args, kwargs))
    mark_dead_lettered(exc)
    raise exc


async def _finalize(spec: JobSpec, job: JobContext, arguments: pydantic.BaseModel | None, exc: BaseException) -> Any:
    if spec.finalize is None or arguments is None or not isinstance(exc, Exception):
        return None
    try:
        return await spec.finalize(job, arguments, exc)
    except Exception as finalize_error:
        logger.warning("job %s could not record its final failure: %s", job.job_name, finalize_error)
        return None


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
