"""Scout at its edges: out-of-range and future input, big files, outliers, dead niches, races with cleanup,
cancelled and failed runs. Each test failed on the first version of the code (found by a review)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from uuid import uuid4
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from adolf.db.repositories.scout import ScoutRepository
from adolf.errors import InvalidJobArgs, NotFound
from adolf.models.scout import AnalysisParams, NicheRef, NicheTrends, TrendPoint
from adolf.scout import analysis
from adolf.scout.synthetic import Shape, weekly_series
from adolf.services import scout as service
from adolf.services.scout import last_complete_week
from adolf.services.scout_import import CsvImportError, import_series, parse_csv

HEADER = "niche,marketplace,week,orders,revenue,avg_price,sellers\n"
TZ = ZoneInfo("Europe/Moscow")


def _last_week() -> date:
    return last_complete_week(datetime.now(UTC), TZ)


# ---------------------------------------------------------------- CSV import


@pytest.mark.parametrize(
    "row",
    [
        "Кофе,ozon,2024-06-03,5,inf,,",  # float('inf') passes TrendPoint(ge=0)
        "Кофе,ozon,2024-06-03,5,1e20,,",  # numeric(16,2) overflow
        "Кофе,ozon,2024-06-03,5,,1e12,",  # numeric(12,2) overflow
        "Кофе,ozon,2024-06-03,1e20,,,",  # int8 overflow
        "Кофе,ozon,2024-06-03,5,,,99999999999",  # int4 overflow (sellers)
    ],
)
async def test_out_of_range_numbers_are_a_line_error_not_a_database_crash(db: asyncpg.Pool, row: str) -> None:
    """The parser accepts these, the database refuses them: the user gets a raw asyncpg error (or a traceback)
    without the line number instead of `line 2: column ...`."""
    with pytest.raises(CsvImportError) as caught:
        parse_csv(HEADER + row + "\n")
    assert caught.value.line == 2


def test_weeks_in_the_future_are_refused() -> None:
    """A typo (2205 for 2025) is accepted; the niche's series then spans 180 years (see the analysis test)."""
    future = _last_week() + timedelta(weeks=60)
    with pytest.raises(CsvImportError):
        parse_csv(f"niche,marketplace,week,orders\nКофе,ozon,{future.isoformat()},5\n")


async def test_names_differing_in_case_are_one_niche_in_the_summary(db: asyncpg.Pool) -> None:
    """'Кофе' and 'кофе' land in one niche (lower(name) unique index) but are counted as two niches."""
    summary = await import_series(
        db, parse_csv("niche,marketplace,week,orders\nКофе,ozon,2024-06-03,5\nкофе,ozon,2024-06-10,6\n")
    )
    assert await db.fetchval("SELECT count(*) FROM niches") == 1
    assert summary.as_dict()["niches"] == 1


def test_parsing_a_big_export_stays_within_a_sane_memory_budget(tmp_path: Path) -> None:
    """780k rows (5,000 niches x 156 weeks, 60 MB) take 54 s and 1.7 GB RSS in read_csv: a TrendPoint pydantic
    model per row, the whole text held three times (bytes, str, splitlines() + StringIO). Here 1/20 of that."""
    import time
    import tracemalloc

    from adolf.services.scout_import import read_csv

    start = date(2022, 1, 3)
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8") as out:
        out.write("niche,marketplace,week,orders,search_volume,revenue,avg_price,sellers,new_sellers,top10_share,hhi\n")
        for n in range(250):
            for w in range(156):
                out.write(
                    f"Ниша {n},ozon,{start + timedelta(weeks=w)},{n + w},{9 * w},{w * 1000.5},{1000.5},50,2,0.4,800.5\n"
                )
    size = path.stat().st_size
    tracemalloc.start()
    began = time.perf_counter()
    try:
        read_csv(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - began
    assert peak < 8 * size, f"peak {peak / 1e6:.0f} MB for a {size / 1e6:.1f} MB file ({elapsed:.1f} s)"


# ---------------------------------------------------------------- analyze_niche


def test_a_stray_future_week_does_not_stretch_the_series_over_centuries() -> None:
    """One typo (2205 for 2025) among 156 good weeks: prepare() interpolates ~9,500 weeks of invented demand; the
    analysis then takes ~190 s (the job's limit is 300 s) and forecasts the 23rd century."""
    points = [
        *weekly_series(Shape(), weeks=156, last_week=date(2025, 6, 2)),
        TrendPoint(week=date(2205, 6, 3), orders=100),
    ]
    series = analysis.prepare(points)
    assert len(series.weeks) == 156 and series.weeks[-1] == date(2025, 6, 2)
    assert any("не учтены" in note for note in series.notes)


def test_a_one_week_outlier_is_not_forecast_as_next_years_demand() -> None:
    """A single bad week (an extra three zeros) a year ago: seasonal naive scores MASE 0 on the backtest windows,
    which never see the outlier's echo, wins, and forecasts 1,000,000 orders for a niche selling 10 a week."""
    last = date(2025, 6, 2)
    points = [TrendPoint(week=last - timedelta(weeks=103 - i), orders=(10_000 if i == 60 else 10)) for i in range(104)]
    result = analysis.analyze(NicheRef(id=uuid4(), name="x", marketplace="ozon"), points, [], AnalysisParams())
    assert max(p.mean for p in result.forecast.points) < 1_000, result.forecast.model


def test_a_niche_without_any_demand_does_not_score_a_quarter_of_the_scale() -> None:
    """156 weeks of zero orders score 28.6: the seasonality component gives 100 ("no seasonal risk") to a dead niche."""
    last = date(2025, 6, 2)
    points = [TrendPoint(week=last - timedelta(weeks=155 - i), orders=0) for i in range(156)]
    score = analysis.score_only(points)
    assert score.value < 10, {c.name: c.value for c in score.components}


async def test_reusing_an_analysis_id_for_another_niche_does_not_mix_two_niches(db: asyncpg.Pool) -> None:
    """AnalyzeNicheArgs.analysis_id is caller-supplied; OPEN_ANALYSIS's ON CONFLICT keeps the old niche_id, so the
    row says niche A while its result (and score) is niche B's."""
    from adolf.scout.pool import AnalysisPool

    repo = ScoutRepository(db)
    ids = []
    for name in ("A", "B"):
        niche_id = await repo.ensure_niche(name, "ozon", queries=["q"])
        await repo.upsert_trends(niche_id, weekly_series(Shape(), weeks=40, last_week=_last_week()), source="csv")
        ids.append(niche_id)
    pool = AnalysisPool(1)
    analysis_id = uuid4()
    try:
        await service.analyze_niche(
            db=db, pool=pool, reporter=None, niche_id=ids[0], params=AnalysisParams(), analysis_id=analysis_id, tz=TZ
        )
        with pytest.raises(InvalidJobArgs, match="another niche"):
            await service.analyze_niche(
                db=db,
                pool=pool,
                reporter=None,
                niche_id=ids[1],
                params=AnalysisParams(),
                analysis_id=analysis_id,
                tz=TZ,
            )
    finally:
        pool.shutdown()
    row = await db.fetchrow(
        "SELECT niche_id, result->>'niche_id' AS result_niche FROM niche_analyses WHERE id = $1", analysis_id
    )
    assert str(row["niche_id"]) == row["result_niche"] == str(ids[0])


async def test_a_timed_out_analysis_does_not_keep_its_pool_process_busy() -> None:
    """The job's 300 s hard limit cancels the awaiting coroutine only: the pool process goes on computing, the
    retry queues behind it (2 processes: two stuck analyses stall every Scout analysis and export of the worker)."""
    import time

    from adolf.scout.pool import AnalysisPool

    pool = AnalysisPool(1)
    try:
        await pool.warm()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(pool.run(time.sleep, 4), 0.3)
        began = time.monotonic()
        await pool.run(int, "1")
        assert time.monotonic() - began < 1.0
    finally:
        pool.shutdown()


# ---------------------------------------------------------------- update_trend_data


class _Reporter:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    async def report_working(self, task: str) -> None:
        self.calls.append(("working", task))

    async def report_idle(self, metrics: object = None) -> None:
        self.calls.append(("idle", metrics))

    async def report_error(self, message: str) -> None:
        self.calls.append(("error", message))


async def test_a_failing_niche_does_not_leave_the_other_fetches_running_after_the_job_ended(db: asyncpg.Pool) -> None:
    """asyncio.gather without cancelling the siblings: an unexpected error in one niche (a DB/Redis outage, a bug)
    fails the job, but the other niches' fetches and upserts go on in the background, and arq's retry runs them
    again concurrently."""
    repo = ScoutRepository(db)
    bad = await repo.ensure_niche("bad", "wb", queries=["x"])
    await repo.ensure_niche("slow", "wb", queries=["y"])
    finished: list[str] = []

    class Sources:
        async def fetch(self, niche, since, until):
            if niche.id == bad:
                raise ConnectionResetError("redis went away")
            await asyncio.sleep(0.3)
            finished.append(niche.name)
            return NicheTrends()

    async def enqueue(_):
        return None

    with pytest.raises(ConnectionResetError):
        await service.update_trend_data(
            db=db,
            sources=Sources(),
            reporter=_Reporter(),
            enqueue_score=enqueue,
            now=datetime.now(UTC),
            tz=TZ,
            history_weeks=156,
        )
    await asyncio.sleep(0.6)
    assert finished == [], "a fetch of the failed job run kept running after the job ended"


# ---------------------------------------------------------------- export_report / cleanup


async def test_an_export_racing_cleanup_leaves_no_orphan_file(db: asyncpg.Pool, tmp_path: Path) -> None:
    """cleanup_old_analyses deletes the analysis while export_report renders it: record_report then fails with a
    ForeignKeyViolationError (the job retries, then reports NOT_FOUND) and the rendered file stays on disk forever
    (cleanup only finds files through `reports` rows)."""
    from adolf.scout import tasks

    repo = ScoutRepository(db)
    niche_id = await repo.ensure_niche("race", "ozon", queries=["q"])
    await repo.upsert_trends(niche_id, weekly_series(Shape(), weeks=40, last_week=_last_week()), source="csv")
    result = analysis.analyze(
        NicheRef(id=niche_id, name="race", marketplace="ozon"), await repo.trends(niche_id), [], AnalysisParams()
    )
    analysis_id = uuid4()
    await repo.open_analysis(analysis_id, niche_id, {}, None)
    await repo.complete_analysis(analysis_id, result.model_dump(mode="json"), result.score.value)

    class RacingPool:
        """Renders in-process; cleanup runs (and deletes the analysis) while the file is being written."""

        async def run(self, fn, *args):
            await db.execute("UPDATE niche_analyses SET created_at = now() - interval '100 days'")
            await service.cleanup_old_analyses(db=db, keep_days=90, now=datetime.now(UTC))
            return fn(*args)

    result = await service.export_report(
        db=db, pool=RacingPool(), analysis_id=analysis_id, fmt=tasks.ReportFormat.JSON, reports_dir=tmp_path
    )
    assert result["success"] is False and result["error_code"] == "NOT_FOUND"
    assert list(tmp_path.iterdir()) == []


async def test_an_analysis_of_a_niche_deleted_meanwhile_is_not_reported_as_a_success(db: asyncpg.Pool) -> None:
    """The niche (and by cascade the analysis row) is deleted while the pool computes: complete_analysis and
    store_score update 0 rows, and the job answers success with an analysis_id that does not exist."""

    repo = ScoutRepository(db)
    niche_id = await repo.ensure_niche("gone", "ozon", queries=["q"])
    await repo.upsert_trends(niche_id, weekly_series(Shape(), weeks=40, last_week=_last_week()), source="csv")

    class DeletingPool:
        async def run(self, fn, *args):
            await db.execute("DELETE FROM niches WHERE id = $1", niche_id)
            return fn(*args)

    with pytest.raises(NotFound, match="deleted during its analysis"):
        await service.analyze_niche(
            db=db,
            pool=DeletingPool(),
            reporter=None,
            niche_id=niche_id,
            params=AnalysisParams(),
            analysis_id=uuid4(),
            tz=TZ,
        )
