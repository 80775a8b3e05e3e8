"""`adolf worker`: every lane (or a chosen few) in one process on uvloop, sharing one Redis pool, one asyncpg pool
and one aiohttp session per marketplace. SIGTERM/SIGINT: stop picking jobs, let running ones finish within the grace
period, hand the rest back to the queue; a second signal stops at once."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence

from aiohttp import web
from arq.connections import ArqRedis, create_pool

from adolf.lanes import LANES
from adolf.settings import Settings
from adolf.workers.catalog import REGISTRY
from adolf.workers.engine import LaneWorker, worker_kwargs
from adolf.workers.health import start_health_server
from adolf.workers.lifecycle import Resources
from adolf.workers.registry import Registry
from adolf.workers.serialization import JobSerializer, deserialize

logger = logging.getLogger(__name__)


async def connect_redis(settings: Settings, serializer: JobSerializer | None = None) -> ArqRedis:
    return await create_pool(
        settings.redis_settings, job_serializer=serializer or JobSerializer(), job_deserializer=deserialize
    )


class LaneGroup:
    """Several lanes' arq workers in one process, sharing its resources."""

    def __init__(
        self,
        settings: Settings,
        *,
        lanes: Sequence[str] | None = None,
        registry: Registry = REGISTRY,
        burst: bool = False,
    ) -> None:
        self.settings = settings
        self.lanes = list(lanes or LANES)
        self.registry = registry
        self.burst = burst
        self.workers: dict[str, LaneWorker] = {}
        self.resources: Resources | None = None
        self._redis: ArqRedis | None = None

    async def start(self) -> None:
        serializer = JobSerializer()
        self._redis = await connect_redis(self.settings, serializer)
        self.resources = await Resources.open(self.settings, self._redis, failure_hooks=self.registry.failure_hooks())
        serializer.sink = self.resources.dead_letters.submit_result
        ctx = {"settings": self.settings, "resources": self.resources, "serializer": serializer}
        for lane in self.lanes:
            self.workers[lane] = LaneWorker(
                **worker_kwargs(lane, self.settings, self.registry, serializer),
                redis_pool=self._redis,
                ctx=ctx,
                lease_seconds=self.settings.job_lease_seconds,
                handle_signals=False,
                burst=self.burst,
            )

    async def run(self) -> None:
        """Until stopped (or, in burst mode, until the lanes' queues are empty)."""
        await asyncio.gather(*(w.run_until_stopped() for w in self.workers.values()))

    def stop(self, *, graceful: bool = True) -> None:
        """Graceful: stop picking jobs, wait up to the grace period, then hand running jobs back to the queue."""
        for worker in self.workers.values():
            if graceful:
                worker.handle_sig_wait_for_completion(signal.SIGTERM)
            else:
                worker.handle_sig(signal.SIGTERM)

    async def close(self) -> None:
        for worker in self.workers.values():
            await worker.close()
        if self.resources is not None:
            await self.resources.close()
        if self._redis is not None:
            await self._redis.aclose()


async def run_lanes(
    settings: Settings,
    *,
    lanes: Sequence[str] | None = None,
    registry: Registry = REGISTRY,
    burst: bool = False,
    health_port: int | None = None,
) -> None:
    """`adolf worker`: run lanes until SIGTERM/SIGINT (or until their queues are empty, with burst)."""
    group = LaneGroup(settings, lanes=lanes, registry=registry, burst=burst)
    await group.start()
    health: web.AppRunner | None = None
    if health_port is not None and group.resources is not None:
        health = await start_health_server(group.resources, group.workers, port=health_port)
    _install_signal_handlers(group)
    logger.info("worker started", extra={"lanes": group.lanes, "health_port": health_port})
    try:
        await group.run()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().remove_signal_handler(signum)
        if health is not None:
            await health.cleanup()
        await group.close()
        logger.info("worker stopped")


def _install_signal_handlers(group: LaneGroup) -> None:
    received = []

    def on_signal(signum: signal.Signals) -> None:
        received.append(signum)
        logger.info("received %s: %s", signum.name, "finishing running jobs" if len(received) == 1 else "stopping now")
        group.stop(graceful=len(received) == 1)

    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, on_signal, signum)
