"""Real worker processes: cron fires once per schedule across processes, crashes and shutdowns lose no job."""

import asyncio
import signal
import time

from adolf.lanes import LANES
from tests.support.waiting import eventually

SLOW_QUEUE = LANES["content_default"].queue


async def test_two_worker_processes_running_the_same_cron_table_fire_each_schedule_once(redis, worker_processes):
    first = await worker_processes.start("scout_default", "--cron")
    second = await worker_processes.start("scout_default", "--cron")

    async def fired_slots():
        keys = await redis.keys("tests:cron:*")
        return keys if len(keys) >= 5 else None

    keys = await eventually(fired_slots, timeout=30, interval=0.2, what="five cron slots fired")
    counts = [int(await redis.get(key)) for key in keys]
    assert counts == [1] * len(keys), dict(zip(keys, counts, strict=True))
    logs = worker_processes.log_of(first) + worker_processes.log_of(second)
    assert "tests.cron_probe success" in logs


async def test_a_job_of_a_sigkilled_worker_is_taken_over_within_its_lease(redis, worker_processes, settings):
    victim = await worker_processes.start("content_default")
    job = await redis.enqueue_job("tests.slow", key="k", seconds=1.5, _queue_name=SLOW_QUEUE)
    starts = await eventually(lambda: redis.lrange("tests:slow:k", 0, -1), what="job started")
    assert starts == [f"{victim}:1".encode()]

    await worker_processes.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()
    rescuer = await worker_processes.start("content_default")

    result = await job.result(timeout=60, poll_delay=0.1)
    taken_over_after = time.monotonic() - killed_at
    assert result == {"slept": 1.5}
    assert await redis.lrange("tests:slow:k", 0, -1) == [f"{victim}:1".encode(), f"{rescuer}:2".encode()]
    # arq alone waits timeout + 10 s (70 s here); the renewed lease hands the job over after job_lease_seconds
    assert taken_over_after < settings.job_lease_seconds + 20


async def test_sigterm_lets_a_running_job_finish_within_the_grace_period(redis, worker_processes):
    pid = await worker_processes.start("content_default")
    job = await redis.enqueue_job("tests.slow", key="g", seconds=1.0, _queue_name=SLOW_QUEUE)
    await eventually(lambda: redis.lrange("tests:slow:g", 0, -1), what="job started")

    exit_code = await worker_processes.kill(pid, signal.SIGTERM)

    assert exit_code == 0
    assert (await job.result_info()).result == {"slept": 1.0}
    assert await redis.lrange("tests:slow-done:g", 0, -1) == [str(pid).encode()]


async def test_sigterm_hands_a_job_longer_than_the_grace_period_back_to_the_queue(redis, worker_processes):
    pid = await worker_processes.start("content_default", ADOLF_SHUTDOWN_GRACE_SECONDS="1")
    job = await redis.enqueue_job("tests.slow", key="h", seconds=3, _queue_name=SLOW_QUEUE)
    await eventually(lambda: redis.lrange("tests:slow:h", 0, -1), what="job started")

    assert await worker_processes.kill(pid, signal.SIGTERM) == 0

    assert await redis.zscore(SLOW_QUEUE, job.job_id) is not None  # back in the queue, due at once
    assert await redis.exists(f"arq:in-progress:{job.job_id}") == 0
    assert await redis.lrange("tests:slow-done:h", 0, -1) == []
    assert await redis.get(f"arq:retry:{job.job_id}") == b"0"  # the cut-off run cost no try

    successor = await worker_processes.start("content_default")
    assert await job.result(timeout=30, poll_delay=0.1) == {"slept": 3}
    assert await redis.lrange("tests:slow:h", 0, -1) == [f"{pid}:1".encode(), f"{successor}:1".encode()]


async def test_adolf_check_answers_per_lane(redis, worker_processes, settings):
    import sys

    from tests.support.processes import ROOT, settings_env

    async def check(*lanes):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "adolf",
            "check",
            "--lanes",
            ",".join(lanes),
            cwd=ROOT,
            env=settings_env(settings),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await process.communicate()
        return process.returncode, out.decode()

    assert (await check("content_default"))[0] == 1
    await worker_processes.start("content_default")
    await eventually(lambda: redis.exists("adolf:queue:content_default:health-check"), what="health record")
    code, out = await check("content_default")
    assert code == 0 and "j_complete=" in out
    assert (await check("content_default", "scout_heavy"))[0] == 1


async def test_a_run_whose_lease_was_taken_over_stops_renewing_it(redis, settings):
    from adolf.workers.arq_seam import Scripts
    from adolf.workers.lease import Leases

    leases = Leases(Scripts(redis), lease_seconds=0.3)
    await redis.set("arq:in-progress:job-x", b"run-x", px=10_000)  # the claims, with each run's token
    await redis.set("arq:in-progress:job-y", b"run-y", px=10_000)
    lease = leases.hold("job-x", "run-x")
    kept = leases.hold("job-y", "run-y")

    async def renewed():
        return 0 < await redis.pttl("arq:in-progress:job-y") <= 300

    await eventually(renewed, what="leases renewed to the short lease")
    await redis.set("arq:in-progress:job-x", b"another-worker", px=10_000)  # the key expired and was claimed again
    await asyncio.wait_for(lease.lost.wait(), 2)  # the first holder notices and gives up
    assert await redis.get("arq:in-progress:job-x") == b"another-worker"
    assert await redis.pttl("arq:in-progress:job-x") > 5_000  # and did not shorten the new holder's lease
    assert not kept.lost.is_set() and 0 < await redis.pttl("arq:in-progress:job-y") <= 300
    await leases.close()
