"""Job argument models: validated by the client before anything reaches Redis, and again at job start."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from adolf.models.content import DeadLetter
from adolf.models.scout import AnalysisParams, ReportFormat


class JobArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PingArgs(JobArgs):
    payload: Any = None


class DeadLetterArgs(DeadLetter):
    """content_factory.tasks.handle_failed_task: a finally failed job to store in failed_jobs."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class NoArgs(JobArgs):
    """A job that takes no arguments."""


class PublishContentArgs(JobArgs):
    """content_factory.tasks.publish_content."""

    draft_id: UUID
    user_id: UUID


class RetryPublicationArgs(JobArgs):
    """content_factory.tasks.retry_publication."""

    publication_id: UUID
    user_id: UUID


class CleanupDraftsArgs(JobArgs):
    """content_factory.tasks.cleanup_old_drafts."""

    archive_days: int = Field(default=30, ge=1)
    delete_days: int = Field(default=90, ge=1)


class AnalyzeNicheArgs(JobArgs):
    """scout.tasks.analyze_niche. `analysis_id`: the row to write (an API that answers with the id before the job
    runs makes it); by default every try of the job run writes one row named after the run."""

    niche_id: UUID
    params: AnalysisParams = Field(default_factory=AnalysisParams)
    analysis_id: UUID | None = None
    requested_by: UUID | None = None


class NicheArgs(JobArgs):
    """scout.tasks.calculate_opportunity_score."""

    niche_id: UUID


class ExportReportArgs(JobArgs):
    """scout.tasks.export_report."""

    analysis_id: UUID
    format: ReportFormat = ReportFormat.HTML


class CleanupAnalysesArgs(JobArgs):
    """scout.tasks.cleanup_old_analyses."""

    keep_days: int = Field(default=90, ge=1)


class CleanupHistoryArgs(JobArgs):
    """adolf.tasks.cleanup_job_history: None keeps ADOLF_JOB_HISTORY_DAYS."""

    keep_days: int | None = Field(default=None, ge=1)


def result_failure(result: Any) -> tuple[str, str] | None:
    """(error_code, error_message) of a result that reports a failure (`{"success": False, ...}`, the shape of
    adolf/models/results.py), else None."""
    if not isinstance(result, dict) or result.get("success") is not False:
        return None
    code = str(result.get("error_code") or "FAILED")
    return code, str(result.get("error_message") or code)
