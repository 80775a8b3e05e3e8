"""`adolf bench loop-lag`: how late the event loop of a worker process runs while four niche analyses run in it.

A real lane group (scout_heavy, concurrency 4) in this process takes four analyze_niche jobs at a time from its own
Redis, on 156-week niches in a fresh database; a ticker on the same loop asks to wake every 5 ms and records how late
it woke. The baseline, measured in the same run: the same analyses computed on the event loop itself (what a worker
without the process pool would do).
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import date, timedelta
from typing import Any

from adolf.bench.harness import Bench, Say, median, percentile
from adolf.db.pool import create_pool
from adolf.db.repositories.scout import ScoutRepository
from adolf.models.scout import AnalysisParams, NicheRef
from adolf.scout.synthetic import Shape, weekly_series
from adolf.settings import Settings

TICK = 0.005
NICHES = 4
ROUNDS = 5


class LagMeter:
    def __init__(self) -> None:
        self.lags: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + TICK
            await asyncio.sleep(TICK)
            self.lags.append(max(0.0, (loop.time() - expected) * 1000))

    def __enter__(self) -> LagMeter:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def _seed(settings: Settings) -> list[NicheRef]:
    db = await create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        repo = ScoutRepository(db)
        last = date.today() - timedelta(days=7)
        niches = []
        for index in range(NICHES):
            niche_id = await repo.ensure_niche(f"bench niche {index}", "ozon", queries=[f"bench {index}"])
            shape = Shape(level=500 + 300 * index, growth=0.1 * index, season=0.35, promo_every=9)
            await repo.upsert_trends(
                niche_id, weekly_series(shape, weeks=156, last_week=last, seed=index), source="csv"
            )
            niches.append(NicheRef(id=niche_id, name=f"bench niche {index}", marketplace="ozon"))
        return niches
    finally:
        await db.close()


async def _in_loop_baseline(settings: Settings, niches: list[NicheRef]) -> list[float]:
    from adolf.scout import analysis, tasks  # imported before measuring: the baseline is the analyses, not the import

    assert analysis.analyze is not None
    db = await create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        repo = ScoutRepository(db)
        series = [(niche, await repo.trends(niche.id)) for niche in niches]
    finally:
        await db.close()
    with LagMeter() as meter:
        for niche, points in series:
            await asyncio.sleep(0)
            tasks.analyze(niche, points, [], AnalysisParams())
            await asyncio.sleep(TICK * 2)
    return meter.lags


async def loop_lag(settings: Settings, say: Say) -> dict[str, Any]:
    from adolf.client import AdolfClient
    from adolf.workers.runner import LaneGroup

    logging.getLogger("adolf").setLevel(logging.WARNING)  # the in-process worker's job lines are not the figures
    async with Bench(settings, say) as bench:
        env = bench.env()
        worker_settings = settings.model_copy(
            update={
                "database_url": env["ADOLF_DATABASE_URL"],
                "redis_url": env["ADOLF_REDIS_URL"],
                "concurrency": {**settings.concurrency, "scout_heavy": NICHES},
                "poll_delay": 0.05,
            }
        )
        niches = await _seed(worker_settings)
        group = LaneGroup(worker_settings, lanes=["scout_heavy"])
        await group.start()
        runner = asyncio.create_task(group.run())
        client = AdolfClient(bench.redis)  # type: ignore[arg-type]
        say("warming the analysis pool (its processes import statsforecast once)")
        await group.resources.analysis_pool.warm()  # type: ignore[union-attr]
        started = time.monotonic()
        with LagMeter() as meter:
            for round_ in range(ROUNDS):
                jobs = [await client.analyze_niche(niche_id=n.id) for n in niches]
                results = await asyncio.gather(*(job.result(timeout=300, poll_delay=0.05) for job in jobs))
                failed = [r for r in results if not r.get("success")]
                if failed:
                    raise RuntimeError(f"analysis failed: {failed[0]}")
                say(f"round {round_ + 1}: {len(results)} analyses done")
        seconds = time.monotonic() - started
        group.stop(graceful=False)
        await asyncio.wait_for(runner, 30)
        await group.close()
        lags = meter.lags
        say(f"pool: p50 {median(lags):.2f} ms, p99 {percentile(lags, 0.99):.2f} ms, max {max(lags):.1f} ms")
        baseline = await _in_loop_baseline(worker_settings, niches)
        say(f"on the loop: p99 {percentile(baseline, 0.99):.1f} ms, max {max(baseline):.1f} ms")
    return {
        "p99_lag_ms": round(percentile(lags, 0.99), 2),
        "p50_lag_ms": round(median(lags), 2),
        "max_lag_ms": round(max(lags), 2),
        "analyses": NICHES * ROUNDS,
        "seconds": round(seconds, 2),
        "pool_workers": worker_settings.scout_pool_workers,
        "in_loop_p99_lag_ms": round(percentile(baseline, 0.99), 2),
        "in_loop_max_lag_ms": round(max(baseline), 2),
    }
