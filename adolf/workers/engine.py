"""Lane workers: arq `Worker` keyword arguments per lane, and the Worker used when lanes share one process."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from arq.utils import timestamp_ms
from arq.worker import Worker

from adolf.lanes import LANES
from adolf.models.jobs import PingArgs
from adolf.settings import Settings
from adolf.workers.arq_keys import in_progress_key
from adolf.workers.execution import to_arq_cron, to_arq_function
from adolf.workers.jobs.common import PING, ping
from adolf.workers.registry import JobSpec, Registry
from adolf.workers.serialization import JobSerializer, deserialize


def ping_spec(lane: str) -> JobSpec:
    return JobSpec(PING, ping, lane, PingArgs, timeout=10)


def lane_specs(lane: str, registry: Registry) -> list[JobSpec]:
    return [*registry.jobs_for_lane(lane), ping_spec(lane)]


# arq's own claim checks every job still in the queue, running ones included, one WATCH/MULTI exchange each, on
# every poll: with the plain arq command a lane runs at most this many jobs unless its concurrency is set explicitly
PLAIN_ARQ_DEFAULT_MAX_JOBS = 200


def worker_kwargs(
    lane: str, settings: Settings, registry: Registry, serializer: JobSerializer, *, plain_arq: bool = False
) -> dict[str, Any]:
    """Everything arq's Worker needs for one lane; shared by the arq settings classes and `adolf worker`."""
    max_jobs = settings.lane_concurrency(lane)
    if plain_arq and lane not in settings.concurrency:
        max_jobs = min(max_jobs, PLAIN_ARQ_DEFAULT_MAX_JOBS)
    return {
        "functions": [to_arq_function(spec, settings) for spec in lane_specs(lane, registry)],
        "cron_jobs": [to_arq_cron(c, registry.job(c.job), settings) for c in registry.crons_for_lane(lane)],
        "queue_name": LANES[lane].queue,
        "max_jobs": max_jobs,
        "keep_result": settings.keep_result_seconds,
        "poll_delay": settings.poll_delay,
        "health_check_interval": settings.health_check_interval,
        "job_serializer": serializer,
        "job_deserializer": deserialize,
        "timezone": settings.tz,
        "job_completion_wait": int(settings.shutdown_grace_seconds),
        "log_results": False,
    }


# KEYS[1] the lane's queue; ARGV: in-progress key prefix, now ms, lease ms, how many to claim, then job ids. Claims
# each id that is due and not in progress anywhere, as arq's WATCH/MULTI claim does, for a whole poll in one round
# trip. Returns id, score, id, score, ...
_CLAIM = """
local prefix, now, lease, wanted = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local claimed = {}
for i = 5, #ARGV do
    if #claimed >= 2 * wanted then break end
    local id = ARGV[i]
    local key = prefix .. id
    if redis.call('EXISTS', key) == 0 then
        local score = redis.call('ZSCORE', KEYS[1], id)
        if score and tonumber(score) <= now then
            redis.call('SET', key, '1', 'PX', lease)
            claimed[#claimed + 1] = id
            claimed[#claimed + 1] = score
        end
    end
end
return claimed
"""


class LaneWorker(Worker):
    """One lane of `adolf worker`: shares the process's Redis pool with the other lanes, so it must not close it.

    It claims each job with the short lease the job wrapper keeps renewing, rather than arq's longest job timeout
    + 10 s, so a job whose worker dies even before the wrapper's first renewal is re-run after one lease; and it
    claims a whole poll's worth of jobs in one script call, not a WATCH/MULTI exchange per job (a lane running
    thousands of publish jobs would otherwise re-check every one of them on every poll)."""

    def __init__(self, *, lease_seconds: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.in_progress_timeout_s = lease_seconds
        self._claim_script = None

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        free = self.max_jobs - self.job_counter
        candidates = [job_id for job_id in (j.decode() for j in job_ids) if job_id not in self.tasks]
        if free <= 0 or not candidates:
            return
        if self._claim_script is None:
            self._claim_script = self.pool.register_script(_CLAIM)
        lease_ms = int(self.in_progress_timeout_s * 1000)
        claimed = await self._claim_script(
            keys=[self.queue_name], args=[in_progress_key(""), timestamp_ms(), lease_ms, free, *candidates]
        )
        for raw_id, score in zip(claimed[::2], claimed[1::2], strict=True):
            job_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
            await self.sem.acquire()  # never waits: no more than the free slots were claimed
            self.job_counter += 1
            task = self.loop.create_task(self.run_job(job_id, int(float(score))))
            task.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
            self.tasks[job_id] = task

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
