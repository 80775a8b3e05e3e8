"""Issue 8's findings, each reproduced on real Redis and PostgreSQL: a lost lease, a cron run handed back, Redis
restarts and blips, broken database connections, the try counter after a take-over, pickup, and the seam over arq."""

import asyncio
import signal
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from arq.jobs import Job

from adolf.bench.servers import OwnRedis
from adolf.errors import is_infra_error
from adolf.lanes import LANES
from adolf.models.content import DeadLetter
from adolf.serialization import deserialize
from adolf.workers.failures import store_dead_letter
from adolf.workers.runner import LaneGroup, connect_redis
from tests.conftest import make_settings
from tests.support.jobs import SLOW_CRON_REGISTRY, TEST_REGISTRY
from tests.support.waiting import eventually

SLOW = LANES["content_default"].queue
ROOT = Path(__file__).resolve().parents[2]


async def _started(redis, key: str, count: int = 1) -> list[bytes]:
    async def started():
        runs = await redis.lrange(f"tests:slow:{key}", 0, -1)
        return runs if len(runs) >= count else None

    return await eventually(started, what=f"run {count} of {key} started")


async def test_a_run_whose_lease_is_lost_stops_at_once_and_never_touches_the_next_run_of_its_id(
    redis, lane_group, client
):
    await lane_group(["content_default"])
    first = await redis.enqueue_job("tests.slow", key="A", seconds=4, _queue_name=SLOW, _job_id="same")
    await _started(redis, "A")
    # another worker took the job over (this process stalled past its lease), ran it and finished it -- in one
    # transaction, as a finish is one script: a claim between separate commands would see a job half finished
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete("arq:in-progress:same", "arq:job:same", "arq:retry:same")
        pipe.zrem(SLOW, "same")
        await pipe.execute()
    # ...and the same id was enqueued again
    second = await redis.enqueue_job("tests.slow", key="B", seconds=0.2, _queue_name=SLOW, _job_id="same")
    assert first is not None and second is not None

    assert await second.result(timeout=10, poll_delay=0.05) == {"slept": 0.2}
    cancelled = await eventually(lambda: redis.lrange("tests:slow-cancelled:A", 0, -1), what="the stale run stopped")
    assert len(cancelled) == 1 and await redis.lrange("tests:slow-done:A", 0, -1) == []
    assert (await second.result_info()).result == {"slept": 0.2}  # its result, not the stale run's
    assert len(await redis.lrange("tests:slow:B", 0, -1)) == 1


async def test_a_deferred_run_whose_lease_was_taken_over_gives_back_no_try_of_the_new_run(redis, lane_group):
    await lane_group(["content_default"])
    await redis.enqueue_job("tests.defer_later", key="D", seconds=2.5, _queue_name=SLOW, _job_id="deferred")
    await _started(redis, "D")
    await redis.set("arq:in-progress:deferred", "another-worker", px=60_000)  # taken over, on its first try
    await redis.set("arq:retry:deferred", 1, ex=3600)
    await eventually(lambda: redis.lrange("tests:slow-cancelled:D", 0, -1), what="the stale run stopped")
    assert await redis.get("arq:retry:deferred") == b"1" and await redis.ttl("arq:retry:deferred") > 0


async def test_a_cron_run_handed_back_at_shutdown_runs_its_slot_again(redis, db):
    settings = make_settings(shutdown_grace_seconds=0.0)
    slot = "cron:tests.slow:1000"
    await redis.enqueue_job("cron:tests.slow", _queue_name=SLOW, _job_id=slot)
    group = LaneGroup(settings, lanes=["content_default"], registry=SLOW_CRON_REGISTRY)
    await group.start()
    running = asyncio.create_task(group.run())
    await _started(redis, "cron")
    group.stop(graceful=True)  # a deploy whose grace period the run outlasts
    await asyncio.wait_for(running, 10)
    await group.close()
    assert await redis.lrange("tests:slow-done:cron", 0, -1) == []

    again = LaneGroup(settings, lanes=["content_default"], registry=SLOW_CRON_REGISTRY, burst=True)
    await again.start()
    await asyncio.wait_for(again.run(), 30)
    await again.close()
    result = await Job(slot, redis, _queue_name=SLOW, _deserializer=deserialize).result_info()
    assert result.success and result.result == {"slept": 1.5} and result.job_try == 1  # the slot ran, no try lost
    assert len(await redis.lrange("tests:slow-done:cron", 0, -1)) == 1


@pytest.mark.parametrize("outage", ["restart", "blip", "hang"])
async def test_redis_going_away_never_ends_the_worker_and_loses_no_job(tmp_path, db, outage):
    server = OwnRedis(tmp_path / "redis")
    await server.start()
    settings = make_settings(redis_url=server.url(), job_lease_seconds=6.0)
    group = LaneGroup(settings, lanes=["content_default", "content_low"], registry=TEST_REGISTRY)
    await group.start()
    running = asyncio.create_task(group.run())
    redis = await connect_redis(settings)
    try:
        across = await redis.enqueue_job("tests.slow", key="X", seconds=3, _queue_name=SLOW)
        await _started(redis, "X")
        if outage == "restart":  # deploy/'s Redis restarted: a clean shutdown, its append-only file reloaded
            await server.stop(signal.SIGTERM)
            await asyncio.sleep(1.0)
            await server.start()
        elif outage == "blip":  # Redis gone for 2 s (crashed and back)
            await server.stop(signal.SIGKILL)
            await asyncio.sleep(2.0)
            await server.start()
        else:
            server.pause()  # the server hangs for 2 s
            await asyncio.sleep(2.0)
            server.resume()
        assert not running.done()
        after = await redis.enqueue_job("tests.echo", value=7, _queue_name=LANES["content_low"].queue)
        assert await after.result(timeout=30, poll_delay=0.1) == {"value": 7, "try": 1}
        assert await across.result(timeout=30, poll_delay=0.1) == {"slept": 3}
        assert len(await redis.lrange("tests:slow-done:X", 0, -1)) == 1  # the running job finished once
        assert not running.done()
    finally:
        group.stop(graceful=False)
        await asyncio.wait_for(running, 20)
        await group.close()
        await redis.aclose()
        await server.stop()


def test_a_connection_broken_mid_query_is_an_infrastructure_error():
    broken = asyncpg.exceptions.InternalClientError("cannot switch to state 15; another operation is in progress")
    assert is_infra_error(broken)


async def test_a_dead_letter_holding_a_nul_byte_is_stored_with_its_alert(db):
    letter = DeadLetter(
        job_id="nul",
        job_name="tests.echo",
        queue="content_low",
        args=["a\x00b"],
        kwargs={"k\x00": "v\x00"},
        exception="ValueError: bad \x00 byte",
        error_code="INVALID_ARGS",
        tries=1,
        enqueued_at=datetime.now(UTC),
    )
    row = await store_dead_letter(db, letter)
    assert row is not None and "\x00" not in row.exception
    alert = await db.fetchrow("SELECT * FROM notifications WHERE kind = 'alert'")
    assert alert is not None and "\x00" not in str(alert["data"]) and "bad" in alert["data"]["message"]


async def test_infra_alerts_raised_while_postgresql_is_away_are_stored_once_it_answers(db, redis, sandbox_server):
    from adolf.workers.lifecycle import Resources

    away = make_settings(sandbox_server.url, database_url="postgresql://postgres@127.0.0.1:1/adolf")
    resources = await Resources.open(away, redis)
    try:
        await resources.infra_alert(ConnectionRefusedError("PostgreSQL away"), job_name="tests.echo")
        assert await db.fetchval("SELECT count(*) FROM notifications") == 0
        dead_pool, resources.db = resources.db, db  # PostgreSQL answers again
        await resources._store_alerts()
        resources.db = dead_pool
        stored = await db.fetchrow("SELECT * FROM notifications WHERE kind = 'alert'")
        assert stored is not None and "PostgreSQL away" in stored["data"]["message"]
    finally:
        await resources.close()


async def test_an_idle_worker_starts_a_new_job_without_waiting_for_its_poll(redis, client):
    group = LaneGroup(make_settings(poll_delay=30.0), lanes=["content_low"], registry=TEST_REGISTRY)
    await group.start()
    running = asyncio.create_task(group.run())
    try:
        await asyncio.sleep(0.3)  # idle: its first poll found nothing; the next one is 30 s away
        job = await client.enqueue("tests.echo", value=3)
        assert await job.result(timeout=5, poll_delay=0.02) == {"value": 3, "try": 1}  # woken, not polled
    finally:
        group.stop(graceful=False)
        await asyncio.wait_for(running, 10)
        await group.close()


async def test_a_crashed_runs_job_is_taken_over_the_moment_its_lease_runs_out(redis):
    low = LANES["content_low"].queue
    job = await redis.enqueue_job("tests.echo", value=5, _queue_name=low, _job_id="crashed")
    await redis.set("arq:in-progress:crashed", "a-worker-that-was-killed", px=1000)
    group = LaneGroup(make_settings(poll_delay=30.0), lanes=["content_low"], registry=TEST_REGISTRY)
    await group.start()
    running = asyncio.create_task(group.run())
    try:  # its first poll finds the job held; the next poll is 30 s away, the lease ends in 1 s
        assert await job.result(timeout=5, poll_delay=0.02) == {"value": 5, "try": 1}
    finally:
        group.stop(graceful=False)
        await asyncio.wait_for(running, 10)
        await group.close()


def test_only_the_seam_touches_arq():
    """The seam: its callers' side (queueing) and the worker's (arq_seam). (adolf/bench/bare_arq.py is bare arq on
    purpose: what the benchmarks compare ADOLF with.)"""
    touching = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "adolf").rglob("*.py")
        if path.name != "bare_arq.py"
        and any(line.startswith(("import arq", "from arq")) for line in path.read_text().splitlines())
    )
    assert touching == ["adolf/queueing.py", "adolf/workers/arq_seam.py"]


async def test_each_of_three_processes_on_one_queue_finds_work_past_the_jobs_the_others_run(redis, lane_group):
    """Review of issue 8: a claim read only its own window from the front of the queue, which the jobs other
    processes ran filled: with three processes of 150 slots, the second got 100 jobs and the third none."""
    for i in range(450):
        await redis.enqueue_job("tests.nap", key="scale", seconds=30, _queue_name=SLOW, _job_id=f"scale-{i}")
    settings = make_settings(concurrency={"content_default": 150})
    groups = [await lane_group(["content_default"], settings_=settings) for _ in range(3)]

    async def all_running():
        running = [len(group.workers["content_default"].tasks) for group in groups]
        return running if running == [150, 150, 150] else None

    await eventually(all_running, timeout=20, what="150 jobs running in each of the three processes")


async def test_a_run_cut_off_from_redis_stops_once_its_lease_has_run_out(redis, lane_group, db):
    """Review of issue 8: a renewal that never answers (Redis unreachable, no reset) left the run going beside the
    worker that took the job over. A lease unconfirmed for its whole length now stops its run."""
    group = await lane_group(["content_default"])
    await redis.enqueue_job("tests.slow", key="cut", seconds=30, _queue_name=SLOW, _job_id="cut-off")
    await _started(redis, "cut")
    await redis.zrem(SLOW, "cut-off")  # no second run once its lease has run out: this test watches the first
    leases = group.resources.leases

    async def never_answers(leases_to_renew):
        await asyncio.sleep(3600)

    leases._renew_all = never_answers  # the process can no longer reach Redis; Redis itself is fine
    cancelled = await eventually(
        lambda: redis.lrange("tests:slow-cancelled:cut", 0, -1), timeout=10, what="the cut-off run stopped"
    )
    assert len(cancelled) == 1 and await redis.lrange("tests:slow-done:cut", 0, -1) == []


async def test_a_claim_whose_answer_is_lost_costs_no_job_a_try(redis, lane_group):
    """Review of issue 8: when the claim also counted the tries, a claim Redis ran but whose answer never came back
    (a hang past the poll limit, a reset) used up a try of every job in it; a one-try job then failed unrun."""
    group = await lane_group(["content_low"])
    scripts = group.resources.scripts
    real_claim, lost = scripts.claim, []

    async def answer_lost(*args, **kwargs):
        poll = await real_claim(*args, **kwargs)
        if poll.claimed and not lost:
            lost.extend(poll.claimed)
            raise ConnectionError("the connection reset before the claim's answer arrived")
        return poll

    scripts.claim = answer_lost
    job = await redis.enqueue_job("tests.echo", value=4, _queue_name=LANES["content_low"].queue)
    group.workers["content_low"].wake.set()
    assert await job.result(timeout=20, poll_delay=0.05) == {"value": 4, "try": 1}
    assert [c.job_id for c in lost] == [job.job_id]


async def test_a_job_deferred_past_its_payload_expiry_keeps_its_payload(redis, lane_group):
    """Review of issue 8: a deferral (Ozon's daily quota: up to a day) outlived the payload's expiry, enqueue time plus
    a day, and the job then failed as expired."""
    group = await lane_group(["content_default"])
    job = await redis.enqueue_job("tests.defer_later", key="far", seconds=0, _queue_name=SLOW, _job_id="far")
    await redis.pexpire("arq:job:far", 60_000)  # as if enqueued almost a day ago

    async def deferred():
        score = await redis.zscore(SLOW, "far")
        return score if score and score > (time.time() + 30) * 1000 else None

    score = await eventually(deferred, what="the job deferred")
    assert await redis.pttl("arq:job:far") > score - time.time() * 1000 + 86_000_000  # a day past its due time
    assert group.workers["content_default"].jobs_retried >= 1 and job.job_id == "far"
