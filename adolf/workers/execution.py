"""The job wrapper: the only place that decides between another try and a final failure.

Every job runs through `execute`: arguments validated by pydantic, the hard time limit, retries with backoff as data
(adolf/workers/retry.py), deferrals that cost no try, a job's own way of ending a final failure (`JobSpec.finalize`:
publish_content's failed publication and its seed result), dead letters for every other final failure, one
structured log line per run. It returns what the engine must record (`Outcome`); it writes nothing to the queue.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pydantic

from adolf.errors import (
    AdolfError,
    Deferred,
    InvalidJobArgs,
    JobAborted,
    JobTimedOut,
    error_code_of,
    is_infra_error,
)
from adolf.job_contracts import called_with, validate_arguments
from adolf.logs import DEAD_LETTER_LINE, folded_into_outcome, log_context
from adolf.models.content import DeadLetter
from adolf.models.jobs import result_failure
from adolf.models.results import shape_problem
from adolf.workers import metrics
from adolf.workers.context import JobContext
from adolf.workers.history import JobRun
from adolf.workers.registry import JobSpec
from adolf.workers.retry import RetryPolicy

logger = logging.getLogger(__name__)

# a finished job's result that is not its model's shape (adolf/models/results.py); the tests fail on this line
RESULT_SHAPE_LINE = "RESULT_SHAPE job %s returned a result of another shape: %s"


@dataclass(frozen=True)
class Done:
    """The run ended with this result (a job's own ending of its failure included)."""

    result: Any
    failed: bool = False


@dataclass(frozen=True)
class Failed:
    """A final failure, already dead-lettered."""

    error: BaseException


@dataclass(frozen=True)
class Again:
    """Run again in `delay` seconds; `refund`: this run gives its try back (a deferral)."""

    delay: float
    refund: bool = False


Outcome = Done | Failed | Again


async def execute(spec: JobSpec, job: JobContext, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Outcome:
    """Run the job once. A cancellation (shutdown hand-back, lost lease) propagates after its log line; one the
    engine made for an operator's abort ends the job as a final failure (ABORTED)."""
    with log_context(job_id=job.job_id, job_name=spec.name, tries=job.job_try):
        started = time.monotonic()
        arguments: pydantic.BaseModel | None = None
        job.arguments.update(called_with(spec, args, kwargs))
        try:
            arguments = validate_arguments(spec, args, kwargs)
            result = await _run(spec, job, arguments)
        except Deferred as deferral:
            _log_outcome(job, "deferred", started, retry_in_s=round(deferral.delay, 3), reason=deferral.message)
            return Again(deferral.delay, refund=True)
        except asyncio.CancelledError:
            if not job.abort_requested.is_set():
                _log_outcome(job, "cancelled", started)
                raise
            asyncio.current_task().uncancel()  # type: ignore[union-attr]  # the engine's cancel, taken as an abort
            return await _on_failure(spec, job, arguments, JobAborted("aborted by an operator"), args, kwargs, started)
        except Exception as exc:
            return await _on_failure(spec, job, arguments, exc, args, kwargs, started)
        check_shape(job.job_name, result)
        failure = result_failure(result)
        if failure is not None:  # a finished job that says it failed (a failed publication, a missing draft)
            _log_outcome(job, "failed", started, result=result, error_code=failure[0], error=failure[1])
        else:
            _log_outcome(job, "success", started, result=result)
        return Done(result)


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


async def _on_failure(
    spec: JobSpec,
    job: JobContext,
    arguments: pydantic.BaseModel | None,
    exc: Exception,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    started: float,
) -> Outcome:
    """Another try; or the job's own ending of the failure; or a dead letter."""
    if is_infra_error(exc):
        await job.resources.infra_alert(exc, job_name=job.job_name)
    policy = RetryPolicy(job.resources.settings.retry_delays)
    delay = policy.next_try_in(
        exc, job_try=job.job_try, max_tries=job.max_tries, retry_unexpected=spec.retry_unexpected
    )
    if delay is not None:
        _log_outcome(job, "retry", started, error=exc, retry_in_s=round(delay, 3))
        return Again(delay)
    result = await _finalize(spec, job, arguments, exc)
    if result is not None:
        check_shape(job.job_name, result)
        _log_outcome(job, "failed", started, error=exc, result=result)
        return Done(result, failed=True)
    outcome = "invalid_args" if isinstance(exc, InvalidJobArgs) else "failed"
    with folded_into_outcome(DEAD_LETTER_LINE) as stored:  # the dead letter's id joins the run's one line
        await job.resources.dead_letters.record(letter_of(job, exc, args, kwargs))
    _log_outcome(job, outcome, started, error=exc, **_letter_fields(stored))
    return Failed(exc)


def check_shape(job_name: str, result: Any) -> None:
    """One RESULT_SHAPE error line when a finished job's result is not its model's JSON form; the job's outcome is
    what the result says all the same (a wrong shape is a bug to fix, not a failed run)."""
    problem = shape_problem(job_name, result)
    if problem is not None:
        logger.error(RESULT_SHAPE_LINE, job_name, problem, extra={"result_shape": problem})


def _letter_fields(stored: dict[str, Any]) -> dict[str, Any]:
    return {"failed_job_id": stored["failed_job_id"]} if "failed_job_id" in stored else {}


async def _finalize(spec: JobSpec, job: JobContext, arguments: pydantic.BaseModel | None, exc: BaseException) -> Any:
    if spec.finalize is None or arguments is None or not isinstance(exc, Exception):
        return None
    try:
        return await spec.finalize(job, arguments, exc)
    except Exception as finalize_error:
        logger.warning("job %s could not record its final failure: %s", job.job_name, finalize_error)
        return None


def letter_of(job: JobContext, exc: BaseException, args: tuple[Any, ...], kwargs: dict[str, Any]) -> DeadLetter:
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


HISTORY_STATUS = {"invalid_args": "failed"}


def _log_outcome(
    job: JobContext,
    outcome: str,
    started: float,
    *,
    error: BaseException | str | None = None,
    error_code: str | None = None,
    result: Any = None,
    **extra: Any,
) -> None:
    """The run's one log line, its metrics and its history row."""
    duration = time.monotonic() - started
    metrics.observe_job(job.job_name, job.lane, outcome, duration)
    fields: dict[str, Any] = {"outcome": outcome, "duration_ms": round(duration * 1000, 1), **extra}
    message = None
    if isinstance(error, BaseException):
        # an AdolfError's own text starts with its code, which the line and the row carry apart
        text = error.message if isinstance(error, AdolfError) and isinstance(error.message, str) else str(error)
        message = f"{type(error).__name__}: {text}"
        error_code = error_code_of(error)
    elif error is not None:
        message = error
    if message is not None:
        fields["error"] = message
        fields["error_code"] = error_code
    level = logging.WARNING if outcome in {"failed", "invalid_args"} else logging.INFO
    logger.log(level, "job %s %s", job.job_name, outcome, extra=fields)
    history = getattr(job.resources, "history", None)
    if history is not None:
        history.record(
            JobRun(
                job_id=job.job_id,
                job_name=job.job_name,
                lane=job.lane,
                try_=job.job_try,
                status=HISTORY_STATUS.get(outcome, outcome),
                args=job.arguments,
                started_at=datetime.now(UTC) - timedelta(seconds=duration),
                duration_ms=round(duration * 1000, 3),
                error_code=error_code,
                error_message=message,
                result=result,
                traceback=_unexpected_traceback(error),
            )
        )


def _unexpected_traceback(error: BaseException | str | None) -> str | None:
    """The traceback of a bug (not of an AdolfError: a marketplace's answer, an outage, bad arguments, a limit)."""
    if not isinstance(error, BaseException) or isinstance(error, AdolfError) or is_infra_error(error):
        return None
    return "".join(traceback.format_exception(error))
