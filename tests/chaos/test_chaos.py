"""The chaos suite: two `adolf worker` processes publish a stream of drafts to WB, Ozon and Yandex Market (the
simulator, at the documented limits on a clock ten times faster) while a worker is SIGKILLed ten times, Redis restarts,
Redis hangs or is down for 2 s, PostgreSQL stops for 10 s, or Redis Sentinel fails over to the replica. Each scenario
runs on its own PostgreSQL, Redis (or Sentinel set) and simulator on free loopback ports (tests/support/chaos.py),
never on the configured servers. Afterwards: no job lost, no card pushed and no notification written or delivered
twice (except after a run cut off mid-request), every publication final, every failed job in failed_jobs. Each
scenario prints one summary line; ADOLF_CHAOS_SEED changes the random moments and order, ADOLF_CHAOS_KEEP=1 keeps
the logs and data."""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections.abc import Awaitable, Callable

import pytest

from tests.support.chaos import SEED, ChaosRig, Draft, Verdict

pytestmark = pytest.mark.timeout(600)

EVERY_MARKETPLACE_1000 = {"wb": 400, "ozon": 300, "ym": 300}
EVERY_MARKETPLACE_300 = {"wb": 120, "ozon": 90, "ym": 90}
KILLS = 10
STREAM_SECONDS = 20.0  # the outage scenarios: drafts enqueued over 20 s, the outage 8 s in
OUTAGE_AT = 8.0


def _say(capsys: pytest.CaptureFixture[str], line: str) -> None:
    with capsys.disabled():
        print(f"\n{line}", flush=True)


def _failure(rig: ChaosRig, verdict: Verdict, settled: bool) -> str:
    lines = [f"{len(verdict.problems)} problems" + ("" if settled else " (the run never settled)"), verdict.report()]
    errors = rig.errors_in_logs()
    if errors:
        lines += ["worker log errors:", *errors]
    return "\n".join(lines)


async def test_sigkill_one_of_two_workers_ten_times_during_1000_publishes(capsys):
    rng = random.Random(SEED)
    async with ChaosRig("sigkill") as rig:
        drafts = await rig.seed(EVERY_MARKETPLACE_1000, rng)
        workers = await rig.start_workers(2)
        stream_seconds = 50.0
        kill_at = sorted(rng.uniform(2.0, stream_seconds) for _ in range(KILLS))
        stream = asyncio.create_task(rig.enqueue_stream(drafts, stream_seconds))
        in_flight = []
        started = time.monotonic()
        try:
            for at in kill_at:
                await asyncio.sleep(max(0.0, started + at - time.monotonic()))
                victim = rng.choice(workers)
                await victim.wait_started()
                in_flight.append(await rig.in_flight())
                rig.cut_offs.append(await victim.kill())
                await victim.start()
            await stream
        finally:
            stream.cancel()
        settled = await rig.settle(drafts, timeout=240)
        verdict = await rig.verdict(drafts, excuse_kills=True)
        what = f"{KILLS} kills (seed {SEED}, {min(in_flight)}-{max(in_flight)} publications in flight at each)"
        _say(capsys, verdict.summary(what))
        assert settled and not verdict.problems, _failure(rig, verdict, settled)
        assert len(rig.cut_offs) == KILLS


async def _outage_run(rig: ChaosRig, drafts: list[Draft], outage: Callable[[], Awaitable[str]]) -> tuple[str, bool]:
    """Stream the drafts, run `outage` OUTAGE_AT seconds in, the moment an Ozon import was accepted (its cards are
    pushed, their outcome not yet recorded: the window a careless retry pushes them again), and wait for the run to
    settle. Returns what happened and whether it settled."""
    stream = asyncio.create_task(rig.enqueue_stream(drafts, STREAM_SECONDS))
    try:
        await asyncio.sleep(OUTAGE_AT)
        waited = await rig.right_after_an_ozon_import()
        in_flight = await rig.in_flight()
        what = await outage()
        await stream
    finally:
        stream.cancel()
    settled = await rig.settle(drafts, timeout=180)
    when = f"{OUTAGE_AT + waited:.1f}s in, right after an Ozon import, with {in_flight} publications in flight"
    return f"{what} {when}", settled


async def _outage_scenario(
    capsys: pytest.CaptureFixture[str],
    name: str,
    make_outage: Callable[[ChaosRig, list[Draft]], Callable[[], Awaitable[str]]],
    *,
    sentinel: bool = False,
) -> None:
    async with ChaosRig(name, sentinel=sentinel) as rig:
        drafts = await rig.seed(EVERY_MARKETPLACE_300, random.Random(SEED))
        await rig.start_workers(2)
        what, settled = await _outage_run(rig, drafts, make_outage(rig, drafts))
        verdict = await rig.verdict(drafts, excuse_lost_leases=sentinel)
        if verdict.cut_off_runs:
            verdict.notes.append(f"{verdict.cut_off_runs} runs stopped after losing their lease")
        _say(capsys, verdict.summary(what))
        assert settled and not verdict.problems, _failure(rig, verdict, settled)


async def test_a_redis_restart_mid_run(capsys):
    def outage(rig: ChaosRig, drafts: list[Draft]) -> Callable[[], Awaitable[str]]:
        async def restart() -> str:
            stopped = time.time()
            await rig.redis.stop(signal.SIGTERM)  # a clean shutdown: the append-only file flushed, then reloaded
            await rig.redis.start()
            rig.outages.append((stopped, time.time()))
            return f"Redis restarted (away {time.time() - stopped:.1f}s)"

        return restart

    await _outage_scenario(capsys, "redis-restart", outage)


@pytest.mark.parametrize("kind", ["hung", "down"])
async def test_a_two_second_redis_blip_mid_run(capsys, kind):
    def outage(rig: ChaosRig, drafts: list[Draft]) -> Callable[[], Awaitable[str]]:
        async def blip() -> str:
            began = time.time()
            if kind == "hung":  # SIGSTOP: connections stay open and nothing answers, as in a network blip
                rig.redis.pause()
                await asyncio.sleep(2.0)
                rig.redis.resume()
            else:  # SIGKILL: connections reset and refused for 2 s, then the server is back on its append-only file
                await rig.redis.stop(signal.SIGKILL)
                await asyncio.sleep(2.0)
                await rig.redis.start()
            rig.outages.append((began, time.time()))
            return f"Redis {'hung (SIGSTOP, SIGCONT)' if kind == 'hung' else 'down (SIGKILL, restart)'} for 2s"

        return blip

    await _outage_scenario(capsys, f"redis-blip-{kind}", outage)


async def test_postgresql_stopped_for_ten_seconds_mid_run(capsys):
    def outage(rig: ChaosRig, drafts: list[Draft]) -> Callable[[], Awaitable[str]]:
        async def stop_postgres() -> str:
            await rig.postgres.stop()  # immediate: open connections cut
            stopped = time.time()
            await asyncio.sleep(10.0)
            await rig.postgres.start()
            rig.outages.append((stopped, time.time()))
            return f"PostgreSQL stopped for {time.time() - stopped:.1f}s"

        return stop_postgres

    await _outage_scenario(capsys, "postgres", outage)


async def test_a_sentinel_failover_mid_run(capsys):
    def outage(rig: ChaosRig, drafts: list[Draft]) -> Callable[[], Awaitable[str]]:
        assert rig.sentinel is not None and rig.replica is not None
        sentinel, replica = rig.sentinel, rig.replica

        async def failover() -> str:
            killed, wall = time.monotonic(), time.time()
            await rig.redis.stop(signal.SIGKILL)  # the master dies; the sentinel promotes the replica
            while await sentinel.master_port() != replica.port:
                assert time.monotonic() - killed < 30, "the sentinel did not promote the replica"
                await asyncio.sleep(0.1)
            promoted = time.monotonic() - killed
            rig.outages.append((wall, time.time()))
            # the README's advice to callers: an enqueue the old master took just before it died may be gone
            gone = await rig.enqueue_again_if_lost(drafts, since=wall - 5.0)
            return f"master SIGKILLed, replica promoted after {promoted:.1f}s ({gone} enqueues lost and repeated)"

        return failover

    await _outage_scenario(capsys, "sentinel", outage, sentinel=True)
