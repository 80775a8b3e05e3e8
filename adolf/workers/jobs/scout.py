"""Scout jobs (seed 002, section 7). Each takes what it needs from the process's resources and calls one service."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from adolf.models.jobs import AnalyzeNicheArgs, CleanupAnalysesArgs, ExportReportArgs, NicheArgs, NoArgs
from adolf.models.results import OfficeHeartbeatResult
from adolf.services import scout
from adolf.workers.context import JobContext

SCOUT_AGENT = "scout_niche"


def _enqueue_score(job: JobContext) -> scout.EnqueueScore:
    from adolf.client import AdolfClient

    client = AdolfClient(job.resources.redis)

    async def enqueue(niche_id: UUID) -> str:
        return (await client.calculate_opportunity_score(niche_id=niche_id)).job_id

    return enqueue


def _analysis_id(job: JobContext, args: AnalyzeNicheArgs) -> UUID:
    return args.analysis_id or scout.analysis_id_for(job.ref)


async def update_trend_data(job: JobContext, args: NoArgs) -> dict[str, Any]:
    resources = job.resources
    return await scout.update_trend_data(
        db=resources.db,
        sources=resources.trends,
        reporter=resources.office[SCOUT_AGENT],
        enqueue_score=_enqueue_score(job),
        now=datetime.now(UTC),
        tz=resources.settings.tz,
        history_weeks=resources.settings.scout_history_weeks,
    )


async def analyze_niche(job: JobContext, args: AnalyzeNicheArgs) -> dict[str, Any]:
    resources = job.resources
    return await scout.analyze_niche(
        db=resources.db,
        pool=resources.analysis_pool,
        reporter=resources.office[SCOUT_AGENT],
        niche_id=args.niche_id,
        params=args.params,
        analysis_id=_analysis_id(job, args),
        requested_by=args.requested_by,
        tz=resources.settings.tz,
        enqueue_score=_enqueue_score(job),
    )


async def analyze_niche_failed(job: JobContext, args: AnalyzeNicheArgs, error: Exception) -> dict[str, Any]:
    """analyze_niche's final failure: the analysis row is failed with its reason (no dead letter for bad data)."""
    return await scout.fail_analysis(
        db=job.resources.db,
        reporter=job.resources.office[SCOUT_AGENT],
        analysis_id=_analysis_id(job, args),
        niche_id=args.niche_id,
        error=error,
    )


async def calculate_opportunity_score(job: JobContext, args: NicheArgs) -> dict[str, Any]:
    return await scout.calculate_opportunity_score(
        db=job.resources.db, pool=job.resources.analysis_pool, niche_id=args.niche_id
    )


async def export_report(job: JobContext, args: ExportReportArgs) -> dict[str, Any]:
    resources = job.resources
    return await scout.export_report(
        db=resources.db,
        pool=resources.analysis_pool,
        analysis_id=args.analysis_id,
        fmt=args.format,
        reports_dir=Path(resources.settings.reports_dir),
    )


async def cleanup_old_analyses(job: JobContext, args: CleanupAnalysesArgs) -> dict[str, Any]:
    return await scout.cleanup_old_analyses(db=job.resources.db, keep_days=args.keep_days, now=datetime.now(UTC))


async def office_heartbeat(job: JobContext, args: NoArgs) -> dict[str, Any]:
    """Seed 002 §7.4: the Scout agent's heartbeat."""
    await job.resources.office[SCOUT_AGENT].heartbeat()
    return OfficeHeartbeatResult(success=True, agents=1).wire()
