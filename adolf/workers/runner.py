"""`adolf worker`: every lane (or a chosen few) in one process on uvloop, sharing one Redis pool, one asyncpg pool
and one aiohttp session per marketplace. SIGTERM/SIGINT: stop picking jobs, let running ones finish within the grace
period, hand the rest back to the queue; a second signal stops at once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Sequence

from aiohttp import web

from adolf.lanes import LANES
from adolf.settings import Settings
from adolf.workers import arq_seam
from adolf.workers.arq_seam import ArqRedis
from adolf.workers.catalog import REGISTRY
from adolf.workers.engine import Lane
from adolf.workers.health import check_port, start_health_server
from adolf.workers.lifecycle import Resources, check_servers
from adolf.workers.presence import Presence
from adolf.workers.registry import Registry
from adolf.workers.waker import Waker

logger = logging.getLogger(__name__)

WAKE_BLOCK = 5  # seconds one blocking pop for wake-ups lasts (the lanes' own fallback polls are separate)


async def connect_redis(settings: Settings) -> ArqRedis:
    return await arq_seam.connect(settings)


SCOUT_POOL_LANES = {"scout_heavy", "scout_export"}  # their jobs' work runs in the analysis pool, warmed at start


class LaneGroup:
    """Several lanes in one process, sharing its resources."""

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
        self.workers: dict[str, Lane] = {}
        self.resources: Resources | None = None
        self._redis: ArqRedis | None = None
        self._waker: asyncio.Task[None] | None = None
        self._warming: asyncio.Task[None] | None = None
        self._presence: Presence | None = None

    async def start(self) -> None:
        self._redis = await connect_redis(self.settings)
        self.resources = await Resources.open(self.settings, self._redis, failure_hooks=self.registry.failure_hooks())
        for lane in self.lanes:
            self.workers[lane] = Lane(lane, self.resources, self.resources.scripts, self.registry, burst=self.burst)
        if not self.burst and SCOUT_POOL_LANES & set(self.lanes):
            self._warming = asyncio.create_task(self.resources.analysis_pool.warm(), name="adolf-scout-pool")

    async def run(self) -> None:
        """Until stopped (or, in burst mode, until the lanes' queues are empty)."""
        waker = Waker(self._redis, list(self.workers.values()), timeout=WAKE_BLOCK)
        self._waker = asyncio.create_task(waker.run(), name="adolf-waker")
        self._presence = Presence(self._redis, self.workers, self.settings.health_check_interval)
        presence = asyncio.create_task(self._presence.run(), name="adolf-presence")
        try:
            await asyncio.gather(*(lane.run() for lane in self.workers.values()))
        finally:
            for task in (self._waker, presence):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def stop(self, *, graceful: bool = True) -> None:
        """Graceful: stop picking jobs, wait up to the grace period, then hand running jobs back to the queue."""
        grace = self.settings.shutdown_grace_seconds if graceful else 0.0
        for lane in self.workers.values():
            lane.stop(hand_back_after=grace)

    async def close(self) -> None:
        if self._warming is not None:
            with contextlib.suppress(Exception):
                await self._warming
        if self.resources is not None:
            await self.resources.close()
        if self._redis is not None:
            if self._presence is not None:
                await self._presence.close()
            with contextlib.suppress(Exception):
                for lane in self.workers.values():
                    await self._redis.delete(arq_seam.health_key(lane.queue))
            await self._redis.aclose()


async def run_lanes(
    settings: Settings,
    *,
    lanes: Sequence[str] | None = None,
    registry: Registry = REGISTRY,
    burst: bool = False,
    health_port: int | None = None,
) -> None:
    """`adolf worker`: run lanes until SIGTERM/SIGINT (or until their queues are empty, with burst).

    Fails fast (StartupError, one line naming the setting) when the health port is taken or Redis or PostgreSQL
    does not answer at start; an outage after the start never ends it."""
    if health_port is not None:
        check_port(health_port)
    await check_servers(settings)
    group = LaneGroup(settings, lanes=lanes, registry=registry, burst=burst)
    health: web.AppRunner | None = None
    try:
        await group.start()
        if health_port is not None and group.resources is not None:
            health = await start_health_server(group.resources, group.workers, port=health_port)
    except BaseException:
        await group.close()
        raise
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
