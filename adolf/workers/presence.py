"""Each worker process says it is alive: a key `adolf:worker:<host>:<pid>` with its lanes and counts, rewritten every
ADOLF_HEALTH_CHECK_INTERVAL and gone three intervals after the process stops rewriting it (deleted at a clean stop).
`GET /workers`, the dashboard and `adolf workers` read them (adolf/ops.py)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import orjson

from adolf.queueing import worker_key

if TYPE_CHECKING:
    from adolf.queueing import ArqRedis
    from adolf.workers.engine import Lane

logger = logging.getLogger(__name__)


class Presence:
    def __init__(self, redis: ArqRedis, lanes: dict[str, Lane], interval: float) -> None:
        self.redis = redis
        self.lanes = lanes
        self.interval = interval
        self.host, self.pid = socket.gethostname(), os.getpid()
        self.key = worker_key(self.host, self.pid)
        self.started_at = datetime.now(UTC).isoformat()

    def record(self) -> bytes:
        workers = self.lanes.values()
        return orjson.dumps(
            {
                "host": self.host,
                "pid": self.pid,
                "lanes": list(self.lanes),
                "started_at": self.started_at,
                "seen_at": datetime.now(UTC).isoformat(),
                "running": sum(not task.done() for lane in workers for task in lane.tasks.values()),
                "complete": sum(lane.jobs_complete for lane in workers),
                "failed": sum(lane.jobs_failed for lane in workers),
                "retried": sum(lane.jobs_retried for lane in workers),
            }
        )

    async def run(self) -> None:
        while True:
            try:
                await self.redis.set(self.key, self.record(), px=int(self.interval * 3000))
            except Exception as exc:  # Redis away: the lanes say so; the key lapses and comes back with Redis
                logger.debug("worker presence not written: %s", exc)
            await asyncio.sleep(self.interval)

    async def close(self) -> None:
        try:
            await self.redis.delete(self.key)
        except Exception as exc:
            logger.debug("worker presence not removed: %s", exc)
