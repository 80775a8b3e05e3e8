"""ADOLF's job engine: lanes that claim, run and finish jobs on arq's Redis data model (adolf/workers/arq_seam.py).

A lane claims the due jobs of its queue in one script call, up to its concurrency, each under a lease token that
the process renews while the run lasts (adolf/workers/lease.py). A run whose lease is lost is cancelled at once, and
what it writes when it ends (its result, the job, its queue entry, its try count) goes through one script fenced by
its token, so a stale run never touches another run's job. An idle lane wakes the moment a job is enqueued (a list it
blocks on, pushed with the enqueue), and polls only as a fallback. Redis errors never end a lane: it backs off and
reconnects, running jobs keep their leases, and their outcomes are written once Redis answers again (or, after an
outage longer than a lease, their jobs run again elsewhere, fenced). Cron slots are jobs with one id per slot, so
every process enqueues a slot under the same id, one process runs it, and a run handed back at shutdown runs again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from adolf.errors import JobAborted, is_infra_error
from adolf.job_contracts import ping_contract
from adolf.lanes import LANES
from adolf.logs import DEAD_LETTER_LINE, folded_into_outcome
from adolf.models.content import DeadLetter
from adolf.workers import arq_seam, metrics
from adolf.workers.arq_seam import Claimed, Payload, Scripts, UndecodableJob
from adolf.workers.context import JobContext
from adolf.workers.execution import Again, Done, Failed, Outcome, execute
from adolf.workers.history import JobRun
from adolf.workers.jobs.common import ping
from adolf.workers.registry import CronSpec, JobSpec, Registry

if TYPE_CHECKING:
    from adolf.workers.lifecycle import Resources

logger = logging.getLogger(__name__)

CRON_LEAD = 1.0  # seconds ahead a schedule's slot is enqueued (deferred to its time)
MIN_POLL_GAP = 0.005  # a busy lane polls at most this often
READ_MARGIN = 100  # ids read beyond the lane's running and free slots
CLAIM_SCAN_LIMIT = 50_000  # ids one claim reads at most, past the jobs other processes run
BACKOFF = (0.1, 5.0)  # a lane's waits after Redis errors, doubling
FINISH_PATIENCE = 4  # leases a run keeps trying to write its outcome while Redis is away
REDIS_CALL_LIMIT = 10.0  # seconds a lane waits for Redis to answer one poll


def ping_spec(lane: str) -> JobSpec:
    return JobSpec.bind(ping_contract(lane), ping, timeout=10)


def lane_specs(lane: str, registry: Registry) -> list[JobSpec]:
    return [*registry.jobs_for_lane(lane), ping_spec(lane)]


@dataclass(frozen=True)
class Entry:
    """What a lane runs under one function name: a job, or one of its schedules."""

    spec: JobSpec
    schedule: CronSpec | None = None

    @property
    def max_tries(self) -> int:
        return self.schedule.max_tries if self.schedule else self.spec.max_tries

    def kwargs(self, given: dict[str, Any]) -> dict[str, Any]:
        return {**self.schedule.kwargs, **given} if self.schedule else given


class Backoff:
    def __init__(self) -> None:
        self.failures = 0

    def next(self) -> float:
        self.failures += 1
        return min(BACKOFF[1], BACKOFF[0] * 2 ** (self.failures - 1))

    def reset(self) -> None:
        self.failures = 0


class Lane:
    """One lane's queue in this process: claims, runs and finishes its jobs; fires its schedules."""

    def __init__(self, name: str, resources: Resources, scripts: Scripts, registry: Registry, *, burst: bool) -> None:
        settings = resources.settings
        self.name = name
        self.queue = LANES[name].queue
        self.resources = resources
        self.scripts = scripts
        self.burst = burst
        self.max_jobs = settings.lane_concurrency(name)
        self.entries: dict[str, Entry] = {spec.name: Entry(spec) for spec in lane_specs(name, registry)}
        for schedule in registry.crons_for_lane(name):
            self.entries[schedule.name] = Entry(registry.job(schedule.job), schedule)
        self.schedules = [e for e in self.entries.values() if e.schedule is not None]
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.jobs_complete = self.jobs_failed = self.jobs_retried = 0
        self.wake = asyncio.Event()
        self.main_task: asyncio.Task[None] | None = None
        self.last_poll = 0.0  # wall time of the last poll Redis answered (readiness)
        self._token_prefix = f"{os.getpid()}:{uuid.uuid4().hex[:10]}"
        self._lease_ms = int(settings.job_lease_seconds * 1000)
        self._stopping = False
        self._handing_back = False
        self._next_slot: dict[str, datetime] = {}
        self._last_health = 0.0
        self._redis_down_since: float | None = None

    # --- the dispatch loop ----------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Claim and start jobs until stopped (burst: until the queue is empty); never ends on a Redis error."""
        self.main_task = asyncio.current_task()
        backoff = Backoff()
        while not self._stopping:
            self.wake.clear()
            try:
                async with asyncio.timeout(REDIS_CALL_LIMIT):  # a Redis that hangs (no answer, no reset) is away too
                    wait = await self._poll()
                    await self._heartbeat()
                self._redis_back()
                backoff.reset()
            except Exception as exc:
                if not is_infra_error(exc):
                    logger.exception("lane %s: unexpected error while polling", self.name)
                wait = backoff.next()
                self._redis_away(exc, wait)
            if self.burst and await self._burst_done():
                break
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self.wake.wait()
        _REDIS_OUTAGE.back(self, stopped=True)
        await self._finish_running()

    async def _poll(self) -> float:
        """Claim what is due; the seconds until the next poll is due."""
        free = self.max_jobs - len(self.tasks)
        settings = self.resources.settings
        if free <= 0:
            return settings.poll_delay
        poll = await self.scripts.claim(
            self.queue,
            token_prefix=self._token_prefix,
            lease_ms=self._lease_ms,
            wanted=free,
            read_limit=len(self.tasks) + free + READ_MARGIN,
            scan_limit=CLAIM_SCAN_LIMIT,
        )
        self.last_poll = time.time()
        for claimed in poll.claimed:
            self._start(claimed)
        if len(poll.claimed) == free:
            return MIN_POLL_GAP  # there may be more: look again as soon as a slot frees up
        if poll.next_due_ms is None:
            return settings.poll_delay
        return max(MIN_POLL_GAP, min(settings.poll_delay, (poll.next_due_ms - poll.now_ms) / 1000))

    def _start(self, claimed: Claimed) -> None:
        task = asyncio.get_running_loop().create_task(self._run_job(claimed), name=f"adolf-job:{claimed.job_id}")
        self.tasks[claimed.job_id] = task
        task.add_done_callback(lambda _: self._job_ended(claimed.job_id))

    def _job_ended(self, job_id: str) -> None:
        self.tasks.pop(job_id, None)
        self.wake.set()

    async def _burst_done(self) -> bool:
        try:
            if await self.resources.redis.zcard(self.queue):
                return False
        except Exception:
            return False
        await self._finish_running()
        return True

    def _redis_away(self, exc: BaseException, wait: float) -> None:
        if self._redis_down_since is None:
            self._redis_down_since = time.monotonic()
            _REDIS_OUTAGE.away(self, exc)
        else:
            logger.debug("lane %s: Redis still unavailable, next try in %.1fs", self.name, wait)

    def _redis_back(self) -> None:
        if self._redis_down_since is not None:
            self._redis_down_since = None
            _REDIS_OUTAGE.back(self)

    # --- one run --------------------------------------------------------------------------------------------------

    async def _run_job(self, claimed: Claimed) -> None:
        leases = self.resources.leases
        lease = leases.hold(claimed.job_id, claimed.token, since=claimed.at_ms / 1000)
        try:
            started = await self._persist(lambda: self.scripts.start(claimed.job_id, claimed.token), lease.lost)
            if started is None:
                return  # the job is no longer this run's
            raw, job_try, aborted = started
            if aborted:
                lease.aborted.set()
            await self._run_started(claimed, lease.lost, raw, job_try, lease.aborted)
        except asyncio.CancelledError:
            if not self._handing_back:
                raise
        except Exception:
            logger.exception(
                "job %s: the engine failed around its run; its lease runs out and it runs again", claimed.job_id
            )
        finally:
            leases.release(lease)

    async def _run_started(
        self, claimed: Claimed, lost: asyncio.Event, raw: bytes | None, job_try: int, aborted: asyncio.Event
    ) -> None:
        started_ms = int(time.time() * 1000)
        if raw is None:
            return await self._fail_early(claimed, lost, None, job_try, started_ms, JobExpired("the job expired"))
        try:
            payload = arq_seam.decode_job(raw)
        except UndecodableJob as exc:
            return await self._fail_early(claimed, lost, None, job_try, started_ms, exc)
        if payload.enqueue_job_try and payload.enqueue_job_try > job_try:  # arq's `_job_try`: tries already spent
            job_try = payload.enqueue_job_try
            await self.scripts.set_try(claimed.job_id, job_try)
        entry = self.entries.get(payload.function)
        if entry is None:
            error = UnknownJobName(f"no job named {payload.function!r} runs on lane {self.name}")
            return await self._fail_early(claimed, lost, payload, job_try, started_ms, error)
        if aborted.is_set():
            error = JobAborted("aborted by an operator before it ran")
            return await self._fail_early(claimed, lost, payload, job_try, started_ms, error)
        if job_try > entry.max_tries:
            error = TriesExhausted(
                f"its {entry.max_tries} tries were used up by runs that never ended (a killed worker)"
            )
            return await self._fail_early(claimed, lost, payload, job_try, started_ms, error)
        job = JobContext(
            job_id=claimed.job_id,
            job_name=entry.spec.name,
            job_try=job_try,
            max_tries=entry.max_tries,
            enqueue_time=datetime.fromtimestamp(payload.enqueue_time_ms / 1000, UTC),
            lane=self.name,
            resources=self.resources,
            abort_requested=aborted,
        )
        outcome = await self._execute(entry, job, payload, claimed, lost, aborted)
        if outcome is not None:
            await self._record(claimed, lost, payload, job_try, started_ms, outcome)

    async def _execute(
        self,
        entry: Entry,
        job: JobContext,
        payload: Payload,
        claimed: Claimed,
        lost: asyncio.Event,
        aborted: asyncio.Event,
    ) -> Outcome | None:
        """Run the job's wrapper in its own task, cancelled the moment the lease is lost (then None: nothing is
        recorded) or the lane hands it back (then it is due again, its try given back). Aborted by an operator, the
        run is cancelled and ends as a final failure (ABORTED) through the wrapper, like any other."""
        loop = asyncio.get_running_loop()
        run = loop.create_task(
            execute(entry.spec, job, payload.args, entry.kwargs(payload.kwargs)), name=f"adolf-run:{claimed.job_id}"
        )
        watch = loop.create_task(lost.wait())
        abort = loop.create_task(aborted.wait())
        try:
            await asyncio.wait({run, watch, abort}, return_when=asyncio.FIRST_COMPLETED)
            if not run.done() and not lost.is_set() and aborted.is_set():
                run.cancel()
                await asyncio.wait({run, watch}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the lane hands the job back
            run.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await run
            await self._persist(
                lambda: self.scripts.finish(
                    self.queue, claimed.job_id, claimed.token, mode="refund", score_ms=claimed.score
                ),
                lost,
            )
            logger.info("job %s handed back to the queue", claimed.job_id)
            raise
        finally:
            watch.cancel()
            abort.cancel()
        if not run.done():
            run.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await run
            logger.warning("job %s stopped: its lease was lost and another worker may be running it", claimed.job_id)
            return None
        return run.result()

    async def _record(
        self, claimed: Claimed, lost: asyncio.Event, payload: Payload, job_try: int, started_ms: int, outcome: Outcome
    ) -> None:
        settings = self.resources.settings
        if isinstance(outcome, Again):
            score = int(time.time() * 1000 + outcome.delay * 1000)
            mode = "refund" if outcome.refund else "again"
            written = await self._persist(
                lambda: self.scripts.finish(self.queue, claimed.job_id, claimed.token, mode=mode, score_ms=score), lost
            )
            if written:
                self.jobs_retried += 1
            return
        success = isinstance(outcome, Done)
        value = outcome.result if isinstance(outcome, Done) else outcome.error
        result = arq_seam.encode_result(
            payload=payload,
            job_id=claimed.job_id,
            queue=self.queue,
            job_try=job_try,
            success=success,
            result=value,
            started_ms=started_ms,
            finished_ms=int(time.time() * 1000),
        )
        written = await self._persist(
            lambda: self.scripts.finish(
                self.queue,
                claimed.job_id,
                claimed.token,
                mode="done",
                result=result,
                result_ttl_ms=int(settings.keep_result_seconds * 1000),
            ),
            lost,
        )
        if written and isinstance(outcome, Failed):
            self.jobs_failed += 1
        elif written:
            self.jobs_complete += 1
        if not written:
            logger.warning("job %s ended after its lease was lost: its outcome was not recorded", claimed.job_id)

    async def _fail_early(
        self,
        claimed: Claimed,
        lost: asyncio.Event,
        payload: Payload | None,
        job_try: int,
        started_ms: int,
        error: Exception,
    ) -> None:
        """A job that cannot run at all: a dead letter, and a failed result for whoever waits for it. A schedule's
        slot is a letter of its job with the schedule's arguments, so `adolf failed retry` can run it again."""
        code, message = getattr(error, "code", "JOB_FAILED"), str(error)
        entry = self.entries.get(payload.function) if payload else None
        letter = DeadLetter(
            job_id=claimed.job_id,
            job_name=entry.spec.name if entry else payload.function if payload else "<unknown>",
            queue=self.name,
            args=list(payload.args) if payload else [],
            kwargs=entry.kwargs(payload.kwargs) if entry and payload else dict(payload.kwargs) if payload else {},
            exception=f"{type(error).__name__}: {message}",
            error_code=code,
            tries=max(1, job_try),
            enqueued_at=datetime.fromtimestamp((payload.enqueue_time_ms if payload else 0) / 1000, UTC),
        )
        with folded_into_outcome(DEAD_LETTER_LINE) as stored:  # one line for the run, with its dead letter's id
            await self.resources.dead_letters.record(letter)
        fields = {
            "error_code": code,
            **({"failed_job_id": stored["failed_job_id"]} if "failed_job_id" in stored else {}),
        }
        logger.warning("job %s failed before it could run: %s", claimed.job_id, message, extra=fields)
        self._count_early_failure(claimed, letter, job_try, started_ms, code, letter.exception)
        await self._record(claimed, lost, payload or _UNKNOWN, job_try, started_ms, Failed(error))

    def _count_early_failure(
        self, claimed: Claimed, letter: DeadLetter, job_try: int, started_ms: int, code: str, error: str
    ) -> None:
        """A job that failed before it ran still counts: a failed run in the metrics (under its name when this lane
        knows it, so an unknown name cannot add label values) and in the history."""
        name = letter.job_name
        metrics.observe_job(name if name in self.entries else "<unknown>", self.name, "failed", 0.0)
        history = getattr(self.resources, "history", None)
        if history is not None:
            history.record(
                JobRun(
                    job_id=claimed.job_id,
                    job_name=name,
                    lane=self.name,
                    try_=max(1, job_try),
                    status="failed",
                    args=dict(letter.kwargs),
                    started_at=datetime.fromtimestamp(started_ms / 1000, UTC),
                    duration_ms=0.0,
                    error_code=code,
                    error_message=error,
                )
            )

    async def _persist(self, write: Any, lost: asyncio.Event) -> Any:
        """A write of this run, tried again while Redis is away (for a few leases, never after the lease is lost)."""
        backoff = Backoff()
        deadline = time.monotonic() + FINISH_PATIENCE * self._lease_ms / 1000
        while True:
            try:
                async with asyncio.timeout(REDIS_CALL_LIMIT):
                    return await write()
            except Exception as exc:
                if not is_infra_error(exc) or lost.is_set() or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(backoff.next())

    # --- schedules and health -------------------------------------------------------------------------------------

    async def _heartbeat(self) -> None:
        await self._fire_schedules()
        now = time.time()
        interval = self.resources.settings.health_check_interval
        if now - self._last_health >= interval:
            queued = await self.resources.redis.zcard(self.queue)
            running = sum(not t.done() for t in self.tasks.values())
            info = (
                f"{datetime.now():%b-%d %H:%M:%S} j_complete={self.jobs_complete} j_failed={self.jobs_failed} "
                f"j_retried={self.jobs_retried} j_ongoing={running} queued={queued}"
            )
            await self.resources.redis.set(arq_seam.health_key(self.queue), info, px=int((interval + 1) * 1000))
            self._last_health = now

    async def _fire_schedules(self) -> None:
        if not self.schedules:
            return
        tz = self.resources.settings.tz
        now = datetime.now(tz)
        for entry in self.schedules:
            schedule = entry.schedule
            assert schedule is not None
            slot = self._next_slot.get(schedule.name)
            if slot is None:
                slot = self._next_slot[schedule.name] = arq_seam.next_cron_time(
                    now, hour=schedule.hour, minute=schedule.minute, second=schedule.second
                )
            if (slot - now).total_seconds() > CRON_LEAD:
                continue
            await arq_seam.put_job(
                self.scripts.redis,
                self.queue,
                arq_seam.cron_job_id(schedule.name, slot),
                schedule.name,
                {},
                score_ms=int(slot.timestamp() * 1000),
                expires_ms=int((slot.timestamp() - time.time()) * 1000) + 86_400_000,
                now_ms=int(time.time() * 1000),
            )
            self._next_slot[schedule.name] = arq_seam.next_cron_time(
                slot, hour=schedule.hour, minute=schedule.minute, second=schedule.second
            )

    # --- stopping -------------------------------------------------------------------------------------------------

    def stop(self, *, hand_back_after: float | None) -> None:
        """Stop claiming; hand running jobs back to the queue after `hand_back_after` seconds (None: never)."""
        self._stopping = True
        self.wake.set()
        if hand_back_after is not None:
            asyncio.get_running_loop().call_later(hand_back_after, self.hand_back)

    def hand_back(self) -> None:
        self._handing_back = True
        for task in list(self.tasks.values()):
            task.cancel()

    async def _finish_running(self) -> None:
        if self.tasks:
            await asyncio.gather(*self.tasks.values(), return_exceptions=True)


class _RedisOutage:
    """A Redis outage as this process's lanes see it: one line when the first lane meets it, one when the last lane
    is answered again (not a line per lane, nor per poll)."""

    def __init__(self) -> None:
        self.lanes: set[Lane] = set()
        self.since = 0.0

    def away(self, lane: Lane, exc: BaseException) -> None:
        if not self.lanes:
            self.since = time.monotonic()
            logger.warning(
                "Redis unavailable (%s: %s); lanes retry every few seconds and running jobs keep their leases",
                type(exc).__name__,
                " ".join(str(exc).split())[:200],
                extra={"lane": lane.name},
            )
        self.lanes.add(lane)

    def back(self, lane: Lane, *, stopped: bool = False) -> None:
        if lane not in self.lanes:
            return
        self.lanes.discard(lane)
        if not self.lanes and not stopped:
            logger.warning("Redis answers again after %.1fs", time.monotonic() - self.since)


_REDIS_OUTAGE = _RedisOutage()


class JobExpired(Exception):
    """The job's data expired before it could run (arq: a day after its time)."""

    code = "JOB_EXPIRED"


class UnknownJobName(Exception):
    """No job of the payload's name runs on the lane."""

    code = "UNKNOWN_JOB"


class TriesExhausted(Exception):
    """Its tries were used up by runs that never ended."""

    code = "TRIES_EXHAUSTED"


_UNKNOWN = Payload("<unknown>", (), {}, None, 0)
