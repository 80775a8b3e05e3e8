"""Instant pickup: one blocking pop per process over every lane's wake list (pushed with each enqueue), so an idle
lane starts a new job within milliseconds while Redis sees one command per `timeout` seconds when nothing happens.
Lanes still poll as a fallback (a job enqueued by plain arq pushes no wake-up)."""

from __future__ import annotations

import asyncio
import logging

from adolf.workers.arq_seam import ArqRedis, wake_key
from adolf.workers.engine import Backoff, Lane

logger = logging.getLogger(__name__)


class Waker:
    def __init__(self, redis: ArqRedis, lanes: list[Lane], *, timeout: float) -> None:
        self.redis = redis
        self.by_key = {wake_key(lane.queue).encode(): lane for lane in lanes}
        self.timeout = max(1, round(timeout))

    async def run(self) -> None:
        backoff = Backoff()
        keys = list(self.by_key)
        while True:
            try:
                popped = await self.redis.blpop(keys, timeout=self.timeout)
                backoff.reset()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.debug("wake-up list unavailable (%s)", exc)
                await asyncio.sleep(backoff.next())
                continue
            if popped is not None:
                lane = self.by_key.get(popped[0])
                if lane is not None:
                    lane.wake.set()
