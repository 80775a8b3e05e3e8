"""`adolf bench publish-limits`: a seller's whole catalog published at the marketplaces' documented limits.

10,000 WB drafts for one seller, then a run of 1,000 Ozon and 1,000 YM drafts together, against the marketplace
simulator enforcing each marketplace's documented limits (card-list reads included), through a real `adolf worker`
process, PostgreSQL and Redis, with the default settings. It prints what it measures and, as its last line, one JSON
object: cards, seconds, floor_seconds (the least the limits allow for the reads and updates the catalog needs,
adolf/bench/floor.py), ratio_to_floor, limit_answers, failed, one_card_per_request_seconds (the seed's design under
the same limits), and the same figures per marketplace under by_marketplace. A run's seconds go from the first
enqueue to the last publication's final status.

It works in a database of its own (`adolf_bench`, recreated) on the server of ADOLF_DATABASE_URL and in one database
of the Redis server of ADOLF_REDIS_URL (14 unless told otherwise), which it refuses to touch unless that database is
empty or was left by an earlier bench run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from uuid import UUID

import aiohttp
import asyncpg
import orjson

from adolf.adapters.base import CardContent, CardUpdate
from adolf.adapters.wb import card_for_update
from adolf.bench.floor import Catalog, floor_seconds, one_card_per_request_seconds
from adolf.bench.harness import Proc
from adolf.bench.servers import stop_process
from adolf.client import AdolfClient
from adolf.db.migrate import migrate
from adolf.db.pool import create_pool
from adolf.limits import DOCUMENTED_RATE_LIMITS, YM_RESOURCE_LIMITS, scaled
from adolf.sandbox import SandboxAccount
from adolf.settings import Settings
from adolf.workers.runner import connect_redis

logger = logging.getLogger(__name__)

BENCH_DATABASE = "adolf_bench"
OWNER_KEY = "adolf:bench:owner"
USER_ID = UUID("00000000-0000-4000-8000-00000000be0c")
DONE = ("published", "failed")
SEED_CHUNK = 1000
LIMIT_STATUSES = ("429", "420")
DESCRIPTION = (
    "Керамическая кружка для чая и кофе объёмом 350 мл. Толстые стенки дольше сохраняют тепло, удобная ручка не "
    "нагревается, глазурь не впитывает запахи. Подходит для посудомоечной машины и микроволновой печи. "
)

Say = Callable[[str], None]


@dataclass
class BenchOptions:
    wb: int = 10_000
    ozon: int = 1_000
    ym: int = 1_000
    latency_ms: float = 50.0
    speed: float = 1.0  # the documented limits on a faster clock, for the simulator and the worker alike
    redis_db: int = 14
    run_timeout: float = 900.0


@dataclass
class MarketplaceRun:
    marketplace: str
    cards: int
    catalog: Catalog
    seconds: float = 0.0
    failed: int = 0
    limit_answers: int = 0
    requests: Counter[str] = field(default_factory=Counter)
    update_cards: list[int] = field(default_factory=list)
    last_read_at: float | None = None  # seconds into the run
    last_update_at: float | None = None


class BenchError(RuntimeError):
    """The bench cannot run here (and says why)."""


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


async def fresh_database(settings: Settings) -> str:
    url = _with_path(settings.database_url, f"/{BENCH_DATABASE}")
    admin = await asyncpg.connect(_with_path(settings.database_url, "/postgres"), timeout=10)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
    finally:
        await admin.close()
    await migrate(url)
    return url


async def _own_redis_database(settings: Settings, db_index: int) -> str:
    url = _with_path(settings.redis_url, f"/{db_index}")
    redis = await connect_redis(settings.model_copy(update={"redis_url": url}))
    try:
        if await redis.dbsize() and not await redis.exists(OWNER_KEY):
            raise BenchError(f"Redis database {db_index} of {settings.redis_url} is not empty; pass --redis-db N")
        await redis.flushdb()
        await redis.set(OWNER_KEY, str(os.getpid()))
    finally:
        await redis.aclose()
    return url


def _draft_text(marketplace: str, index: int) -> tuple[str, str]:
    return f"Кружка керамическая 350 мл №{index:05d}", DESCRIPTION * 6 + f"Артикул {marketplace}-{index:05d}."


class SandboxProcess:
    """`adolf sandbox` as a child process: the marketplaces answer from their own event loop, as real ones do."""

    def __init__(self, latency_ms: float, limits: dict[str, str], log_path: Path) -> None:
        self.latency_ms = latency_ms
        self.limits = limits
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None
        self.url = ""
        self.http: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        limits = [arg for bucket, spec in self.limits.items() for arg in ("--rate-limit", f"{bucket}={spec}")]
        with self.log_path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "adolf", "sandbox", "--port", str(port), "--latency-ms", str(self.latency_ms),
                "--apply-delay", "0.5", *limits, stdout=log, stderr=log,
            )  # fmt: skip
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(aiohttp.ClientError):
                await self.control("GET", "/health")
                return
            if time.monotonic() > deadline or self.process.returncode is not None:
                raise BenchError(f"the marketplace simulator did not start (see {self.log_path})")
            await asyncio.sleep(0.1)

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        assert self.http is not None
        async with self.http.request(method, f"{self.url}/__sandbox{path}", json=body) as response:
            response.raise_for_status()
            return await response.json(content_type=None)

    async def seed(self, marketplace: str, skus: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Cards in the simulator, as its read API returns them, by sku."""
        seeded: dict[str, dict[str, Any]] = {}
        for start in range(0, len(skus), SEED_CHUNK):
            cards = [
                {"sku": sku, "title": "Кружка", "description": "Описание", "attributes": SEEDED_ATTRIBUTES[marketplace]}
                for sku in skus[start : start + SEED_CHUNK]
            ]
            answer = await self.control("POST", "/cards", {"marketplace": marketplace, "cards": cards})
            seeded.update({card["sku"]: card["raw"] for card in answer["cards"]})
        return seeded

    async def counters(self) -> Counter[str]:
        return Counter((await self.control("GET", "/counters"))["requests"])

    async def requests_since(self, wall_time: float) -> list[dict[str, Any]]:
        return [e for e in await self.control("GET", "/requests") if e["ts"] >= wall_time]

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()
        await stop_process(self.process)


# one attribute per draft, named as each marketplace's category names it (read and typed before sending)
DRAFT_ATTRIBUTES = {"wb": {"Цвет": "белый"}, "ozon": {"Цвет товара": "белый"}, "ym": {"Цвет товара": "белый"}}
SEEDED_ATTRIBUTES = {"wb": {"Цвет": "черный"}, "ozon": {"Цвет товара": "черный"}, "ym": {"14871214": "черный"}}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def insert_drafts(db: asyncpg.Pool, marketplace: str, skus: Sequence[str]) -> list[UUID]:
    rows = []
    for index, sku in enumerate(skus):
        title, description = _draft_text(marketplace, index)
        attributes = DRAFT_ATTRIBUTES[marketplace]
        rows.append((USER_ID, sku, marketplace, title, description, attributes, ["кружка", "керамика"]))
    insert = """
        INSERT INTO content_drafts (user_id, sku, marketplace, title, description, attributes, seo_tags, status,
                                    is_valid)
        VALUES ($1, $2, $3, $4, $5, $6, $7, 'approved', true)
    """
    await db.executemany(insert, rows)
    found = await db.fetch("SELECT id, sku FROM content_drafts WHERE marketplace = $1", marketplace)
    by_sku = {r["sku"]: r["id"] for r in found}
    return [by_sku[sku] for sku in skus]


def _wb_body_bytes(cards: dict[str, dict[str, Any]], skus: Sequence[str]) -> int:
    """What the update requests of these cards weigh (WB's 10 MB body limit may split them)."""
    total = 0
    for index, sku in enumerate(skus):
        title, description = _draft_text("wb", index)
        update = CardUpdate(sku=sku, content=CardContent(title=title, description=description))
        total += len(orjson.dumps(card_for_update(cards[sku], update))) + 1
    return total


def worker_env(settings: Settings, database_url: str, redis_url: str, sandbox: str, limits: dict[str, str]) -> dict:
    account = SandboxAccount()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADOLF_")}
    env.update(
        ADOLF_DATABASE_URL=database_url,
        ADOLF_REDIS_URL=redis_url,
        ADOLF_RATE_LIMITS=orjson.dumps({b: s for b, s in limits.items() if b not in YM_RESOURCE_LIMITS}).decode(),
        ADOLF_WB_CONTENT_URL=sandbox,
        ADOLF_OZON_API_URL=sandbox,
        ADOLF_YM_API_URL=sandbox,
        ADOLF_WB_TOKEN=account.wb_token,
        ADOLF_OZON_CLIENT_ID=account.ozon_client_id,
        ADOLF_OZON_API_KEY=account.ozon_api_key,
        ADOLF_YM_API_KEY=account.ym_api_key,
        ADOLF_YM_BUSINESS_ID=str(account.ym_business_id),
        ADOLF_LOG_FORMAT=settings.log_format,
        ADOLF_LOG_LEVEL=settings.log_level,
    )
    return env


def _limit_answers(counters: Counter[str], marketplace: str) -> int:
    return sum(n for key, n in counters.items() if key.startswith(f"{marketplace} ") and key.endswith(LIMIT_STATUSES))


def _cards_in(entry: dict[str, Any]) -> int:
    skus = entry["skus"]
    return len(skus) // 2 if entry["marketplace"] == "wb" else len(skus)  # WB entries name each card twice


def _update_path(marketplace: str) -> str:
    return {"wb": "/cards/update", "ozon": "/product/import", "ym": "/offer-mappings/update"}[marketplace]


async def _measure(
    sandbox: SandboxProcess,
    db: asyncpg.Pool,
    client: AdolfClient,
    worker: Proc,
    drafts: dict[str, list[UUID]],
    runs: dict[str, MarketplaceRun],
    timeout: float,
    say: Say,
) -> float:
    """Enqueue every draft, wait until each publication has its final status; returns the run's seconds."""
    counters_before = await sandbox.counters()
    started_at = await db.fetchval("SELECT clock_timestamp()")
    started, wall_started = time.monotonic(), time.time()
    all_drafts = [d for ids in drafts.values() for d in ids]
    for start in range(0, len(all_drafts), 500):
        chunk = all_drafts[start : start + 500]
        await asyncio.gather(*(client.publish_content(draft_id=d, user_id=USER_ID) for d in chunk))
    say(f"enqueued {len(all_drafts)} publish jobs in {time.monotonic() - started:.1f}s")
    rows = await _wait_until_done(db, drafts, started, timeout, worker, say)
    elapsed = 0.0
    for marketplace, run in runs.items():
        row = rows.get(marketplace)
        finished = row["finished"] if row and row["finished"] else None
        run.seconds = (finished - started_at).total_seconds() if finished else time.monotonic() - started
        run.failed = run.cards - (row["published"] if row else 0)
        elapsed = max(elapsed, run.seconds)
    delta = await sandbox.counters() - counters_before
    entries = await sandbox.requests_since(wall_started)
    for marketplace, run in runs.items():
        run.limit_answers = _limit_answers(delta, marketplace)
        run.requests = Counter({k: n for k, n in delta.items() if k.startswith(f"{marketplace} ")})
        mine = [e for e in entries if e["marketplace"] == marketplace]
        updates = [e for e in mine if e["path"].endswith(_update_path(marketplace))]
        run.update_cards = [_cards_in(e) for e in updates]
        run.last_update_at = max((e["ts"] - wall_started for e in updates), default=None)
        run.last_read_at = max((e["ts"] - wall_started for e in mine if e not in updates), default=None)
    return elapsed


async def _wait_until_done(
    db: asyncpg.Pool, drafts: dict[str, list[UUID]], started: float, timeout: float, worker: Proc, say: Say
) -> dict[str, asyncpg.Record]:
    query = """
        SELECT marketplace,
               count(*) FILTER (WHERE status = ANY($1::text[])) AS done,
               count(*) FILTER (WHERE status = 'published') AS published,
               max(updated_at) FILTER (WHERE status = ANY($1::text[])) AS finished
        FROM publications GROUP BY marketplace
    """
    wanted = {mp: len(ids) for mp, ids in drafts.items()}
    last_said = time.monotonic()
    while True:
        rows = {r["marketplace"]: r for r in await db.fetch(query, list(DONE))}
        worker.sample()
        done = {mp: rows[mp]["done"] if mp in rows else 0 for mp in wanted}
        if done == wanted:
            return rows
        now = time.monotonic()
        if now - started > timeout or (worker.process is not None and worker.process.returncode is not None):
            say(f"stopped waiting after {now - started:.0f}s: {done} of {wanted} finished")
            return rows
        if now - last_said >= 10:
            say(f"{now - started:5.0f}s " + ", ".join(f"{mp} {done[mp]}/{n}" for mp, n in wanted.items()))
            last_said = now
        await asyncio.sleep(0.2)


def _summary(figures: list[MarketplaceRun], limits: dict[str, str]) -> dict[str, Any]:
    by_marketplace = {}
    for run in figures:
        floor = floor_seconds(run.catalog, limits)
        by_marketplace[run.marketplace] = {
            "cards": run.cards,
            "seconds": round(run.seconds, 1),
            "floor_seconds": round(floor, 1),
            "ratio_to_floor": round(run.seconds / floor, 3) if floor >= 1 else None,
            "limit_answers": run.limit_answers,
            "failed": run.failed,
            "one_card_per_request_seconds": round(one_card_per_request_seconds(run.catalog, limits), 1),
            "update_requests": len(run.update_cards),
            "largest_update_request": max(run.update_cards, default=0),
            "requests": sum(run.requests.values()),
        }
    return by_marketplace


async def run_publish_limits(settings: Settings, options: BenchOptions, say: Say) -> dict[str, Any]:
    documented = {**DOCUMENTED_RATE_LIMITS, **YM_RESOURCE_LIMITS}
    limits = scaled(documented, options.speed) if options.speed != 1 else documented
    database_url = await fresh_database(settings)
    redis_url = await _own_redis_database(settings, options.redis_db)
    logs = Path(tempfile.gettempdir())
    sandbox = SandboxProcess(options.latency_ms, limits, logs / f"adolf-bench-sandbox-{os.getpid()}.log")
    await sandbox.start()
    db = await create_pool(database_url, min_size=1, max_size=4)
    client = await AdolfClient.connect(settings.model_copy(update={"redis_url": redis_url}))
    log_path = logs / f"adolf-bench-worker-{os.getpid()}.log"
    env = worker_env(settings, database_url, redis_url, sandbox.url, limits)
    worker = Proc("worker", [sys.executable, "-m", "adolf", "worker", "--lanes", "content_high", "--health-port", "0"],
                  env, log=log_path)  # fmt: skip
    try:
        return await _run(options, limits, sandbox, db, client, worker, say)
    finally:
        await worker.stop()
        await client.redis.flushdb()
        await client.close()
        await db.close()
        await sandbox.close()
        say(f"worker log: {log_path}")


async def _run(
    options: BenchOptions,
    limits: dict[str, str],
    sandbox: SandboxProcess,
    db: asyncpg.Pool,
    client: AdolfClient,
    worker: Proc,
    say: Say,
) -> dict[str, Any]:
    plan = [{"wb": options.wb}, {"ozon": options.ozon, "ym": options.ym}]
    plan = [{mp: n for mp, n in run.items() if n > 0} for run in plan]
    plan = [run for run in plan if run]
    seeded: dict[str, list[UUID]] = {}
    catalogs: dict[str, Catalog] = {}
    for run in plan:
        for marketplace, count in run.items():
            skus = [f"BENCH-{marketplace.upper()}-{i:05d}" for i in range(count)]
            cards = await sandbox.seed(marketplace, skus)
            seeded[marketplace] = await insert_drafts(db, marketplace, skus)
            body = _wb_body_bytes(cards, skus) if marketplace == "wb" else 0
            catalogs[marketplace] = Catalog(marketplace, cards=count, catalog=count, body_bytes=body)
    say(f"seeded {sum(len(v) for v in seeded.values())} cards in the simulator and as approved drafts")
    await worker.start()
    await (await client.ping("content_high")).result(timeout=60)
    cpu_before = worker.cpu_seconds()
    say(f"worker pid {worker.pid} ready; limits: {limits}")

    figures: list[MarketplaceRun] = []
    run_seconds: list[float] = []
    for run in plan:
        runs = {mp: MarketplaceRun(mp, n, catalogs[mp]) for mp, n in run.items()}
        say(f"run: {', '.join(f'{n} {mp}' for mp, n in run.items())} drafts")
        seconds = await _measure(
            sandbox, db, client, worker, {mp: seeded[mp] for mp in run}, runs, options.run_timeout, say
        )
        run_seconds.append(seconds)
        figures.extend(runs.values())
        for figure in runs.values():
            say(
                f"  {figure.marketplace}: {figure.cards} cards in {figure.seconds:.1f}s, "
                f"{len(figure.update_cards)} update requests (largest {max(figure.update_cards, default=0)} cards), "
                f"{sum(figure.requests.values())} requests in all, {figure.limit_answers} limit answers, "
                f"{figure.failed} failed; last read at {_seconds(figure.last_read_at)}, last update request at "
                f"{_seconds(figure.last_update_at)}"
            )
    worker_cpu = worker.cpu_seconds() - cpu_before
    by_marketplace = _summary(figures, limits)
    cards = sum(f.cards for f in figures)
    say(f"worker: {worker_cpu:.1f}s of CPU ({worker_cpu / max(cards, 1) * 1000:.2f} ms a card), "
        f"peak RSS {worker.peak_rss / 2**20:.0f} MiB")  # fmt: skip
    return _totals(by_marketplace, plan, run_seconds, worker_cpu, worker.peak_rss)


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _totals(
    by_marketplace: dict[str, dict[str, Any]],
    plan: list[dict[str, int]],
    run_seconds: list[float],
    worker_cpu: float,
    peak_rss: int,
) -> dict[str, Any]:
    """Runs follow each other, marketplaces of one run go in parallel: a run's floor is its slowest marketplace's."""
    floor = sum(max(by_marketplace[mp]["floor_seconds"] for mp in run) for run in plan)
    one_card = sum(max(by_marketplace[mp]["one_card_per_request_seconds"] for mp in run) for run in plan)
    seconds = sum(run_seconds)
    return {
        "cards": sum(m["cards"] for m in by_marketplace.values()),
        "seconds": round(seconds, 1),
        "floor_seconds": round(floor, 1),
        "ratio_to_floor": round(seconds / floor, 3) if floor >= 1 else None,
        "limit_answers": sum(m["limit_answers"] for m in by_marketplace.values()),
        "failed": sum(m["failed"] for m in by_marketplace.values()),
        "one_card_per_request_seconds": round(one_card, 1),
        "worker_cpu_seconds": round(worker_cpu, 1),
        "worker_peak_rss_mib": round(peak_rss / 2**20, 1),
        "by_marketplace": by_marketplace,
    }


def main(settings: Settings, options: BenchOptions) -> int:
    def say(line: str) -> None:
        print(f"[bench] {line}", flush=True)

    try:
        summary = asyncio.run(run_publish_limits(settings, options, say))
    except BenchError as error:
        print(f"adolf bench: {error}", file=sys.stderr)
        return 2
    print(orjson.dumps(summary).decode(), flush=True)
    ok = summary["failed"] == 0 and summary["limit_answers"] == 0
    return 0 if ok else 1
