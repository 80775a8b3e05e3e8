"""What a caller needs to know of every job: its name, lane, argument model and what makes its id unique.

The worker binds each contract to its handler and run options (adolf/workers/catalog.py); callers such as
`adolf.client` and the API import only this, so they load no worker, service or adapter code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import pydantic
from pydantic import BaseModel

from adolf.errors import InvalidJobArgs
from adolf.lanes import LANES
from adolf.models import jobs as a

PING = "adolf.ping"


class UnknownJob(KeyError):
    """No job of that name is registered."""


@dataclass(frozen=True)
class JobContract:
    name: str
    lane: str
    args: type[BaseModel]
    unique_by: str | None = None  # argument whose value makes the job id (one job per value at a time)

    def __post_init__(self) -> None:
        if self.lane not in LANES:
            raise ValueError(f"job {self.name}: unknown lane {self.lane!r}")
        if self.unique_by is not None and self.unique_by not in self.args.model_fields:
            raise ValueError(f"job {self.name}: unique_by {self.unique_by!r} is not an argument")

    def job_id_for(self, arguments: BaseModel) -> str | None:
        if self.unique_by is None:
            return None
        return f"{self.name}:{getattr(arguments, self.unique_by)}"


class NamedJob(Protocol):
    """A job as callers see it: a JobContract, or the worker's JobSpec bound from one."""

    @property
    def name(self) -> str: ...
    @property
    def lane(self) -> str: ...
    @property
    def args(self) -> type[BaseModel]: ...
    def job_id_for(self, arguments: BaseModel) -> str | None: ...


class JobCatalog(Protocol):
    """Anything that names jobs: these contracts, or the worker's registry of bound jobs."""

    def job(self, name: str) -> NamedJob: ...


class Contracts:
    def __init__(self, contracts: Iterable[JobContract]) -> None:
        self.jobs: dict[str, JobContract] = {}
        for contract in contracts:
            if contract.name in self.jobs:
                raise ValueError(f"job {contract.name} declared twice")
            self.jobs[contract.name] = contract

    def job(self, name: str) -> JobContract:
        try:
            return self.jobs[name]
        except KeyError:
            raise UnknownJob(f"no job named {name!r}; known jobs: {sorted(self.jobs)}") from None


def called_with(job: NamedJob, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The arguments of a call by name (positional ones mapped onto the model's fields in order)."""
    fields = list(job.args.model_fields)
    named = dict(zip(fields, args, strict=False))
    extra = {"args": list(args[len(fields) :])} if len(args) > len(fields) else {}
    return {**named, **kwargs, **extra}


def validate_arguments(job: NamedJob, args: tuple[Any, ...], kwargs: dict[str, Any]) -> BaseModel:
    """The job's argument model for a call, or InvalidJobArgs naming every problem."""
    fields = list(job.args.model_fields)
    if len(args) > len(fields):
        raise InvalidJobArgs(f"{job.name} takes at most {len(fields)} arguments, got {len(args)} positional")
    try:
        return job.args.model_validate(called_with(job, args, kwargs))
    except pydantic.ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(job)'}: {e['msg']}" for e in exc.errors())
        raise InvalidJobArgs(f"invalid arguments for {job.name}: {problems}") from None


def ping_contract(lane: str) -> JobContract:
    """The no-op every lane runs (`adolf.ping`), addressed to one lane."""
    return JobContract(PING, lane, a.PingArgs)


# Content Factory (seed 000 §7)
PUBLISH_CONTENT = JobContract(
    "content_factory.tasks.publish_content", "content_high", a.PublishContentArgs, unique_by="draft_id"
)
RETRY_PUBLICATION = JobContract("content_factory.tasks.retry_publication", "content_high", a.RetryPublicationArgs)
SYNC_PUBLICATION_STATUS = JobContract("content_factory.tasks.sync_publication_status", "content_default", a.NoArgs)
CLEANUP_OLD_DRAFTS = JobContract("content_factory.tasks.cleanup_old_drafts", "content_low", a.CleanupDraftsArgs)
CONTENT_OFFICE_HEARTBEAT = JobContract("content_factory.tasks.office_heartbeat", "content_low", a.NoArgs)
RECONCILE_PUBLICATIONS = JobContract("content_factory.tasks.reconcile_publications", "content_low", a.NoArgs)
HANDLE_FAILED_TASK = JobContract("content_factory.tasks.handle_failed_task", "content_low", a.DeadLetterArgs)
CLEANUP_JOB_HISTORY = JobContract("adolf.tasks.cleanup_job_history", "content_low", a.CleanupHistoryArgs)
# Scout (seed 002 §7)
UPDATE_TREND_DATA = JobContract("scout.tasks.update_trend_data", "scout_default", a.NoArgs)
ANALYZE_NICHE = JobContract("scout.tasks.analyze_niche", "scout_heavy", a.AnalyzeNicheArgs)
CALCULATE_OPPORTUNITY_SCORE = JobContract("scout.tasks.calculate_opportunity_score", "scout_default", a.NicheArgs)
EXPORT_REPORT = JobContract("scout.tasks.export_report", "scout_export", a.ExportReportArgs)
CLEANUP_OLD_ANALYSES = JobContract("scout.tasks.cleanup_old_analyses", "scout_default", a.CleanupAnalysesArgs)
SCOUT_OFFICE_HEARTBEAT = JobContract("scout.tasks.office_heartbeat", "scout_default", a.NoArgs)

CONTRACTS = Contracts(
    [
        PUBLISH_CONTENT,
        RETRY_PUBLICATION,
        SYNC_PUBLICATION_STATUS,
        CLEANUP_OLD_DRAFTS,
        CONTENT_OFFICE_HEARTBEAT,
        RECONCILE_PUBLICATIONS,
        HANDLE_FAILED_TASK,
        CLEANUP_JOB_HISTORY,
        UPDATE_TREND_DATA,
        ANALYZE_NICHE,
        CALCULATE_OPPORTUNITY_SCORE,
        EXPORT_REPORT,
        CLEANUP_OLD_ANALYSES,
        SCOUT_OFFICE_HEARTBEAT,
    ]
)
