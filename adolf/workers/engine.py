"""Lane workers: arq `Worker` keyword arguments per lane, and the Worker used when lanes share one process."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from arq.worker import Worker

from adolf.lanes import LANES
from adolf.models.jobs import PingArgs
from adolf.settings import Settings
from adolf.workers.execution import to_arq_cron, to_arq_function
from adolf.workers.jobs.common import PING, ping
from adolf.workers.registry import JobSpec, Registry
from adolf.workers.serialization import JobSerializer, deserialize


def ping_spec(lane: str) -> JobSpec:
    return JobSpec(PING, ping, lane, PingArgs, timeout=10)


def lane_specs(lane: str, registry: Registry) -> list[JobSpec]:
    return [*registry.jobs_for_lane(lane), ping_spec(lane)]


def worker_kwargs(lane: str, settings: Settings, registry: Registry, serializer: JobSerializer) -> dict[str, Any]:
    """Everything arq's Worker needs for one lane; shared by the arq settings classes and `adolf worker`."""
    return {
        "functions": [to_arq_function(spec, settings) for spec in lane_specs(lane, registry)],
        "cron_jobs": [to_arq_cron(c, registry.job(c.job), settings) for c in registry.crons_for_lane(lane)],
        "queue_name": LANES[lane].queue,
        "max_jobs": settings.lane_concurrency(lane),
        "keep_result": settings.keep_result_seconds,
        "poll_delay": settings.poll_delay,
        "health_check_interval": settings.health_check_interval,
        "job_serializer": serializer,
        "job_deserializer": deserialize,
        "timezone": settings.tz,
        "job_completion_wait": int(settings.shutdown_grace_seconds),
        "log_results": False,
    }


class LaneWorker(Worker):
    """One lane of `adolf worker`: shares the process's Redis pool with the other lanes, so it must not close it.

    It also claims each job with the short lease the job wrapper keeps renewing, rather than arq's longest job timeout
    + 10 s, so a job whose worker dies even before the wrapper's first renewal is re-run after one lease."""

    def __init__(self, *, lease_seconds: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.in_progress_timeout_s = lease_seconds

    async def run_until_stopped(self) -> None:
        try:
            await self.async_run()
        except asyncio.CancelledError:
            # a signal handler cancels main_task; that is how a lane stops
            if self.main_task is None or not self.main_task.cancelled():
                raise

    async def close(self) -> None:
        if not self._handle_signals:
            self.handle_sig(signal.SIGUSR1)
        if not self._pool:
            return
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        await self.pool.delete(self.health_check_key)
        if self.on_shutdown:
            await self.on_shutdown(self.ctx)
        self._pool = None
