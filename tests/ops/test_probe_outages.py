"""The worker's probe through outages (deploy/README.md "Probes"): a real `adolf worker` process on a PostgreSQL and a
Redis of the test's own (adolf/bench/servers.py: free loopback ports, stopped by pid or by their own data directory,
never the configured servers). When Redis is killed or hangs, or PostgreSQL stops, /ready answers 503 naming the
server within a deadline while /health keeps answering 200 (the process is alive: liveness must not restart a worker
over an outage) and /metrics keeps answering (a scrape failing would read as `up == 0`, AdolfWorkerDown); once the
server is back, /ready is 200 again, and the worker never exits."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from adolf.bench.servers import OwnPostgres, OwnRedis, free_port
from adolf.db.migrate import migrate
from tests.conftest import make_settings
from tests.support.processes import WorkerProcesses
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(300)

LANES = ("content_high", "content_low")
STARTED = 60.0  # seconds for the worker to start and be ready
FLIP = 15.0  # seconds for /ready to notice an outage (each server's probe gives up after 2 s)
BACK = 30.0  # seconds for /ready to be 200 again: reconnecting, and the lanes' backoff (5 s at most) before a poll
PROBE_LIMIT = 5.0  # seconds any probe may take to answer during an outage (2 s a server, and a margin)


@dataclass
class ProbedWorker:
    """An `adolf worker` process on servers of the test's own, and its probe."""

    postgres: OwnPostgres
    redis: OwnRedis
    processes: WorkerProcesses
    pid: int
    url: str
    session: aiohttp.ClientSession

    @property
    def process(self) -> asyncio.subprocess.Process:
        return next(p for p in self.processes.processes if p.pid == self.pid)

    def log(self, lines: int = 30) -> str:
        return "\n".join(self.processes.log_of(self.pid).splitlines()[-lines:])

    def assert_alive(self) -> None:
        code = self.process.returncode
        assert code is None, f"the worker exited with code {code}:\n{self.log()}"

    async def get(self, path: str) -> tuple[int, Any, float]:
        """Status, body (JSON or text) and the seconds the probe took to answer."""
        started = time.monotonic()
        async with self.session.get(f"{self.url}{path}") as response:
            if response.content_type == "application/json":
                body: Any = await response.json()
            else:
                body = await response.text()
            return response.status, body, time.monotonic() - started

    async def ready(self, *, timeout: float) -> dict[str, Any]:
        """Wait for /ready to answer 200; its body."""

        async def check() -> dict[str, Any] | None:
            self.assert_alive()
            with contextlib.suppress(aiohttp.ClientConnectionError):
                status, body, _ = await self.get("/ready")
                return body if status == 200 else None
            return None

        body = await eventually(check, timeout=timeout, interval=0.1, what="/ready answering 200")
        assert body["status"] == "ok" and body["redis"] == "ok" and body["postgres"] == "ok", body
        assert body["lanes"] == dict.fromkeys(LANES, "ok"), body
        return body

    async def unready(self, server: str) -> dict[str, Any]:
        """Wait for /ready to answer 503 with `server` not ok; its body. Every answer must come within PROBE_LIMIT."""

        async def check() -> dict[str, Any] | None:
            self.assert_alive()
            status, body, took = await self.get("/ready")
            assert took < PROBE_LIMIT, f"/ready took {took:.1f}s to answer ({status} {body})"
            assert status in (200, 503), (status, body)
            if status == 503:
                assert body["status"] == "unavailable", body
                return body if body[server] != "ok" else None
            return None

        return await eventually(check, timeout=FLIP, interval=0.1, what=f"/ready answering 503 without {server}")

    async def assert_alive_and_scraped(self) -> None:
        """/health says the process is alive, /metrics still answers, both at once."""
        status, body, took = await self.get("/health")
        assert (status, body) == (200, {"status": "ok"}) and took < PROBE_LIMIT, (status, body, took)
        status, text, took = await self.get("/metrics")
        assert status == 200 and took < PROBE_LIMIT, (status, str(text)[:500], took)
        for lane in LANES:
            assert (
                f'adolf_queue_length{{lane="{lane}"}}' in text
            )  # every lane still reported: no AdolfLaneWithoutWorker
        self.assert_alive()


@pytest.fixture
async def probed_worker() -> AsyncIterator[ProbedWorker]:
    directory = Path(tempfile.mkdtemp(prefix="adolf-probe-outages-"))
    postgres = OwnPostgres()  # a directory of its own: the server runs as the postgres user
    redis = OwnRedis(directory / "redis")
    processes: WorkerProcesses | None = None
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20))
    try:
        await postgres.start()
        admin = await asyncpg.connect(postgres.url(), timeout=10)
        try:
            await admin.execute('CREATE DATABASE "adolf_probe"')
        finally:
            await admin.close()
        await migrate(postgres.url("adolf_probe"))
        await redis.start()
        settings = make_settings(database_url=postgres.url("adolf_probe"), redis_url=redis.url())
        processes = WorkerProcesses(settings)
        port = free_port()
        pid = await processes.start(
            "worker", "--lanes", ",".join(LANES), "--health-port", str(port), module="adolf", ADOLF_LOG_FORMAT="json"
        )
        worker = ProbedWorker(postgres, redis, processes, pid, f"http://127.0.0.1:{port}", session)
        await worker.ready(timeout=STARTED)
        yield worker
    finally:
        if processes is not None:
            for process in processes.processes:  # a clean stop first (by pid), then stop_all kills what is left
                if process.returncode is None:
                    with contextlib.suppress(ProcessLookupError):
                        process.send_signal(signal.SIGTERM)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(process.wait(), 15)
            await processes.stop_all()
        await session.close()
        await redis.stop(signal.SIGKILL)
        await postgres.remove()
        shutil.rmtree(directory, ignore_errors=True)


async def _outage(
    worker: ProbedWorker, server: str, stop: Callable[[], Awaitable[None]], start: Callable[[], Awaitable[None]]
) -> dict[str, Any]:
    """Ready; `stop` → 503 naming `server` (the other server still ok), alive and scraped; `start` → ready again.
    Returns the 503 body."""
    await worker.ready(timeout=BACK)
    await stop()
    body = await worker.unready(server)
    other = "postgres" if server == "redis" else "redis"
    assert body[other] == "ok", body
    await worker.assert_alive_and_scraped()
    await start()
    await worker.ready(timeout=BACK)
    await worker.assert_alive_and_scraped()
    return body


async def test_ready_follows_a_redis_crash_and_restart(probed_worker):
    async def crash() -> None:
        await probed_worker.redis.stop(signal.SIGKILL)  # by pid: the redis-server this test started

    body = await _outage(probed_worker, "redis", crash, probed_worker.redis.start)
    assert body["redis"].startswith("error: "), body
    # and a second time: the restart did not leave the probe (or the worker) on a broken connection
    await _outage(probed_worker, "redis", crash, probed_worker.redis.start)


async def test_ready_follows_a_hanging_redis(probed_worker):
    """SIGSTOP: connections stay open and nothing answers; the probe must give up on its own (2 s), not hang."""

    async def hang() -> None:
        probed_worker.redis.pause()

    async def resume() -> None:
        probed_worker.redis.resume()

    body = await _outage(probed_worker, "redis", hang, resume)
    assert body["redis"] == "error: TimeoutError", body


async def test_ready_follows_a_postgresql_stop_and_start(probed_worker):
    # pg_ctl -m immediate on the test's own cluster (its data directory): the postmaster and its backends go at once
    body = await _outage(probed_worker, "postgres", probed_worker.postgres.stop, probed_worker.postgres.start)
    assert body["postgres"].startswith("error: "), body
    await _outage(probed_worker, "postgres", probed_worker.postgres.stop, probed_worker.postgres.start)
