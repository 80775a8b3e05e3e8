"""Benchmarks of the job engine itself, each against bare arq measured in the same run:

- `pickup`: enqueue-to-start latency on an idle worker over 200 jobs, and the Redis commands an idle worker sends;
- `overhead`: no-op jobs through the whole job wrapper vs bare arq with the same poll settings;
- `recovery`: a job with a 300 s timeout, its worker SIGKILLed mid-run, a second worker up: how long until the job
  runs again (bare arq: its in-progress key lives timeout + 10 s; cut at 60 s and reported as a lower bound);
- `memory`: peak RSS of the all-lanes worker with 10,000 queued and 500 running jobs.

Each returns one dict; `adolf bench SCENARIO` prints it as its last line.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from adolf.bench.harness import Bench, Say, median, percentile, until
from adolf.bench.loop_lag import loop_lag
from adolf.lanes import LANES
from adolf.settings import Settings
from adolf.workers import arq_seam

LOW = LANES["content_low"].queue
DEFAULT = LANES["content_default"].queue
HIGH = LANES["content_high"].queue


async def pickup(settings: Settings, say: Say, *, jobs: int = 200, idle_seconds: float = 10.0) -> dict[str, Any]:
    async with Bench(settings, say) as bench:
        assert bench.redis is not None
        worker = await bench.adolf_worker("content_low")
        latencies = await _latencies(bench, jobs, wake=True)
        say(f"ADOLF: p50 {median(latencies):.1f} ms, p99 {percentile(latencies, 0.99):.1f} ms over {jobs} jobs")
        idle = await _idle_commands(bench, idle_seconds)
        say(f"ADOLF idle (one lane): {idle:.1f} Redis commands/s, those run inside its scripts included")
        await worker.stop()
        await bench.bare_arq_worker(LOW, max_jobs=10, poll_delay=0.5)
        plain = await _latencies(bench, jobs, wake=False)
        say(f"bare arq (poll_delay 0.5 s): p50 {median(plain):.1f} ms")
        plain_idle = await _idle_commands(bench, idle_seconds)
        say(f"bare arq idle: {plain_idle:.1f} Redis commands/s")
    return {
        "p50_ms": round(median(latencies), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "plain_arq_p50_ms": round(median(plain), 2),
        "idle_redis_cmds_per_s": round(idle, 2),
        "plain_arq_idle_redis_cmds_per_s": round(plain_idle, 2),
    }


async def _idle_commands(bench: Bench, seconds: float) -> float:
    """Commands Redis processed per second while the worker sat idle (the two INFO calls not counted)."""
    await asyncio.sleep(2.0)  # the worker settles into idleness
    before = await bench.commands_processed()
    await asyncio.sleep(seconds)
    return (await bench.commands_processed() - before - 1) / seconds


async def _latencies(bench: Bench, jobs: int, *, wake: bool) -> list[float]:
    assert bench.redis is not None
    latencies = []
    for _ in range(jobs):
        enqueued = time.time()
        if wake:
            job = await arq_seam.enqueue(bench.redis, "bench.stamp", {}, queue=LOW)
        else:
            job = await bench.redis.enqueue_job("bench.stamp", _queue_name=LOW)
        assert job is not None
        started = await job.result(timeout=30, poll_delay=0.01)
        latencies.append((started - enqueued) * 1000)
    return latencies


async def overhead(
    settings: Settings, say: Say, *, jobs: int = 10_000, concurrency: int = 100, rounds: int = 7
) -> dict[str, Any]:
    """Both drain the same number of no-op jobs enqueued while they are idle; poll delay 0.05 s for both (ADOLF's
    wake-up makes its poll a fallback). ADOLF runs `rounds` times with its job history (job_runs) and as many
    without, alternating, so the two share the machine's drift, each draining jobs enqueued beforehand and due at one
    moment; the medians of jobs/s and of the worker's CPU a job are compared. Bare arq drains the same way."""
    rates: dict[str, list[float]] = {"on": [], "off": []}
    cpu: dict[str, list[float]] = {"on": [], "off": []}
    async with Bench(settings, say) as bench:
        for round_ in range(rounds):
            for history in ("on", "off") if round_ % 2 == 0 else ("off", "on"):
                worker = await bench.adolf_worker(
                    "content_low",
                    ADOLF_CONCURRENCY__CONTENT_LOW=str(concurrency),
                    ADOLF_POLL_DELAY="0.05",
                    ADOLF_JOB_HISTORY="true" if history == "on" else "false",
                )
                cpu_before = worker.cpu_seconds()
                rates[history].append(await _drain(bench, jobs, wake=True, due_together=True))
                cpu[history].append((worker.cpu_seconds() - cpu_before) / jobs * 1e6)
                await worker.stop()  # its last history rows are written before it exits
                say(
                    f"ADOLF round {round_ + 1}, history {history}: {rates[history][-1]:.0f} no-op jobs/s, "
                    f"{cpu[history][-1]:.0f} us CPU a job"
                )
        rows = await _history_rows(bench.settings.database_url)
        say(f"job_runs rows written by the rounds with history: {rows} (expected {rounds * jobs})")
        await bench.bare_arq_worker(LOW, max_jobs=concurrency, poll_delay=0.05)
        arq_rate = await _drain(bench, jobs, wake=False, due_together=True)
        say(f"bare arq: {arq_rate:.0f} no-op jobs/s")
    with_history, without = median(rates["on"]), median(rates["off"])
    cpu_on, cpu_off = median(cpu["on"]), median(cpu["off"])
    say(
        f"ADOLF medians: {with_history:.0f} jobs/s with history, {without:.0f} without "
        f"({with_history / without:.3f}); CPU a job {cpu_on:.0f} us with, {cpu_off:.0f} us without"
    )
    return {
        "adolf_jobs_per_s": round(with_history, 1),
        "adolf_no_history_jobs_per_s": round(without, 1),
        "history_ratio": round(with_history / without, 3),
        "cpu_us_per_job": round(cpu_on, 1),
        "no_history_cpu_us_per_job": round(cpu_off, 1),
        "history_cpu_ratio": round(cpu_on / cpu_off, 3),
        "history_rows": rows,
        "bare_arq_jobs_per_s": round(arq_rate, 1),
        "ratio": round(with_history / arq_rate, 3),
        "rounds": rounds,
    }


async def _history_rows(database_url: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM job_runs WHERE job_name = 'bench.noop'"))
    finally:
        await conn.close()


async def _drain(bench: Bench, jobs: int, *, wake: bool, due_together: bool = False) -> float:
    """Jobs a second from the first enqueue to an empty queue; `due_together`: every job is enqueued first, due at
    one moment, and the clock starts then, so the drain does not share the CPU with the enqueueing."""
    redis = bench.redis
    assert redis is not None
    await redis.delete(*[k async for k in redis.scan_iter("arq:result:*")] or ["-"])
    started = time.monotonic()
    due_at = time.time() + 2.0 + jobs / 1500 if due_together else None
    for start in range(0, jobs, 500):
        batch = range(start, min(jobs, start + 500))
        if wake:
            await asyncio.gather(
                *(arq_seam.enqueue(redis, "bench.noop", {}, queue=LOW, defer_by=_until(due_at)) for _ in batch)
            )
        else:
            await asyncio.gather(
                *(redis.enqueue_job("bench.noop", _queue_name=LOW, _defer_by=_until(due_at)) for _ in batch)
            )
    if due_at is not None:
        left = due_at - time.time()
        if left <= 0:
            raise RuntimeError("enqueueing took longer than the lead before the jobs were due")
        await asyncio.sleep(left)
        started = time.monotonic()

    async def drained() -> bool:
        return await redis.zcard(LOW) == 0

    await until(drained, timeout=600, interval=0.01)
    return jobs / (time.monotonic() - started)


def _until(due_at: float | None) -> float:
    return 0.0 if due_at is None else max(0.0, due_at - time.time())


async def recovery(settings: Settings, say: Say, *, cut: float = 60.0) -> dict[str, Any]:
    async with Bench(settings, say) as bench:
        adolf_s = await _recovery(bench, "adolf", cut, say)
        plain_s = await _recovery(bench, "arq", cut, say)
    return {
        "recovery_s": round(adolf_s, 2),
        "plain_arq_recovery_s": round(plain_s, 2),
        "plain_arq_recovery_lower_bound": plain_s >= cut,
        "lease_s": settings.job_lease_seconds,
    }


async def _recovery(bench: Bench, kind: str, cut: float, say: Say) -> float:
    redis = bench.redis
    assert redis is not None
    key = f"{kind}-{time.monotonic_ns()}"
    start = bench.adolf_worker if kind == "adolf" else None
    victim = await (start("content_default") if start else bench.bare_arq_worker(DEFAULT, max_jobs=10, poll_delay=0.5))
    await redis.enqueue_job("bench.hold", key=key, seconds=120, _queue_name=DEFAULT)
    await until(lambda: redis.llen(f"bench:hold:{key}"), timeout=30)
    await victim.kill()
    killed = time.monotonic()
    if start:
        await start("content_default")
    else:
        await bench.bare_arq_worker(DEFAULT, max_jobs=10, poll_delay=0.5)

    async def rerun() -> bool:
        return await redis.llen(f"bench:hold:{key}") >= 2

    await until(rerun, timeout=cut, interval=0.05)
    seconds = time.monotonic() - killed
    say(f"{kind}: the killed worker's job ran again after {seconds:.1f}s" + (" (cut)" if seconds >= cut else ""))
    for proc in bench.procs:
        await proc.stop()
    return min(seconds, cut)


async def memory(settings: Settings, say: Say, *, queued: int = 10_000, running: int = 500) -> dict[str, Any]:
    async with Bench(settings, say) as bench:
        redis = bench.redis
        assert redis is not None
        worker = await bench.adolf_worker(
            ",".join(LANES), cron=True, ADOLF_CONCURRENCY__CONTENT_DEFAULT=str(running), ADOLF_JOB_LEASE_SECONDS="15"
        )
        for start in range(0, queued + running, 1000):
            batch = range(start, min(queued + running, start + 1000))
            await asyncio.gather(
                *(arq_seam.enqueue(redis, "bench.hold", {"key": "m", "seconds": 60}, queue=DEFAULT) for _ in batch)
            )

        async def all_running() -> bool:
            worker.sample()
            return await redis.llen("bench:hold:m") >= running

        await until(all_running, timeout=120, interval=0.2)
        for _ in range(50):  # ten seconds of the steady state
            worker.sample()
            await asyncio.sleep(0.2)
        in_queue = await redis.zcard(DEFAULT)
        say(
            f"{await redis.llen('bench:hold:m')} running, {in_queue - running} queued: peak RSS "
            f"{worker.peak_rss / 2**20:.1f} MB"
        )
    return {"peak_rss_mb": round(worker.peak_rss / 2**20, 1), "queued": in_queue - running, "running": running}


async def throughput(settings: Settings, say: Say) -> dict[str, Any]:
    from adolf.bench.throughput import throughput as run

    return await run(settings, say)


SCENARIOS = {
    "throughput": throughput,
    "pickup": pickup,
    "overhead": overhead,
    "recovery": recovery,
    "memory": memory,
    "loop-lag": loop_lag,
}
