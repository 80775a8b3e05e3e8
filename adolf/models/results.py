"""What every job returns: one pydantic model per job, so a job's result has one shape whatever happened.

Every result carries `success`, `error_code` and `error_message`: a success has neither code nor message; a failure
has both (a machine code such as DRAFT_NOT_FOUND, AUTH_ERROR or NOT_FOUND, and a human text). A job's own fields
follow, None where that run did not get to them. Handlers build their model and return `.wire()` (its JSON form, a
plain dict: results travel as JSON through Redis). `RESULT_MODELS` names each job's model by its dotted name; the job
wrapper checks every finished job's result against it (`shape_problem`).
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from adolf.models.content import Marketplace
from adolf.models.scout import (
    Backtest,
    Competition,
    Demand,
    Economics,
    Forecast,
    HistoryPoint,
    Opportunity,
    OpportunityScore,
    ReportFormat,
    ScoreComponent,
)


class JobResult(BaseModel):
    """The fields every job's result has."""

    model_config = ConfigDict(extra="forbid")

    success: bool
    error_code: str | None = None
    error_message: str | None = None

    @model_validator(mode="after")
    def _failure_says_why(self) -> Self:
        if self.success and (self.error_code is not None or self.error_message is not None):
            raise ValueError("a successful result has no error_code or error_message")
        if not self.success and (not self.error_code or self.error_message is None):
            raise ValueError("a failed result has an error_code and an error_message")
        return self

    @classmethod
    def failure(cls, code: str, message: str | None, **fields: Any) -> Self:
        """A failed result: `code` for machines, `message` for people (the code when there is no text)."""
        return cls(success=False, error_code=code, error_message=message or code, **fields)

    def wire(self) -> dict[str, Any]:
        """The result as it travels: plain JSON values, every field present."""
        return self.model_dump(mode="json")


# ---------------------------------------------------------------- every lane


class PingResult(JobResult):
    """adolf.ping."""

    pong: Any = None
    lane: str
    host: str
    pid: int


class CleanupHistoryResult(JobResult):
    """adolf.tasks.cleanup_job_history."""

    deleted: int
    keep_days: int


# ---------------------------------------------------------------- Content Factory


class PublishContentResult(JobResult):
    """content_factory.tasks.publish_content. Failures: DRAFT_NOT_FOUND, DRAFT_NOT_VALID, CONFLICT, the
    marketplace's code of the last try (`retries_exhausted` when it was a recoverable one), UNEXPECTED_ERROR."""

    publication_id: UUID | None = None
    nm_id: str | None = None  # the marketplace's id of the card (WB nmID, Ozon product_id, YM offer)
    already_published: bool = False  # an earlier run had published it; this one changed nothing
    retries_exhausted: bool = False


class RetryPublicationResult(JobResult):
    """content_factory.tasks.retry_publication. Failures: PUBLICATION_NOT_FOUND, PUBLICATION_NOT_FAILED,
    PUBLICATION_IN_PROGRESS (with the publication in flight when known)."""

    publication_id: UUID | None = None
    job_id: str | None = None  # the publish job enqueued
    message: str | None = None


class SyncPublicationStatusResult(JobResult):
    """content_factory.tasks.sync_publication_status: publications read back, by what was found."""

    checked: int
    verified: int
    mismatched: int
    pending: int
    errors: int
    rejected: int


class CleanupDraftsResult(JobResult):
    """content_factory.tasks.cleanup_old_drafts."""

    archived_drafts: int
    deleted_drafts: int
    deleted_generations: int


class OfficeHeartbeatResult(JobResult):
    """content_factory.tasks.office_heartbeat and scout.tasks.office_heartbeat."""

    agents: int


class ReconcilePublicationsResult(JobResult):
    """content_factory.tasks.reconcile_publications: stale publications, published again, failed."""

    checked: int
    requeued: int
    failed: int


class HandleFailedTaskResult(JobResult):
    """content_factory.tasks.handle_failed_task: the failed_jobs row (None when that run was stored already)."""

    stored: bool
    failed_job_id: int | None = None


# ---------------------------------------------------------------- Scout


class UpdateTrendDataResult(JobResult):
    """scout.tasks.update_trend_data: niches read, updated, skipped (CSV only) and failed (`failures`: why)."""

    niches: int
    updated: int
    weeks_changed: int
    skipped: int
    errors: int
    failures: list[str]


class AnalyzeNicheResult(JobResult):
    """scout.tasks.analyze_niche: the analysis document (adolf.models.scout.AnalysisResult's fields) beside the
    analysis id; a failed analysis has only the ids."""

    analysis_id: UUID
    niche_id: UUID
    niche_name: str | None = None
    marketplace: Marketplace | None = None
    weeks: int | None = None
    first_week: date | None = None
    last_week: date | None = None
    warnings: list[str] | None = None
    history: list[HistoryPoint] | None = None
    demand: Demand | None = None
    forecast: Forecast | None = None
    backtest: Backtest | None = None
    competition: Competition | None = None
    economics: Economics | None = None
    score: OpportunityScore | None = None
    opportunities: list[Opportunity] | None = None


class OpportunityScoreResult(JobResult):
    """scout.tasks.calculate_opportunity_score. Failures: NOT_FOUND, INSUFFICIENT_DATA."""

    niche_id: UUID
    opportunity_score: float | None = None
    components: list[ScoreComponent] | None = None
    opportunities: int | None = None  # how many were found


class ExportReportResult(JobResult):
    """scout.tasks.export_report: where the file is. Failures: NOT_FOUND, NOT_READY."""

    analysis_id: UUID
    format: ReportFormat
    report_id: UUID | None = None
    path: str | None = None
    size_bytes: int | None = None


class CleanupAnalysesResult(JobResult):
    """scout.tasks.cleanup_old_analyses."""

    analyses_deleted: int
    files_deleted: int
    files_missing: int


RESULT_MODELS: dict[str, type[JobResult]] = {
    "adolf.ping": PingResult,
    "adolf.tasks.cleanup_job_history": CleanupHistoryResult,
    "content_factory.tasks.publish_content": PublishContentResult,
    "content_factory.tasks.retry_publication": RetryPublicationResult,
    "content_factory.tasks.sync_publication_status": SyncPublicationStatusResult,
    "content_factory.tasks.cleanup_old_drafts": CleanupDraftsResult,
    "content_factory.tasks.office_heartbeat": OfficeHeartbeatResult,
    "content_factory.tasks.reconcile_publications": ReconcilePublicationsResult,
    "content_factory.tasks.handle_failed_task": HandleFailedTaskResult,
    "scout.tasks.update_trend_data": UpdateTrendDataResult,
    "scout.tasks.analyze_niche": AnalyzeNicheResult,
    "scout.tasks.calculate_opportunity_score": OpportunityScoreResult,
    "scout.tasks.export_report": ExportReportResult,
    "scout.tasks.cleanup_old_analyses": CleanupAnalysesResult,
    "scout.tasks.office_heartbeat": OfficeHeartbeatResult,
}


def shape_problem(job_name: str, result: Any) -> str | None:
    """Why `result` is not exactly the JSON form of its job's model (a missing or unknown key, a wrong value, a value
    that is not plain JSON); None when it is, or when the job has no model."""
    model = RESULT_MODELS.get(job_name)
    if model is None:
        return None
    if not isinstance(result, dict):
        return f"a {type(result).__name__}, not a {model.__name__} dict"
    try:
        wire = model.model_validate(result).wire()
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(result)'}: {e['msg']}" for e in exc.errors())
        return f"not a {model.__name__}: {problems}"
    missing = [key for key in wire if key not in result]
    if missing:
        return f"not a {model.__name__}: missing {', '.join(missing)}"
    differ = [key for key in wire if not _same(wire[key], result[key])]
    if differ:
        return f"not a {model.__name__}'s JSON form: {', '.join(differ)} (give .wire())"
    return None


def _same(a: Any, b: Any) -> bool:
    """Equal JSON values, of the same type (True is not 1, a UUID is not its text), NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)
