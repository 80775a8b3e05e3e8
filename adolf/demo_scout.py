"""The Scout half of `adolf demo`: imports examples/scout_trends.csv, gives one niche search queries the simulator
serves, updates trends through the worker (update_trend_data), analyzes every demo niche (analyze_niche) and exports
the first one's HTML report (export_report), printing the backtest of each and where the report is."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg

from adolf.client import AdolfClient
from adolf.db.repositories.scout import ScoutRepository
from adolf.services.scout_import import import_series, read_csv

EXAMPLE_CSV = Path(__file__).resolve().parent.parent / "examples" / "scout_trends.csv"
QUERY_NICHE = ("Кофе в зёрнах", "ozon", ["кофе в зернах", "кофе арабика", "кофе в зернах 1 кг"])
RESULT_TIMEOUT = 300.0


def _mase(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


async def run_scout_demo(client: AdolfClient, db: asyncpg.Pool, say: Callable[[str], None]) -> None:
    summary = await import_series(db, read_csv(EXAMPLE_CSV))
    say(f"scout: imported {summary.rows} weeks of {len(summary.niches)} niches from {EXAMPLE_CSV.name}")
    repo = ScoutRepository(db)
    name, marketplace, queries = QUERY_NICHE
    niche_id = summary.niches[(name, marketplace)]
    await repo.set_sources(niche_id, category_id=None, queries=queries)

    updated = await (await client.update_trend_data()).result(timeout=RESULT_TIMEOUT)
    say(
        f"scout.tasks.update_trend_data: niches updated from the simulator: {updated['updated']}, "
        f"weeks changed: {updated['weeks_changed']}, CSV-only niches: {updated['skipped']}"
    )

    jobs = {key: await client.analyze_niche(niche_id=nid) for key, nid in summary.niches.items()}
    results: dict[Any, dict[str, Any]] = {}
    for key, job in jobs.items():
        results[key] = await job.result(timeout=RESULT_TIMEOUT)
    for (niche_name, mp), result in results.items():
        if not result.get("success"):
            say(f"scout: {mp}:{niche_name} analysis FAILED: {result.get('error_code')}: {result.get('error_message')}")
            continue
        chosen, baseline = result["backtest"]["chosen"], result["backtest"]["baseline"]
        say(
            f"scout: {mp:4} {niche_name}: score {result['score']['value']:.1f}, forecast by {chosen['model']} "
            f"(backtest MASE {_mase(chosen['mase'])} vs seasonal naive {_mase(baseline['mase'])}), "
            f"{len(result['opportunities'])} opportunit{'y' if len(result['opportunities']) == 1 else 'ies'}"
        )
    first = results.get((name, marketplace))
    if first and first.get("success"):
        report = await (await client.export_report(analysis_id=first["analysis_id"], format="html")).result(
            timeout=RESULT_TIMEOUT
        )
        say(f"scout: HTML report of {name}: {report.get('path', report)}")
    niche = await repo.niche(niche_id)
    if niche is not None and niche.opportunity_score is not None:
        say(f"scout: {name} opportunity score stored: {niche.opportunity_score:.1f}")
