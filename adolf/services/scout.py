"""Scout's jobs (seed 002 section 7): trend updates, niche analyses, opportunity scores, report exports, cleanup.

The numeric work (forecasts, scores, charts) runs in the analysis pool's processes (adolf/scout/pool.py); here are
the database reads and writes around it and the office reports.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

import asyncpg

from adolf.db.repositories.scout import Niche, ScoutRepository
from adolf.errors import AdolfError, Deferred, InvalidJobArgs, MarketplaceError, NotFound
from adolf.models.results import (
    AnalyzeNicheResult,
    CleanupAnalysesResult,
    ExportReportResult,
    OpportunityScoreResult,
    UpdateTrendDataResult,
)
from adolf.models.scout import (
    AnalysisParams,
    AnalysisResult,
    NicheRef,
    NicheTrends,
    ReportFormat,
    last_complete_monday,
)
from adolf.scout import tasks
from adolf.scout.pool import AnalysisPool
from adolf.services.office import OfficeReporter

logger = logging.getLogger(__name__)

REREAD_WEEKS = 4  # the marketplaces revise recent weeks: each update reads them again
FETCH_CONCURRENCY = 4
CLEANUP_BATCH = 500
ANALYSIS_NAMESPACE = UUID("5c0a7d6e-1f0b-4c57-9d5e-ad01f5c00700")

EnqueueScore = Callable[[UUID], Awaitable[Any]]


class InsufficientTrendData(AdolfError):
    """The niche has too little history for an analysis; more data, not another try, fixes it."""

    code = "INSUFFICIENT_DATA"


class TrendFetcher(Protocol):
    """What update_trend_data needs of the trend adapters (adolf/adapters/trends.py's TrendSources)."""

    async def fetch(self, niche: NicheRef, since: date, until: date) -> NicheTrends: ...

    async def fetch_categories(
        self, marketplace: str, niches: list[NicheRef], since: date, until: date
    ) -> dict[UUID, NicheTrends] | None: ...


def last_complete_week(now: datetime, tz: ZoneInfo) -> date:
    """The Monday of the last week that has ended (in the seller's timezone)."""
    return last_complete_monday(now.astimezone(tz).date())


def analysis_id_for(job_ref: str) -> UUID:
    """A job's analysis row: every try of one job run writes the same row."""
    return uuid5(ANALYSIS_NAMESPACE, job_ref)


# ---------------------------------------------------------------- update_trend_data


async def update_trend_data(
    *,
    db: asyncpg.Pool,
    sources: TrendFetcher,
    reporter: OfficeReporter,
    enqueue_score: EnqueueScore,
    now: datetime,
    tz: ZoneInfo,
    history_weeks: int,
) -> dict[str, Any]:
    """Fetch the latest weeks of every active niche, upsert them, and score each niche whose data changed."""
    await reporter.report_working("Обновление данных трендов")
    repo = ScoutRepository(db)
    niches = await repo.active_niches()
    until = last_complete_week(now, tz)
    counts = {"niches": len(niches), "updated": 0, "weeks_changed": 0, "skipped": 0, "errors": 0}
    errors: list[str] = []
    gate = asyncio.Semaphore(FETCH_CONCURRENCY)
    first = until - timedelta(weeks=history_weeks - 1)

    def since_of(niche: Niche) -> date:
        return first if niche.last_week is None else max(first, niche.last_week - timedelta(weeks=REREAD_WEEKS - 1))

    # category niches of one marketplace asking for the same weeks are read together where the API allows it
    groups: dict[tuple[str, date], list[Niche]] = defaultdict(list)
    for niche in niches:
        if niche.category_id and not niche.queries:
            groups[(str(niche.marketplace), since_of(niche))].append(niche)
    batches = {
        key: asyncio.ensure_future(_fetch_categories(sources, key[0], group, key[1], until))
        for key, group in groups.items()
        if len(group) > 1
    }

    async def one(niche: Niche) -> None:
        if niche.category_id is None and not niche.queries:
            counts["skipped"] += 1  # imported from CSV only: no marketplace source to ask
            return
        since = since_of(niche)
        batch = batches.get((str(niche.marketplace), since))
        try:
            fetched = None if batch is None else (await batch).get(niche.id)
            trends = fetched if fetched is not None else await _fetch_waiting(sources, gate, niche, since, until)
        except MarketplaceError as exc:
            counts["errors"] += 1
            errors.append(f"{niche.marketplace}:{niche.name}: {exc.code}: {exc}")
            logger.warning("trend data of niche %s (%s) failed: %s: %s", niche.id, niche.name, exc.code, exc)
            return
        async with db.acquire() as conn, conn.transaction():
            niche_repo = ScoutRepository(conn)
            changed = await niche_repo.upsert_trends(niche.id, trends.points, source="marketplace")
            changed += await niche_repo.upsert_segments(niche.id, trends.segments)
            await niche_repo.touch_trends(niche.id)
        if changed:
            counts["updated"] += 1
            counts["weeks_changed"] += changed
            await enqueue_score(niche.id)

    try:
        await _all_or_none(one(niche) for niche in niches)
    except Exception as exc:
        await reporter.report_error(f"Обновление трендов: {exc}")
        raise
    finally:
        for batch in batches.values():
            batch.cancel()
        await asyncio.gather(*batches.values(), return_exceptions=True)
    if counts["errors"] and counts["errors"] == counts["niches"] - counts["skipped"]:
        await reporter.report_error(f"Обновление трендов: {errors[0]}")
    else:
        await reporter.report_idle(metrics={"trends_updated": counts["updated"], "last_update": now.isoformat()})
    return UpdateTrendDataResult(success=True, **counts, failures=errors[:20]).wire()


async def _all_or_none(coroutines: Iterable[Coroutine[Any, Any, None]]) -> None:
    """Run them together; the first to fail cancels the others (nothing of a failed run goes on behind its retry)
    and its error, not an ExceptionGroup, is raised."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        for finished in asyncio.as_completed(tasks):
            await finished
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _fetch_categories(
    sources: TrendFetcher, marketplace: str, niches: list[Niche], since: date, until: date
) -> dict[UUID, NicheTrends]:
    """An empty answer: fetch the niches one by one (the marketplace reads one category a request)."""
    return await sources.fetch_categories(marketplace, list(niches), since, until) or {}


async def _fetch_waiting(
    sources: TrendFetcher, gate: asyncio.Semaphore, niche: Niche, since: date, until: date
) -> NicheTrends:
    """A niche's trends; a rate-limit slot far away (Ozon's analytics: one request a minute) is waited for here, so
    one run of the job gets through every niche (bounded by the job's time limit)."""
    while True:
        try:
            async with gate:
                return await sources.fetch(niche, since, until)
        except Deferred as deferral:
            await asyncio.sleep(deferral.delay)


# ---------------------------------------------------------------- analyze_niche


async def analyze_niche(
    *,
    db: asyncpg.Pool,
    pool: AnalysisPool,
    reporter: OfficeReporter | None,
    niche_id: UUID,
    params: AnalysisParams,
    analysis_id: UUID,
    requested_by: UUID | None = None,
    tz: ZoneInfo,
    enqueue_score: EnqueueScore | None = None,
) -> dict[str, Any]:
    repo = ScoutRepository(db)
    niche = await repo.niche(niche_id)
    if niche is None:
        raise NotFound(f"niche {niche_id} does not exist")
    if reporter is not None:
        await reporter.report_working(f"Анализ ниши {niche.name}")
    if not await repo.open_analysis(analysis_id, niche_id, params.model_dump(mode="json"), requested_by):
        raise InvalidJobArgs(f"analysis {analysis_id} is an analysis of another niche")
    points, segments = await repo.trends(niche_id), await repo.segments(niche_id)
    try:
        result = await pool.run(tasks.analyze, NicheRef.model_validate(niche.model_dump()), points, segments, params)
    except tasks.InsufficientData as exc:
        raise InsufficientTrendData(str(exc)) from None
    document = result.model_dump(mode="json")
    if not await repo.complete_analysis(analysis_id, document, result.score.value):
        raise NotFound(f"niche {niche_id} was deleted during its analysis")
    await repo.store_score(
        niche_id,
        result.score.value,
        document["score"]["components"],
        document["opportunities"],
    )
    if reporter is not None:
        today = datetime.now(tz).replace(hour=0, minute=0, second=0, microsecond=0)
        await reporter.report_idle(
            metrics={
                "niches_analyzed_today": await repo.analyzed_since(today),
                "opportunities_found": len(result.opportunities),
            }
        )
    if enqueue_score is not None:
        await enqueue_score(niche_id)
    return AnalyzeNicheResult(success=True, analysis_id=analysis_id, **dict(result)).wire()


async def fail_analysis(
    *, db: asyncpg.Pool, reporter: OfficeReporter, analysis_id: UUID, niche_id: UUID, error: Exception
) -> dict[str, Any]:
    """analyze_niche's final failure: the analysis row says why, the agent reports the error."""
    code = str(getattr(error, "code", None) or type(error).__name__)
    message = str(error) or type(error).__name__
    repo = ScoutRepository(db)
    await repo.fail_analysis(analysis_id, niche_id, f"{code}: {message}")
    await reporter.report_error(f"Анализ ниши: {message}")
    return AnalyzeNicheResult.failure(code, message, analysis_id=analysis_id, niche_id=niche_id).wire()


# ---------------------------------------------------------------- calculate_opportunity_score


async def calculate_opportunity_score(*, db: asyncpg.Pool, pool: AnalysisPool, niche_id: UUID) -> dict[str, Any]:
    """Recompute the niche's score from its latest data (margin from its latest analysis's params)."""
    repo = ScoutRepository(db)
    niche = await repo.niche(niche_id)
    if niche is None:
        return OpportunityScoreResult.failure("NOT_FOUND", f"niche {niche_id} does not exist", niche_id=niche_id).wire()
    latest = await repo.latest_analysis(niche_id)
    params = AnalysisParams.model_validate(latest.params) if latest is not None else None
    points, segments = await repo.trends(niche_id), await repo.segments(niche_id)
    try:
        score, opportunities = await pool.run(
            tasks.score, points, segments, params, NicheRef.model_validate(niche.model_dump())
        )
    except tasks.InsufficientData as exc:
        return OpportunityScoreResult.failure("INSUFFICIENT_DATA", str(exc), niche_id=niche_id).wire()
    components = [c.model_dump(mode="json") for c in score.components]
    found = [o.model_dump(mode="json") for o in opportunities]
    await repo.store_score(niche_id, score.value, components, found)
    return OpportunityScoreResult(
        success=True,
        niche_id=niche_id,
        opportunity_score=score.value,
        components=score.components,
        opportunities=len(found),
    ).wire()


# ---------------------------------------------------------------- export_report


async def export_report(
    *, db: asyncpg.Pool, pool: AnalysisPool, analysis_id: UUID, fmt: ReportFormat, reports_dir: Path
) -> dict[str, Any]:
    repo = ScoutRepository(db)
    analysis = await repo.analysis(analysis_id)
    if analysis is None:
        return _export_failed(analysis_id, fmt, "NOT_FOUND", f"analysis {analysis_id} does not exist")
    if analysis.status != "completed" or analysis.result is None:
        return _export_failed(analysis_id, fmt, "NOT_READY", f"analysis {analysis_id} is {analysis.status}")
    result = AnalysisResult.model_validate(analysis.result)
    directory = await asyncio.to_thread(_report_directory, reports_dir)
    path = directory / f"{analysis_id}.{fmt.value}"
    size = await pool.run(tasks.render, result, analysis_id, fmt, path)
    try:
        report = await repo.record_report(analysis_id, fmt.value, str(path), size)
    except asyncpg.ForeignKeyViolationError:  # cleanup deleted the analysis while its report was drawn
        await asyncio.to_thread(path.unlink, missing_ok=True)
        return _export_failed(analysis_id, fmt, "NOT_FOUND", f"analysis {analysis_id} was deleted meanwhile")
    return ExportReportResult(
        success=True, analysis_id=analysis_id, report_id=report.id, format=fmt, path=str(path), size_bytes=size
    ).wire()


def _report_directory(reports_dir: Path) -> Path:
    directory = reports_dir.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _export_failed(analysis_id: UUID, fmt: ReportFormat, code: str, message: str) -> dict[str, Any]:
    return ExportReportResult.failure(code, message, analysis_id=analysis_id, format=fmt).wire()


# ---------------------------------------------------------------- cleanup_old_analyses


async def cleanup_old_analyses(*, db: asyncpg.Pool, keep_days: int, now: datetime) -> dict[str, Any]:
    """Delete analyses older than keep_days with their reports' files: files first, so no file outlives its row."""
    repo = ScoutRepository(db)
    before = now - timedelta(days=keep_days)
    counts = {"analyses_deleted": 0, "files_deleted": 0, "files_missing": 0}
    while batch := await repo.old_analyses(before, CLEANUP_BATCH):
        for _, paths in batch:
            for raw in paths:
                path = Path(raw)
                try:
                    await asyncio.to_thread(path.unlink)
                    counts["files_deleted"] += 1
                except FileNotFoundError:
                    counts["files_missing"] += 1
        counts["analyses_deleted"] += await repo.delete_analyses([analysis_id for analysis_id, _ in batch])
        if len(batch) < CLEANUP_BATCH:
            break
    return CleanupAnalysesResult(success=True, **counts).wire()
