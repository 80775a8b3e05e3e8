"""What every worker-core benchmark needs: a Redis server of its own (so nothing else's commands are counted),
a fresh `adolf_bench` database on the configured PostgreSQL, and worker processes whose CPU and memory are watched.
Everything runs on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psutil

from adolf.bench.servers import OwnRedis, stop_process
from adolf.settings import Settings
from adolf.workers import arq_seam
from adolf.workers.arq_seam import ArqRedis

Say = Callable[[str], None]


class Proc:
    """A child process (a worker under test), its log in a temporary file, its CPU and peak memory sampled."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path | None = None) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log = log or Path(tempfile.gettempdir()) / f"adolf-bench-{name}-{os.getpid()}.log"
        self.process: asyncio.subprocess.Process | None = None
        self.peak_rss = 0
        self._ps: psutil.Process | None = None

    async def start(self) -> None:
        with self.log.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(*self.args, env=self.env, stdout=log, stderr=log)
        self._ps = psutil.Process(self.process.pid)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def sample(self) -> None:
        if self._ps is not None and self.process is not None and self.process.returncode is None:
            with contextlib.suppress(psutil.Error):
                self.peak_rss = max(self.peak_rss, self._ps.memory_info().rss)

    def cpu_seconds(self) -> float:
        if self._ps is None:
            return 0.0
        with contextlib.suppress(psutil.Error):
            times = self._ps.cpu_times()
            return times.user + times.system
        return 0.0

    async def kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    async def stop(self) -> None:
        await stop_process(self.process)


class Bench:
    """A throwaway Redis for one benchmark run, and the environment its workers get."""

    def __init__(self, settings: Settings, say: Say, *, fresh_database: bool = True) -> None:
        self.settings = settings
        self.fresh_database = fresh_database
        self.say = say
        self.redis_server = OwnRedis(Path(tempfile.mkdtemp(prefix="adolf-bench-redis-")), args=("--appendonly", "no"))
        self.redis: ArqRedis | None = None
        self.procs: list[Proc] = []

    async def __aenter__(self) -> Bench:
        if self.fresh_database:
            from adolf.bench.publish_limits import fresh_database

            url = await fresh_database(self.settings)
            self.settings = self.settings.model_copy(update={"database_url": url})
        await self.redis_server.start()
        self.redis = await arq_seam.connect(self.settings.model_copy(update={"redis_url": self.redis_server.url()}))
        return self

    async def __aexit__(self, *exc: object) -> None:
        for proc in self.procs:
            await proc.stop()
        if self.redis is not None:
            await self.redis.aclose()
        await self.redis_server.stop()

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ADOLF_", "BARE_ARQ_"))}
        env.update(
            ADOLF_REDIS_URL=self.redis_server.url(),
            ADOLF_DATABASE_URL=self.settings.database_url,
            ADOLF_LOG_LEVEL="WARNING",
            ADOLF_LOG_FORMAT="json",
            **extra,
        )
        return env

    async def adolf_worker(self, lanes: str, *, cron: bool = False, **extra: str) -> Proc:
        args = [sys.executable, "-m", "adolf.bench.worker", lanes, *([] if cron else ["--no-cron"])]
        proc = Proc(f"adolf-{len(self.procs)}", args, self.env(**extra))
        return await self._started(proc, arq_seam.health_key(_queue(lanes.split(",")[0])))

    async def bare_arq_worker(self, queue: str, *, max_jobs: int, poll_delay: float) -> Proc:
        env = self.env(BARE_ARQ_QUEUE=queue, BARE_ARQ_MAX_JOBS=str(max_jobs), BARE_ARQ_POLL_DELAY=str(poll_delay))
        proc = Proc(f"arq-{len(self.procs)}", [sys.executable, "-m", "arq", "adolf.bench.bare_arq.WorkerSettings"], env)
        return await self._started(proc, arq_seam.health_key(queue))

    async def _started(self, proc: Proc, health_key: str) -> Proc:
        assert self.redis is not None
        await self.redis.delete(health_key)
        await proc.start()
        self.procs.append(proc)
        deadline = time.monotonic() + 60
        while not await self.redis.exists(health_key):
            if time.monotonic() > deadline or (proc.process and proc.process.returncode is not None):
                raise RuntimeError(f"{proc.name} did not start (see {proc.log})")
            await asyncio.sleep(0.05)
        return proc

    async def commands_processed(self) -> int:
        assert self.redis is not None
        return int((await self.redis.info("stats"))["total_commands_processed"])


def _queue(lane: str) -> str:
    from adolf.lanes import LANES

    return LANES[lane].queue


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def median(values: list[float]) -> float:
    return statistics.median(values)


async def until(check: Callable[[], Awaitable[Any]], *, timeout: float, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            return value
        await asyncio.sleep(interval)
