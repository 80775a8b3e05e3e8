"""The worker process's HTTP probe: /health (alive), /ready (Redis, PostgreSQL, lanes polling), /metrics."""

from __future__ import annotations

import asyncio
import errno
import socket
import time
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest

from adolf.workers.lifecycle import Resources, StartupError

if TYPE_CHECKING:
    from arq.connections import ArqRedis

    from adolf.workers.engine import Lane

RESOURCES = web.AppKey("resources", Resources)
WORKERS = web.AppKey("workers", dict)

QUEUE_LENGTH = Gauge("adolf_queue_length", "Jobs waiting in a lane (due now and deferred)", ["lane"])
QUEUE_DUE = Gauge("adolf_queue_due", "Jobs in a lane whose time has come", ["lane"])
RUNNING = Gauge("adolf_jobs_running", "Jobs running in this process", ["lane"])


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    resources = request.app[RESOURCES]
    workers: dict[str, Lane] = request.app[WORKERS]
    checks = {
        "redis": await _probe(resources.redis.ping()),
        "postgres": await _probe(resources.db.fetchval("SELECT 1")),
        "lanes": {lane: _lane_state(w, resources.settings.health_check_interval) for lane, w in workers.items()},
    }
    ok = checks["redis"] == "ok" and checks["postgres"] == "ok" and all(v == "ok" for v in checks["lanes"].values())
    return web.json_response({"status": "ok" if ok else "unavailable", **checks}, status=200 if ok else 503)


PROBE_TIMEOUT = 2.0  # seconds a probe waits for a server: a hanging one (no answer, no reset) is away too


async def _probe(awaitable: object) -> str:
    try:
        await asyncio.wait_for(awaitable, PROBE_TIMEOUT)  # type: ignore[arg-type]
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


def _lane_state(lane: Lane, interval: float) -> str:
    if lane.main_task is None or lane.main_task.done():
        return "stopped"
    if time.time() - lane.last_poll > 3 * interval + 5:
        return "stalled"  # Redis has not answered its polls for a while
    return "ok"


async def metrics(request: web.Request) -> web.Response:
    """Always answers, Redis or not: a failed scrape reads as `up == 0` (AdolfWorkerDown) and lanes missing from it as
    AdolfLaneWithoutWorker, while an outage is /ready's to report. With Redis away (or hanging) the queue gauges keep
    their last values."""
    workers: dict[str, Lane] = request.app[WORKERS]
    try:
        counts = await asyncio.wait_for(_queue_counts(request.app[RESOURCES].redis, workers), PROBE_TIMEOUT)
    except Exception:
        counts = None
    for index, (lane, worker) in enumerate(workers.items()):
        if counts is not None:
            QUEUE_LENGTH.labels(lane).set(counts[2 * index])
            QUEUE_DUE.labels(lane).set(counts[2 * index + 1])
        else:
            QUEUE_LENGTH.labels(lane)  # a lane never counted is still reported (0)
            QUEUE_DUE.labels(lane)
        RUNNING.labels(lane).set(sum(not t.done() for t in worker.tasks.values()))
    return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _queue_counts(redis: ArqRedis, workers: dict[str, Lane]) -> list[int]:
    """Per lane: its queue's length, then how many of its jobs are due."""
    now_ms = int(time.time() * 1000)
    async with redis.pipeline(transaction=False) as pipe:
        for worker in workers.values():
            pipe.zcard(worker.queue)
            pipe.zcount(worker.queue, "-inf", now_ms)
        return await pipe.execute()


def create_app(resources: Resources, workers: dict[str, Lane]) -> web.Application:
    app = web.Application()
    app[RESOURCES] = resources
    app[WORKERS] = workers
    app.add_routes([web.get("/health", health), web.get("/ready", ready), web.get("/metrics", metrics)])
    return app


HOST = "0.0.0.0"


def port_taken(port: int) -> StartupError:
    return StartupError(
        f"port {port} is taken, so the health probe cannot listen on it: choose a free port with "
        f"ADOLF_HEALTH_PORT=<port> or --health-port <port> (0: no probe)"
    )


def check_port(port: int) -> None:
    """Raises StartupError when the health port cannot be bound (checked before anything else starts)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds
        try:
            probe.bind((HOST, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                raise (
                    port_taken(port)
                    if exc.errno == errno.EADDRINUSE
                    else StartupError(
                        f"port {port} needs privileges to listen on: choose another with ADOLF_HEALTH_PORT=<port> or "
                        f"--health-port <port> (0: no probe)"
                    )
                ) from None
            raise StartupError(f"the health probe cannot listen on port {port}: {exc.strerror}") from None


async def start_health_server(resources: Resources, workers: dict[str, Lane], *, port: int) -> web.AppRunner:
    runner = web.AppRunner(create_app(resources, workers), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, HOST, port).start()
    except OSError as exc:
        await runner.cleanup()
        if exc.errno == errno.EADDRINUSE:
            raise port_taken(port) from None
        raise StartupError(f"the health probe cannot listen on port {port}: {exc.strerror}") from None
    return runner
