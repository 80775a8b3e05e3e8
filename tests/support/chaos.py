"""The chaos rig (tests/chaos/): ADOLF publishing a stream of drafts to the three simulated marketplaces with two
`adolf worker` processes, on a PostgreSQL, a Redis (or a Redis Sentinel set) and a marketplace simulator of its own,
all started on free loopback ports and stopped by pid (never the configured servers), while a test breaks something.

Afterwards `ChaosRig.verdict` reads every source of truth and names every broken promise:

- no job lost: each draft has exactly one publication, in a final status, and its publish job has a result;
- nothing done twice: each card reached its marketplace in one accepted update request, and each publication's
  notification was written once and delivered once (to a Slack webhook the rig records), unless the earlier push or
  delivery was cut off mid-request (a SIGKILL right after it, or a run whose lease a worker logged as lost);
- every failure accounted for: a failed publication has its content.publish_error notification, and every job that
  ended in failure has its failed_jobs row;
- no worker process exited by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import orjson
from aiohttp import web

from adolf.bench.publish_limits import DRAFT_ATTRIBUTES, USER_ID, SandboxProcess
from adolf.bench.servers import OwnPostgres, OwnRedis, OwnSentinel, free_port
from adolf.client import AdolfClient, queue_for
from adolf.db.migrate import migrate
from adolf.db.pool import create_pool
from adolf.limits import DOCUMENTED_RATE_LIMITS, YM_RESOURCE_LIMITS, scaled
from adolf.sandbox import SandboxAccount
from adolf.serialization import deserialize
from adolf.settings import Settings
from adolf.workers import arq_seam
from adolf.workers.arq_seam import JobStatus

PUBLISH = "content_factory.tasks.publish_content"
QUEUE = queue_for(PUBLISH)
SEED = int(os.environ.get("ADOLF_CHAOS_SEED", "8086"))
KEEP = bool(os.environ.get("ADOLF_CHAOS_KEEP"))  # keep the run's directory (logs, data) for a post-mortem
SPEED = 10.0  # the documented limits on a clock ten times faster, on the simulator and the workers alike
LATENCY_MS = 30.0
LEASE_SECONDS = 10.0  # the default: outages of a few seconds must not hand running jobs to another worker
RETRY_DELAYS = "[5,10,20]"  # the ladder's shape at a twelfth of its length, so a 10 s outage fits in its tries
TERMINAL = ("published", "verified", "mismatched", "failed")
UPDATE_PATHS = {"wb": "/content/v2/cards/update", "ozon": "/v3/product/import", "ym": "/offer-mappings/update"}
CUT_OFF_WINDOW = 2.0  # seconds from a push (or delivery) to the cut-off that excuses doing it again (seen: < 1 s)
REQUEST_LOG_SIZE = 10_000  # adolf/sandbox/state.py: older entries fall out of the simulator's request log


@dataclass(frozen=True)
class Draft:
    id: UUID
    marketplace: str
    sku: str

    @property
    def job_id(self) -> str:
        return f"{PUBLISH}:{self.id}"


class SlackRecorder:
    """A Slack incoming webhook on loopback: every message the workers deliver, with the time it arrived."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.messages: list[tuple[float, str]] = []
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/hook", self._hook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _hook(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        self.messages.append((time.time(), str(body.get("text", ""))))
        return web.Response(text="ok")

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def content_deliveries(self) -> dict[tuple[str, str, str], list[float]]:
        """(event type, marketplace, sku) -> arrival times, for the content.* notifications."""
        found: dict[tuple[str, str, str], list[float]] = defaultdict(list)
        for at, text in self.messages:
            head, *lines = text.splitlines()
            if not head.startswith("[content."):
                continue
            event = head[1 : head.index("]")]
            fields = dict(line.split(": ", 1) for line in lines if ": " in line)
            found[(event, fields.get("marketplace", ""), fields.get("sku", ""))].append(at)
        return found


class WorkerProcess:
    """One `adolf worker` slot (content_high and content_low lanes), restarted under the same name after a kill."""

    def __init__(self, name: str, env: dict[str, str], directory: Path) -> None:
        self.name = name
        self.env = env
        self.directory = directory
        self.process: asyncio.subprocess.Process | None = None
        self.logs: list[Path] = []
        self.kills: list[float] = []
        self.exits: list[str] = []  # exits nobody asked for
        self._ours = False  # the current process was stopped or killed by us

    async def start(self) -> None:
        self._ours = False
        log = self.directory / f"worker-{self.name}-{len(self.logs) + 1}.log"
        self.logs.append(log)
        with log.open("wb") as handle:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "adolf", "worker", "--lanes", "content_high,content_low", "--health-port", "0",
                cwd=self.directory, env=self.env, stdout=handle, stderr=handle,
            )  # fmt: skip

    def started(self) -> bool:
        return bool(self.logs) and b'"msg":"worker started"' in self.logs[-1].read_bytes()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def wait_started(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.started():
            if not self.running or time.monotonic() > deadline:
                raise RuntimeError(f"worker {self.name} did not start: {self.tail()}")
            await asyncio.sleep(0.05)

    def check(self) -> bool:
        """Note an exit of its own; True if the process exited so (and should be started again)."""
        if self.process is None or self.process.returncode is None or self._ours:
            return False
        self._ours = True
        self.exits.append(
            f"worker {self.name} exited by itself with code {self.process.returncode} ({self.logs[-1].name}: "
            f"{self.tail(5)})"
        )
        return True

    async def kill(self) -> float:
        """SIGKILL; returns the wall time the signal was sent."""
        assert self.process is not None
        self.check()
        self._ours = True
        at = time.time()
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        self.kills.append(at)
        return at

    async def stop(self) -> None:
        self.check()
        self._ours = True
        if self.process is None or self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGKILL)
            await self.process.wait()

    def tail(self, lines: int = 15) -> str:
        if not self.logs or not self.logs[-1].exists():
            return ""
        return "\n".join(self.logs[-1].read_text(errors="replace").splitlines()[-lines:])

    def log_lines(self) -> Iterable[dict[str, Any]]:
        for log in self.logs:
            for line in log.read_bytes().splitlines():
                with contextlib.suppress(orjson.JSONDecodeError):
                    entry = orjson.loads(line)
                    if isinstance(entry, dict):
                        yield entry


@dataclass
class Verdict:
    scenario: str
    drafts: int
    statuses: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    pushes: int = 0
    duplicate_pushes: int = 0  # cards pushed more than once (each excused, or a problem)
    excused_pushes: int = 0
    duplicate_notifications: int = 0
    duplicate_deliveries: int = 0
    excused_deliveries: int = 0
    failed_jobs: int = 0
    dead_lettered_publications: int = 0
    cut_off_runs: int = 0  # runs a worker logged as stopped because their lease was lost
    longest_excuse: float = 0.0  # seconds from an excused push or delivery to its cut-off
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def summary(self, what: str) -> str:
        done = sum(self.statuses[s] for s in TERMINAL)
        shown = ", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items()))
        excuse = "" if not self.excused_pushes else f", all cut off mid-request (<= {self.longest_excuse:.1f}s before)"
        deliveries = f"{self.duplicate_deliveries} duplicate deliveries"
        if self.excused_deliveries:
            deliveries += f" ({self.excused_deliveries} cut off mid-request)"
        notes = "".join(f"; {note}" for note in self.notes)
        return (
            f"[chaos {self.scenario}] {self.drafts} publishes, {what}: {done} terminal ({shown}) in "
            f"{self.seconds:.0f}s, {self.pushes} cards pushed, {self.duplicate_pushes} duplicate pushes{excuse}, "
            f"{self.duplicate_notifications} duplicate notifications, {deliveries}, "
            f"{self.failed_jobs} failed_jobs rows{notes}"
        )

    def report(self) -> str:
        return "\n".join(f"  - {problem}" for problem in self.problems[:60]) + (
            f"\n  ... and {len(self.problems) - 60} more" if len(self.problems) > 60 else ""
        )


class ChaosRig:
    """Everything one chaos scenario runs on; `async with` starts it and stops all of it, even on failure."""

    def __init__(self, scenario: str, *, sentinel: bool = False) -> None:
        self.scenario = scenario
        self.directory = Path(tempfile.mkdtemp(prefix=f"adolf-chaos-{scenario}-"))
        self.postgres = OwnPostgres()
        self.redis = OwnRedis(self.directory / "redis")
        self.replica: OwnRedis | None = None
        self.sentinel: OwnSentinel | None = None
        if sentinel:
            self.replica = OwnRedis(self.directory / "replica", args=("--replicaof", "127.0.0.1", str(self.redis.port)))
            self.sentinel = OwnSentinel(self.directory / "sentinel", self.redis)
        documented = {**DOCUMENTED_RATE_LIMITS, **YM_RESOURCE_LIMITS}
        self.limits = scaled(documented, SPEED)
        self.recorder = SlackRecorder()
        self.sandbox = SandboxProcess(LATENCY_MS, self.limits, self.directory / "sandbox.log")
        self.database_url = ""
        self.db: asyncpg.Pool | None = None
        self.client: AdolfClient | None = None
        self.workers: list[WorkerProcess] = []
        self.cut_offs: list[float] = []  # wall times of SIGKILLs: a run in flight then was cut off mid-request
        self.tries: dict[str, int] = {}  # job id -> the try its result was written by
        self.enqueued: dict[UUID, float] = {}
        self.milestones: dict[str, float] = {}  # seconds into the run
        self.outages: list[tuple[float, float]] = []  # wall times a server went away and came back
        self.started_at = 0.0

    # --- starting and stopping ------------------------------------------------------------------------------------

    async def __aenter__(self) -> ChaosRig:
        try:
            await self._start()
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._close()

    async def _start(self) -> None:
        await self.postgres.start()
        admin = await asyncpg.connect(self.postgres.url(), timeout=10)
        try:
            await admin.execute('CREATE DATABASE "adolf_chaos"')
        finally:
            await admin.close()
        self.database_url = self.postgres.url("adolf_chaos")
        await migrate(self.database_url)
        await self.redis.start()
        if self.replica is not None and self.sentinel is not None:
            await self.replica.start()
            await self._wait_replica_linked()
            await self.sentinel.start()
        await self.recorder.start()
        await self.sandbox.start()
        self.db = await create_pool(self.database_url, min_size=0, max_size=3, connect_timeout=2)
        self.client = await AdolfClient.connect(self.settings())

    async def _close(self) -> None:
        for worker in self.workers:
            with contextlib.suppress(Exception):
                await worker.stop()
        steps = [
            self.client.close() if self.client else None,
            self.db.close() if self.db else None,
            self.sandbox.close(),
            self.recorder.close(),
            self.sentinel.stop() if self.sentinel else None,
            self.replica.stop() if self.replica else None,
            self.redis.stop(),
            self.postgres.remove(),
        ]
        for step in steps:
            if step is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(step, 60)
        if not KEEP:
            shutil.rmtree(self.directory, ignore_errors=True)

    async def _wait_replica_linked(self) -> None:
        assert self.replica is not None
        replica = arq_seam.ArqRedis(port=self.replica.port)
        try:
            deadline = time.monotonic() + 20
            while (await replica.info("replication")).get("master_link_status") != "up":
                if time.monotonic() > deadline:
                    raise RuntimeError("the replica did not link to its master")
                await asyncio.sleep(0.1)
        finally:
            await replica.aclose()

    def settings(self) -> Settings:
        sentinels = [f"127.0.0.1:{self.sentinel.port}"] if self.sentinel else []
        return Settings(
            _env_file=None,  # type: ignore[call-arg]  # nothing from a developer's .env
            redis_url=self.redis.url(),
            redis_sentinels=sentinels,
            redis_sentinel_master=self.sentinel.name if self.sentinel else "mymaster",
            database_url=self.database_url,
            log_format="json",
            log_level="INFO",
        )

    def worker_env(self) -> dict[str, str]:
        """The workers' settings: nothing of this process's ADOLF_* environment, everything pointed at the rig."""
        settings, account = self.settings(), SandboxAccount()
        env = {k: v for k, v in os.environ.items() if not k.startswith("ADOLF_")}
        env.update(
            ADOLF_DATABASE_URL=self.database_url,
            ADOLF_REDIS_URL=self.redis.url(),
            # YM's windows are learnt from its answers' headers, not configured
            ADOLF_RATE_LIMITS=orjson.dumps(
                {b: s for b, s in self.limits.items() if b in DOCUMENTED_RATE_LIMITS}
            ).decode(),
            ADOLF_WB_CONTENT_URL=self.sandbox.url,
            ADOLF_OZON_API_URL=self.sandbox.url,
            ADOLF_YM_API_URL=self.sandbox.url,
            ADOLF_WB_TOKEN=account.wb_token,
            ADOLF_OZON_CLIENT_ID=account.ozon_client_id,
            ADOLF_OZON_API_KEY=account.ozon_api_key,
            ADOLF_YM_API_KEY=account.ym_api_key,
            ADOLF_YM_BUSINESS_ID=str(account.ym_business_id),
            ADOLF_LOG_FORMAT="json",
            ADOLF_LOG_LEVEL="INFO",
            ADOLF_JOB_LEASE_SECONDS=str(LEASE_SECONDS),
            ADOLF_RETRY_DELAYS=RETRY_DELAYS,
            ADOLF_NOTIFY_POLL_INTERVAL="0.5",
            ADOLF_SHUTDOWN_GRACE_SECONDS="5",
            ADOLF_SLACK_WEBHOOK_URL=self.recorder.url,
        )
        if settings.redis_sentinels:
            env.update(
                ADOLF_REDIS_SENTINELS=",".join(settings.redis_sentinels),
                ADOLF_REDIS_SENTINEL_MASTER=settings.redis_sentinel_master,
            )
        return env

    async def start_workers(self, count: int = 2) -> list[WorkerProcess]:
        env = self.worker_env()
        for index in range(count):
            worker = WorkerProcess("AB"[index] if count <= 2 else str(index), env, self.directory)
            await worker.start()
            self.workers.append(worker)
        for worker in self.workers:
            await worker.wait_started()
        return self.workers

    # --- the run ----------------------------------------------------------------------------------------------------

    async def seed(self, counts: dict[str, int], rng: random.Random) -> list[Draft]:
        """Cards in the simulator and an approved draft for each, in a shuffled order of the three marketplaces."""
        assert self.db is not None
        drafts = []
        for marketplace, count in counts.items():
            skus = [f"CHAOS-{marketplace.upper()}-{i:04d}" for i in range(count)]
            await self.sandbox.seed(marketplace, skus)
            ids = await _insert_drafts(self.db, marketplace, skus)
            drafts += [Draft(draft_id, marketplace, sku) for draft_id, sku in zip(ids, skus, strict=True)]
        rng.shuffle(drafts)
        return drafts

    async def enqueue_stream(self, drafts: Sequence[Draft], seconds: float) -> None:
        """Enqueue the drafts' publish jobs at an even pace over `seconds`, as callers would: an enqueue that meets
        an outage is repeated until Redis takes it (after checking the job is not there already)."""
        self.started_at = self.started_at or time.monotonic()
        start = time.monotonic()
        for index, draft in enumerate(drafts):
            delay = start + index * seconds / len(drafts) - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self._enqueue(draft)

    async def _enqueue(self, draft: Draft, *, deadline: float = 120.0) -> None:
        assert self.client is not None
        give_up = time.monotonic() + deadline
        checked = False
        while True:
            try:
                if checked and await self.client.job(draft.job_id, QUEUE).status() != JobStatus.not_found:
                    break
                await self.client.publish_content(draft_id=draft.id, user_id=USER_ID)
                break
            except Exception:
                if time.monotonic() > give_up:
                    raise
                checked = True
                await asyncio.sleep(0.2)
        self.enqueued[draft.id] = time.time()

    async def enqueue_again_if_lost(self, drafts: Sequence[Draft], since: float) -> int:
        """What the README asks of a caller after a Sentinel failover: an enqueue acknowledged by the old master just
        before it died may be gone; enqueue it again. Returns how many were gone."""
        assert self.client is not None
        gone = 0
        for draft in drafts:
            if self.enqueued.get(draft.id, 0.0) < since:
                continue
            if await self._status(draft) == JobStatus.not_found:
                gone += 1
                await self._enqueue(draft)
        return gone

    async def _status(self, draft: Draft, *, deadline: float = 60.0) -> JobStatus:
        """The job's status, asked again while Redis is away (or the sentinels still settle on the new master)."""
        assert self.client is not None
        give_up = time.monotonic() + deadline
        while True:
            try:
                return await self.client.job(draft.job_id, QUEUE).status()
            except Exception:
                if time.monotonic() > give_up:
                    raise
                await asyncio.sleep(0.2)

    async def right_after_an_ozon_import(self, timeout: float = 10.0) -> float:
        """Return the moment an Ozon import request has just been answered: its cards are on the marketplace, and
        their jobs poll the import's status for a while before they record the outcome. Seconds waited."""
        started = time.monotonic()
        path = f"/requests?path_contains={UPDATE_PATHS['ozon']}&limit=1"
        while time.monotonic() - started < timeout:
            with contextlib.suppress(Exception):
                last = await self.sandbox.control("GET", path)
                if last and last[0]["status"] == 200 and time.time() - last[0]["ts"] < 0.3:
                    break
            await asyncio.sleep(0.02)
        return time.monotonic() - started

    async def in_flight(self) -> int:
        """Publications being published right now (best effort)."""
        assert self.db is not None
        with contextlib.suppress(Exception):
            return await self.db.fetchval("SELECT count(*) FROM publications WHERE status = 'processing'")
        return -1

    async def settle(self, drafts: Sequence[Draft], timeout: float) -> bool:
        """Wait until every publication is final, every publish job has its result and every notification was
        delivered (a worker that exits by itself is noted and started again). False if that did not happen."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for worker in self.workers:
                if worker.check():
                    await worker.start()
            with contextlib.suppress(Exception):
                if await self._settled(drafts):
                    return True
            await asyncio.sleep(0.5)
        return False

    async def _settled(self, drafts: Sequence[Draft]) -> bool:
        assert self.db is not None and self.client is not None
        row = await self.db.fetchrow(
            """
            SELECT count(DISTINCT draft_id) FILTER (WHERE status = ANY($1::text[])) AS final,
                   count(*) FILTER (WHERE NOT status = ANY($1::text[])) AS open,
                   (SELECT count(*) FROM notifications WHERE status = 'pending') AS undelivered
            FROM publications
            """,
            list(TERMINAL),
        )
        final = row["final"] >= len(drafts) and not row["open"]
        if final:
            self._milestone("publications final")
        if row["undelivered"]:
            return False
        if final:
            self._milestone("notifications delivered")
        results = await self._results(drafts)
        return final and all(results.get(d.job_id) is not None for d in drafts)

    def _milestone(self, what: str) -> None:
        self.milestones.setdefault(what, time.monotonic() - self.started_at)

    async def _results(self, drafts: Sequence[Draft]) -> dict[str, dict[str, Any]]:
        assert self.client is not None
        keys = [arq_seam.result_key(d.job_id) for d in drafts]
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(keys), 500):
            values = await self.client.redis.mget(keys[start : start + 500])
            for draft, value in zip(drafts[start : start + 500], values, strict=True):
                if value is not None:
                    found[draft.job_id] = deserialize(value)
        return found

    # --- the verdict ----------------------------------------------------------------------------------------------

    async def verdict(self, drafts: Sequence[Draft], *, excuse_kills: bool = False, excuse_lost_leases: bool = False):
        """Every check of the module docstring; `excuse_*`: which cut-offs may explain a second push or delivery."""
        assert self.db is not None and self.client is not None
        verdict = Verdict(self.scenario, len(drafts), seconds=time.monotonic() - self.started_at)
        if self.milestones:
            verdict.notes.append(", ".join(f"{what} after {at:.0f}s" for what, at in self.milestones.items()))
        for worker in self.workers:
            worker.check()
            verdict.problems += worker.exits
        cut_offs = self._cut_off_runs()
        verdict.cut_off_runs = sum(len(v) for v in cut_offs.values())
        by_id = {d.id: d for d in drafts}
        publications = await self.db.fetch(
            "SELECT id, draft_id, status, job_ref, error_code, error_message, updated_at FROM publications"
        )
        per_draft: dict[UUID, list[asyncpg.Record]] = defaultdict(list)
        for publication in publications:
            per_draft[publication["draft_id"]].append(publication)
        for draft in drafts:
            found = per_draft.get(draft.id, [])
            if len(found) != 1:
                verdict.problems.append(f"{_name(draft)}: {len(found)} publications {[p['status'] for p in found]}")
            for publication in found:
                verdict.statuses[publication["status"]] += 1
                if publication["status"] not in TERMINAL:
                    verdict.problems.append(f"{_name(draft)}: publication left {publication['status']}")
        stray = set(per_draft) - set(by_id)
        if stray:
            verdict.problems.append(f"{len(stray)} publications of drafts nobody published")
        await self._check_jobs(drafts, per_draft, verdict)
        await self._check_notifications(drafts, per_draft, verdict, excuse_kills)
        await self._check_pushes(drafts, per_draft, verdict, cut_offs, excuse_kills, excuse_lost_leases)
        return verdict

    async def _check_jobs(
        self, drafts: Sequence[Draft], per_draft: dict[UUID, list[asyncpg.Record]], verdict: Verdict
    ) -> None:
        assert self.db is not None and self.client is not None
        results = await self._results(drafts)
        retried = 0
        dead = await self.db.fetch("SELECT job_id, job_name, error_code, exception FROM failed_jobs")
        verdict.failed_jobs = len(dead)
        dead_ids = {row["job_id"] for row in dead}
        for draft in drafts:
            result = results.get(draft.job_id)
            if result is None:
                status = await self.client.job(draft.job_id, QUEUE).status()
                verdict.problems.append(f"{_name(draft)}: its publish job has no result (status {status.value})")
                continue
            self.tries[draft.job_id] = result.get("t", 1)
            retried += result.get("t", 1) > 1
            if not result.get("s") and draft.job_id not in dead_ids:
                verdict.problems.append(f"{_name(draft)}: its job failed ({result.get('r')}) without a failed_jobs row")
            failed = [p for p in per_draft.get(draft.id, []) if p["status"] == "failed"]
            if failed and draft.job_id in dead_ids:
                verdict.dead_lettered_publications += 1
        verdict.notes.append(f"{retried} jobs took more than one try")
        failed = sum(1 for d in drafts if any(p["status"] == "failed" for p in per_draft.get(d.id, [])))
        if failed:
            verdict.notes.append(
                f"{verdict.dead_lettered_publications} of the {failed} failed publications dead-lettered"
            )
        queued = await self.client.redis.zcard(QUEUE)
        if queued:
            verdict.problems.append(f"{queued} jobs still in the content_high queue")
        codes = Counter(f"{row['job_name'].rsplit('.', 1)[-1]}:{row['error_code']}" for row in dead)
        if codes:
            verdict.notes.append("failed_jobs " + ", ".join(f"{n} {code}" for code, n in sorted(codes.items())))

    async def _check_notifications(
        self,
        drafts: Sequence[Draft],
        per_draft: dict[UUID, list[asyncpg.Record]],
        verdict: Verdict,
        excuse_kills: bool,
    ) -> None:
        assert self.db is not None
        rows = await self.db.fetch(
            """
            SELECT event_type, data->>'marketplace' AS marketplace, data->>'sku' AS sku, count(*) AS n
            FROM notifications WHERE event_type LIKE 'content.%' GROUP BY 1, 2, 3
            """
        )
        written = {(r["event_type"], r["marketplace"], r["sku"]): r["n"] for r in rows}
        undelivered = await self.db.fetchval("SELECT count(*) FROM notifications WHERE status NOT IN ('sent')")
        if undelivered:
            verdict.problems.append(f"{undelivered} notifications not delivered")
        delivered = self.recorder.content_deliveries()
        for draft in drafts:
            statuses = {p["status"] for p in per_draft.get(draft.id, [])}
            wanted = {"content.published": 0, "content.publish_error": 0}
            if statuses & {"published", "verified", "mismatched"}:
                wanted["content.published"] = 1
            if "failed" in statuses:
                wanted["content.publish_error"] = 1
            for event, count in wanted.items():
                key = (event, draft.marketplace, draft.sku)
                rows_written = written.get(key, 0)
                if rows_written > 1:
                    verdict.duplicate_notifications += 1
                if rows_written != count:
                    verdict.problems.append(f"{_name(draft)}: {rows_written} {event} notifications, {count} wanted")
                times = sorted(delivered.get(key, []))
                if count and not times:
                    verdict.problems.append(f"{_name(draft)}: its {event} notification was never delivered")
                if len(times) > 1:
                    verdict.duplicate_deliveries += 1
                    excuses = [self._excuse(at, self.cut_offs) for at in times[:-1]] if excuse_kills else [None]
                    if all(e is not None for e in excuses):
                        verdict.excused_deliveries += 1
                        verdict.longest_excuse = max(verdict.longest_excuse, *excuses)  # type: ignore[type-var]
                    else:
                        verdict.problems.append(f"{_name(draft)}: {event} delivered {len(times)} times")

    async def _check_pushes(
        self,
        drafts: Sequence[Draft],
        per_draft: dict[UUID, list[asyncpg.Record]],
        verdict: Verdict,
        cut_offs: dict[str, list[float]],
        excuse_kills: bool,
        excuse_lost_leases: bool,
    ) -> None:
        counters = await self.sandbox.control("GET", "/counters")
        total = sum(counters["requests"].values())
        if total > REQUEST_LOG_SIZE:
            verdict.problems.append(f"{total} marketplace requests: the simulator's log kept only the last 10,000")
        pushes: dict[tuple[str, str], list[float]] = defaultdict(list)
        for entry in await self.sandbox.control("GET", "/requests"):
            path = UPDATE_PATHS.get(entry["marketplace"])
            if path and entry["path"].endswith(path) and entry["status"] == 200:
                for sku in set(entry["skus"]):  # a WB entry names each card twice (vendorCode and nmID)
                    pushes[(entry["marketplace"], sku)].append(entry["ts"])
        across = 0  # cards the marketplace took before an outage whose outcome was recorded after it
        for draft in drafts:
            times = sorted(pushes.get((draft.marketplace, draft.sku), []))
            verdict.pushes += bool(times)
            recorded = [p["updated_at"].timestamp() for p in per_draft.get(draft.id, [])]
            across += any(times and times[0] < start and max(recorded, default=0) > end for start, end in self.outages)
            published = any(p["status"] in ("published", "verified", "mismatched") for p in per_draft.get(draft.id, []))
            if published and not times:
                verdict.problems.append(f"{_name(draft)}: published, but no update request carried it")
            if len(times) <= 1:
                continue
            verdict.duplicate_pushes += 1
            allowed = (self.cut_offs if excuse_kills else []) + (
                cut_offs.get(draft.job_id, []) if excuse_lost_leases else []
            )
            excuses = [self._excuse(at, allowed) for at in times[:-1]]
            # a push again is excused only as the next run of the job whose run was cut off: one push a run at most
            if len(times) <= self.tries.get(draft.job_id, 1) and all(e is not None for e in excuses):
                verdict.excused_pushes += 1
                verdict.longest_excuse = max(verdict.longest_excuse, *excuses)  # type: ignore[type-var]
            else:
                gaps = ", ".join(f"{at - self._t0():.2f}s" for at in times)
                verdict.problems.append(
                    f"{_name(draft)}: pushed {len(times)} times (at {gaps} into the run; cut-offs at "
                    f"{', '.join(f'{c - self._t0():.2f}s' for c in sorted(allowed)) or 'none'})"
                )
        if self.outages:
            verdict.notes.append(f"{across} cards accepted by a marketplace before the outage were recorded after it")

    @staticmethod
    def _excuse(at: float, cut_offs: Sequence[float]) -> float | None:
        """Seconds from `at` to the first cut-off within CUT_OFF_WINDOW after it, or None."""
        gaps = [c - at for c in cut_offs if 0 <= c - at <= CUT_OFF_WINDOW]
        return min(gaps) if gaps else None

    def _t0(self) -> float:
        return min(self.enqueued.values(), default=time.time())

    def _cut_off_runs(self) -> dict[str, list[float]]:
        """job id -> wall times at which a worker logged one of its runs stopped because its lease was lost."""
        found: dict[str, list[float]] = defaultdict(list)
        for worker in self.workers:
            for entry in worker.log_lines():
                message = str(entry.get("msg", ""))
                if "its lease was lost" in message and message.startswith("job "):
                    job_id = message.split(" ", 2)[1].rstrip(":")
                    found[job_id].append(_wall(entry.get("ts")))
        return found

    def errors_in_logs(self, limit: int = 20) -> list[str]:
        """ERROR and CRITICAL lines of the workers' logs (for a failure's message)."""
        lines = []
        for worker in self.workers:
            for entry in worker.log_lines():
                if entry.get("level") in ("ERROR", "CRITICAL"):
                    lines.append(f"{worker.name}: {entry.get('ts')} {entry.get('msg')}"[:300])
        return lines[:limit]


async def _insert_drafts(db: asyncpg.Pool, marketplace: str, skus: Sequence[str]) -> list[UUID]:
    """Approved, valid drafts of these cards (as the bench's seller has them); their ids in the order of `skus`."""
    rows = [
        (
            USER_ID,
            sku,
            marketplace,
            f"Кружка керамическая 350 мл №{index:04d}",
            f"Керамическая кружка для чая и кофе объёмом 350 мл, толстые стенки. Артикул {sku}.",
            DRAFT_ATTRIBUTES[marketplace],
            ["кружка", "керамика"],
        )
        for index, sku in enumerate(skus)
    ]
    await db.executemany(
        """
        INSERT INTO content_drafts (user_id, sku, marketplace, title, description, attributes, seo_tags, status,
                                    is_valid)
        VALUES ($1, $2, $3, $4, $5, $6, $7, 'approved', true)
        """,
        rows,
    )
    found = await db.fetch("SELECT id, sku FROM content_drafts WHERE marketplace = $1", marketplace)
    by_sku = {row["sku"]: row["id"] for row in found}
    return [by_sku[sku] for sku in skus]


def _name(draft: Draft) -> str:
    return f"{draft.marketplace} {draft.sku} (draft {draft.id})"


def _wall(ts: Any) -> float:
    from datetime import datetime

    try:
        return datetime.fromisoformat(str(ts)).timestamp()
    except ValueError:
        return 0.0
