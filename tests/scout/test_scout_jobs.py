"""Scout's jobs end to end: client -> Redis -> real arq lanes -> analysis pool -> PostgreSQL (and the simulator)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from adolf.db.repositories.scout import ScoutRepository
from adolf.scout.synthetic import Shape, weekly_series
from adolf.services.scout import last_complete_week
from tests.content.conftest import office_state
from tests.support.factories import USER_ID, make_draft
from tests.support.waiting import eventually

SCOUT_LANES = ["scout_heavy", "scout_default", "scout_export"]
RISING = Shape(level=800, growth=0.5, season=0.35, peak_week=50, sellers=60, hhi=700, promo_every=0)


def _last_week() -> date:
    return last_complete_week(datetime.now(UTC), ZoneInfo("Europe/Moscow"))


async def make_niche(db, name="Кофе", shape=RISING, weeks=156, marketplace="ozon", queries=(), seed=3) -> UUID:
    repo = ScoutRepository(db)
    niche_id = await repo.ensure_niche(name, marketplace, queries=list(queries))
    await repo.upsert_trends(
        niche_id, weekly_series(shape, weeks=weeks, last_week=_last_week(), seed=seed), source="csv"
    )
    return niche_id


async def test_analyze_niche_records_the_analysis_score_and_office_metrics(db, redis, client, burst):
    niche_id = await make_niche(db)
    job = await client.analyze_niche(niche_id=niche_id, params={"cost": 300, "logistics": 80, "horizon_weeks": 8})
    await burst(SCOUT_LANES)

    result = (await job.result_info()).result
    assert result["success"] is True
    analysis = await ScoutRepository(db).analysis(UUID(result["analysis_id"]))
    assert analysis.status == "completed" and analysis.result["score"] == result["score"]
    assert analysis.params["cost"] == 300
    assert len(result["forecast"]["points"]) == 8
    assert result["backtest"]["chosen"]["mase"] < 1
    assert result["economics"]["unit_margin"] is not None
    niche = await ScoutRepository(db).niche(niche_id)
    assert niche.opportunity_score == pytest.approx(result["score"]["value"], abs=0.01)
    office = await office_state(redis, "scout_niche")
    assert office["status"] == "idle" and office["name"] == "Анализ ниш" and office["salary_equivalent"] == 70000
    assert office["metrics"]["niches_analyzed_today"] == 1
    assert office["metrics"]["opportunities_found"] == len(result["opportunities"])
    # the finished analysis triggered calculate_opportunity_score
    await burst(["scout_default"])
    assert niche.score_updated_at < (await ScoutRepository(db).niche(niche_id)).score_updated_at


async def test_an_analysis_with_too_little_history_fails_once_with_its_reason(db, client, burst):
    niche_id = await make_niche(db, weeks=10)
    job = await client.analyze_niche(niche_id=niche_id)
    await burst(SCOUT_LANES)
    info = await job.result_info()
    assert info.job_try == 1  # more data, not another try, would fix it
    assert info.result["success"] is False and info.result["error_code"] == "INSUFFICIENT_DATA"
    status, error = await db.fetchrow("SELECT status, error FROM niche_analyses WHERE niche_id = $1", niche_id)
    assert status == "failed" and "INSUFFICIENT_DATA" in error
    assert await db.fetchval("SELECT count(*) FROM failed_jobs") == 0


async def test_an_unknown_niche_is_a_clear_failed_result(db, client, burst):
    job = await client.analyze_niche(niche_id=uuid4())
    await burst(SCOUT_LANES)
    result = (await job.result_info()).result
    assert result["success"] is False and result["error_code"] == "NOT_FOUND"


async def test_calculate_opportunity_score_stores_the_score(db, client, burst):
    niche_id = await make_niche(db)
    job = await client.calculate_opportunity_score(niche_id=niche_id)
    await burst(SCOUT_LANES)
    result = (await job.result_info()).result
    assert result["success"] is True and 0 <= result["opportunity_score"] <= 100
    niche = await ScoutRepository(db).niche(niche_id)
    assert niche.opportunity_score == pytest.approx(result["opportunity_score"], abs=0.01)
    assert {c["name"] for c in niche.score_components} >= {"demand", "growth", "competition"}


async def _completed_analysis(db, client, burst) -> str:
    niche_id = await make_niche(db, name="Кофе <в зёрнах> & чай")
    job = await client.analyze_niche(niche_id=niche_id)
    await burst(SCOUT_LANES)
    return (await job.result_info()).result["analysis_id"]


async def test_export_report_writes_all_four_formats(db, client, burst, settings):
    analysis_id = await _completed_analysis(db, client, burst)
    jobs = {
        fmt: await client.export_report(analysis_id=analysis_id, format=fmt) for fmt in ("csv", "xlsx", "json", "html")
    }
    await burst(SCOUT_LANES)
    results = {fmt: (await job.result_info()).result for fmt, job in jobs.items()}
    for result in results.values():
        assert result["success"] is True, result
        path = Path(result["path"])
        assert path.parent == Path(settings.reports_dir).resolve()
        assert path.stat().st_size == result["size_bytes"] > 0
    stored = await db.fetch("SELECT format, path FROM reports WHERE analysis_id = $1", UUID(analysis_id))
    assert {r["format"]: r["path"] for r in stored} == {fmt: r["path"] for fmt, r in results.items()}

    document = json.loads(Path(results["json"]["path"]).read_text(encoding="utf-8"))
    assert document["niche_name"] == "Кофе <в зёрнах> & чай"
    table = list(csv.reader(io.StringIO(Path(results["csv"]["path"]).read_text(encoding="utf-8-sig"))))
    assert len(table) > 156
    book = openpyxl.load_workbook(results["xlsx"]["path"])
    assert {"Сводка", "История", "Прогноз", "Оценка"} <= set(book.sheetnames)
    assert book["История"].max_row == 157  # header + 156 weeks
    page = Path(results["html"]["path"]).read_text(encoding="utf-8")
    assert page.count("<svg") >= 2 and 'id="demand-chart"' in page and 'id="score-chart"' in page
    assert "Кофе &lt;в зёрнах&gt; &amp; чай" in page and "<script src" not in page


async def test_export_of_a_missing_analysis_is_a_clear_failure(client, burst, db):
    job = await client.export_report(analysis_id=uuid4(), format="csv")
    await burst(SCOUT_LANES)
    result = (await job.result_info()).result
    assert result["success"] is False and result["error_code"] == "NOT_FOUND"


async def test_an_unknown_export_format_is_refused_before_redis(client):
    from adolf.errors import InvalidJobArgs

    with pytest.raises(InvalidJobArgs, match="format"):
        await client.export_report(analysis_id=uuid4(), format="pdf")


async def test_cleanup_old_analyses_deletes_rows_and_files_together(db, client, burst):
    old_id = await _completed_analysis(db, client, burst)
    export = await client.export_report(analysis_id=old_id, format="csv")
    await burst(SCOUT_LANES)
    old_file = Path((await export.result_info()).result["path"])
    fresh_id = await _completed_analysis(db, client, burst)
    await db.execute("UPDATE niche_analyses SET created_at = now() - interval '91 days' WHERE id = $1", UUID(old_id))
    job = await client.cleanup_old_analyses(keep_days=90)
    await burst(SCOUT_LANES)
    result = (await job.result_info()).result
    assert result == {
        "success": True,
        "error_code": None,
        "error_message": None,
        "analyses_deleted": 1,
        "files_deleted": 1,
        "files_missing": 0,
    }
    assert not old_file.exists()
    remaining = {r["id"] for r in await db.fetch("SELECT id FROM niche_analyses")}
    assert remaining == {UUID(fresh_id)}
    assert await db.fetchval("SELECT count(*) FROM reports") == 0


async def test_scout_heartbeat(redis, client, burst):
    job = await client.enqueue("scout.tasks.office_heartbeat")
    await burst(SCOUT_LANES)
    assert (await job.result_info()).result == {"success": True, "error_code": None, "error_message": None, "agents": 1}
    state = await office_state(redis, "scout_niche")
    assert state["last_heartbeat"] and state["department"] == "scout" and state["fte_coefficient"] == 1.0


async def test_a_publish_job_finishes_before_four_analyses_on_the_same_process(
    db, redis, marketplace, client, lane_group, settings
):
    niches = [await make_niche(db, name=f"Ниша {i}", seed=i) for i in range(4)]
    await marketplace.seed("wb", {"sku": "P-1", "title": "Old", "description": "Old"})
    draft = await make_draft(db, marketplace="wb", sku="P-1")
    heavy = {"backtest_folds": 8, "horizon_weeks": 12}  # seconds of numeric work each
    analyses = [await client.analyze_niche(niche_id=n, params=heavy) for n in niches]
    group_settings = settings.model_copy(update={"concurrency": {"scout_heavy": 4}})
    await lane_group(["content_high", "scout_heavy", "scout_default"], settings_=group_settings)

    async def analyses_running():
        return await db.fetchval("SELECT count(*) FROM niche_analyses WHERE status = 'running'") == 4

    await eventually(analyses_running, what="four analyses running")
    publish = await client.publish_content(draft_id=draft.id, user_id=USER_ID)
    assert (await publish.result(timeout=60))["success"] is True
    done = [await job.result(timeout=120) for job in analyses]
    assert all(r["success"] for r in done)
    published = (await publish.result_info()).finish_time
    assert published < min([(await job.result_info()).finish_time for job in analyses])


async def test_cli_analyze_prints_the_same_analysis_as_the_job(db, client, burst, settings):
    niche_id = await make_niche(db, name="Термосы", marketplace="wb")
    job = await client.analyze_niche(niche_id=niche_id, params={"cost": 500})
    await burst(SCOUT_LANES)
    from_job = (await job.result_info()).result
    env = {**os.environ, "ADOLF_DATABASE_URL": settings.database_url, "ADOLF_LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        [sys.executable, "-m", "adolf", "scout", "analyze", "wb:Термосы", "--json", "--cost", "500"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    from_cli = json.loads(done.stdout)
    for key in ("score", "backtest", "forecast", "demand", "competition", "economics", "opportunities"):
        assert from_cli[key] == from_job[key], key
    assert from_cli["analysis_id"] != from_job["analysis_id"]  # recorded as an analysis of its own
    unknown = subprocess.run(
        [sys.executable, "-m", "adolf", "scout", "analyze", "no such niche"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "adolf scout: no niche named 'no such niche'"


async def test_update_trend_data_fills_every_source_and_scores_what_changed(
    db, redis, marketplace, client, burst, sandbox_server
):
    await marketplace.control("POST", "/trends", {"marketplace": "ozon", "key": "880100", "shape": "rising"})
    await marketplace.control("POST", "/trends", {"marketplace": "ym", "key": "990100", "shape": "seasonal"})
    repo = ScoutRepository(db)
    category = await repo.ensure_niche("Кружки", "ozon", category_id="880100")
    queries = await repo.ensure_niche("Кофе", "ozon", queries=["кофе в зернах", "кофе арабика"])
    reports = await repo.ensure_niche("Чайники", "ym", category_id="990100")
    csv_only = await make_niche(db, name="Из CSV", weeks=60)
    job = await client.update_trend_data()
    await burst(["scout_default"])

    result = (await job.result_info()).result
    assert result["success"] is True
    assert (result["niches"], result["updated"], result["skipped"], result["errors"]) == (4, 3, 1, 0)
    weeks = {
        n: await db.fetchval("SELECT count(*) FROM niche_trends WHERE niche_id = $1", n) for n in (category, reports)
    }
    assert weeks == {category: 156, reports: 156}  # a new niche gets scout_history_weeks of history
    [row] = await db.fetch("SELECT * FROM niche_trends WHERE niche_id = $1", queries)  # a snapshot: this week
    assert row["search_volume"] > 0 and row["sellers"] > 0 and row["source"] == "marketplace"
    segments = await db.fetch("SELECT DISTINCT segment FROM niche_segment_trends WHERE niche_id = $1", queries)
    assert {r["segment"] for r in segments} == {"кофе в зернах", "кофе арабика"}
    office = await office_state(redis, "scout_niche")
    assert office["metrics"]["trends_updated"] == 3
    # a score job per niche whose data changed ran after it (the 156-week ones could be scored)
    scored = await db.fetch("SELECT id FROM niches WHERE opportunity_score IS NOT NULL")
    assert {r["id"] for r in scored} == {category, reports}
    assert csv_only not in {r["id"] for r in scored}

    again = await client.update_trend_data()
    await burst(["scout_default"])
    repeat = (await again.result_info()).result
    assert repeat["updated"] == 0 and repeat["weeks_changed"] == 0  # nothing new: nothing rewritten, nothing scored


async def test_update_trend_data_keeps_going_past_a_failing_marketplace(db, marketplace, client, burst, settings):
    await marketplace.control("POST", "/trends", {"marketplace": "ym", "key": "990200", "shape": "flat"})
    repo = ScoutRepository(db)
    good = await repo.ensure_niche("Кружки", "ozon", category_id="880200")
    await repo.ensure_niche("Без доступа", "ym", category_id="990200")
    unconfigured = settings.model_copy(update={"ym_api_key": None})
    job = await client.update_trend_data()
    await burst(["scout_default"], settings_=unconfigured)
    result = (await job.result_info()).result
    assert (result["updated"], result["errors"]) == (1, 1)
    assert "AUTH_ERROR" in result["failures"][0] and "ADOLF_YM_API_KEY" in result["failures"][0]
    assert await db.fetchval("SELECT count(*) FROM niche_trends WHERE niche_id = $1", good) == 156


async def test_ozon_category_niches_share_one_paginated_analytics_read(db, marketplace, client, burst):
    repo = ScoutRepository(db)
    niches = []
    for index in range(5):
        key = str(880300 + index)
        await marketplace.control("POST", "/trends", {"marketplace": "ozon", "key": key, "shape": "rising"})
        niches.append(await repo.ensure_niche(f"Категория {index}", "ozon", category_id=key))
    job = await client.update_trend_data()
    await burst(["scout_default"])
    result = (await job.result_info()).result
    assert (result["updated"], result["errors"]) == (5, 0)
    reads = await marketplace.control("GET", "/requests?path_contains=analytics/data")
    assert len(reads) == 1  # one read for five niches (the method answers once a minute)
    for niche_id in niches:
        assert await db.fetchval("SELECT count(*) FROM niche_trends WHERE niche_id = $1", niche_id) == 156
    # each niche got its own category's series, not a neighbour's
    series = await marketplace.control("GET", "/trends?marketplace=ozon&key=880302")
    orders = [
        r["orders"]
        for r in await db.fetch("SELECT orders FROM niche_trends WHERE niche_id = $1 ORDER BY week_start", niches[2])
    ]
    assert orders == [w["orders"] for w in series["weeks"]]


async def test_cli_adds_a_niche_and_lists_it(db, settings):
    env = {**os.environ, "ADOLF_DATABASE_URL": settings.database_url, "ADOLF_LOG_LEVEL": "WARNING"}

    def adolf(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "adolf", "scout", *args], capture_output=True, text=True, timeout=60, env=env
        )

    added = adolf("add-niche", "Кружки", "--marketplace", "ozon", "--queries", "кружка, кружка керамическая")
    assert added.returncode == 0, added.stderr
    niche = await ScoutRepository(db).niche(UUID(added.stdout.strip()))
    assert niche.queries == ["кружка", "кружка керамическая"] and niche.is_active
    again = adolf("add-niche", "кружки", "--marketplace", "ozon", "--category", "17028922")
    assert again.stdout.strip() == added.stdout.strip()  # the same niche, now with a category too
    listed = adolf("niches")
    assert listed.returncode == 0 and "Кружки" in listed.stdout and str(niche.id) in listed.stdout
    wrong = adolf("add-niche", "X", "--marketplace", "amazon")
    assert wrong.returncode == 2 and "invalid choice" in wrong.stderr
