"""Every arq behaviour adolf/workers/arq_seam.py relies on, pinned: an arq upgrade that changes one fails here."""

import asyncio
import os
import signal
import sys
from datetime import datetime
from zoneinfo import ZoneInfo

from arq.jobs import Job, JobStatus

from adolf.lanes import LANES
from adolf.serialization import deserialize
from adolf.workers import arq_seam
from tests.support.processes import ROOT, settings_env

LOW = LANES["content_low"].queue


async def test_arq_s_enqueue_and_job_handle_speak_the_engine_s_keys(redis, burst):
    job = await redis.enqueue_job("tests.echo", value=5, _queue_name=LOW, _job_id="seam-1")
    assert await redis.zscore(LOW, "seam-1") is not None and await redis.exists("arq:job:seam-1")
    assert await redis.enqueue_job("tests.echo", value=6, _queue_name=LOW, _job_id="seam-1") is None  # id taken
    await burst(["content_low"])
    assert await job.status() == JobStatus.complete
    info = await Job("seam-1", redis, _queue_name=LOW, _deserializer=deserialize).result_info()
    assert (info.success, info.result, info.job_try, info.function) == (True, {"value": 5, "try": 1}, 1, "tests.echo")
    # a kept result still blocks the id (cron slots and unique jobs rely on it)
    assert await redis.enqueue_job("tests.echo", value=6, _queue_name=LOW, _job_id="seam-1") is None


async def test_the_seam_s_enqueue_is_arq_s_plus_a_wake_up(redis):
    job = await arq_seam.enqueue(redis, "tests.echo", {"value": 1}, queue=LOW, job_id="seam-2", defer_by=60)
    assert job is not None and await job.status() == JobStatus.deferred
    assert await redis.lrange(arq_seam.wake_key(LOW), 0, -1) == [b"1"]
    assert await arq_seam.enqueue(redis, "tests.echo", {"value": 1}, queue=LOW, job_id="seam-2") is None


def test_next_cron_is_the_next_matching_second_in_the_schedule_s_timezone():
    moscow = ZoneInfo("Europe/Moscow")
    after = datetime(2026, 11, 30, 3, 59, 59, tzinfo=moscow)
    assert arq_seam.next_cron_time(after, hour=4, minute=0, second=0) == datetime(2026, 11, 30, 4, 0, 0, tzinfo=moscow)
    at = datetime(2026, 11, 30, 4, 0, 0, tzinfo=moscow)
    assert arq_seam.next_cron_time(at, hour=4, minute=0, second=0).day == 1  # strictly after: the next day
    assert arq_seam.cron_job_id("cron:x", at) == f"cron:x:{int(at.timestamp() * 1000)}"


async def test_the_plain_arq_command_runs_a_lane_on_the_engine(redis, settings):
    env = settings_env(settings)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "arq", "adolf.workers.ContentLow", env=env, cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        job = await arq_seam.enqueue(redis, "adolf.ping", {"payload": "seam"}, queue=LOW)
        assert job is not None
        result = await job.result(timeout=30, poll_delay=0.05)
        assert result["pong"] == "seam" and result["pid"] == process.pid  # run by the arq command's process
        check = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "arq", "--check", "adolf.workers.ContentLow", env=env, cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        assert await check.wait() == 0
    finally:
        if process.returncode is None:
            os.kill(process.pid, signal.SIGTERM)
    assert await asyncio.wait_for(process.wait(), 30) == 0


def test_sentinel_settings_become_arq_s():
    from tests.conftest import make_settings

    settings = make_settings(redis_sentinels=["127.0.0.1:26379"], redis_sentinel_master="adolf")
    redis = arq_seam.redis_settings(settings)
    assert (redis.sentinel, redis.host, redis.sentinel_master) == (True, [("127.0.0.1", 26379)], "adolf")
