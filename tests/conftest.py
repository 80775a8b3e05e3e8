"""Real servers, isolated per test.

PostgreSQL: the database of ADOLF_TEST_DATABASE_URL, recreated and migrated once per session, tables truncated per
test. Redis: the database of ADOLF_TEST_REDIS_URL, flushed per test. scripts/test starts throwaway servers for both
unless they are set (see server_urls). Marketplaces: the sandbox, in this process, over loopback HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg
import pytest
from arq.connections import ArqRedis

from adolf.adapters import Adapters
from adolf.adapters.ratelimit import RateLimiter
from adolf.client import AdolfClient
from adolf.db.migrate import migrate
from adolf.db.pool import create_pool
from adolf.limits import DOCUMENTED_RATE_LIMITS, YM_RESOURCE_LIMITS
from adolf.sandbox import SandboxAccount, SandboxConfig, SandboxServer, start_sandbox
from adolf.settings import Settings
from adolf.workers import execution
from adolf.workers.runner import LaneGroup, connect_redis
from tests.sandbox.helpers import Client as SandboxClient
from tests.support.jobs import TEST_REGISTRY
from tests.support.processes import WorkerProcesses

TABLES = (
    "job_runs",
    "reports",
    "niche_analyses",
    "niche_segment_trends",
    "niche_trends",
    "niches",
    "api_tokens",
    "failed_jobs",
    "notifications",
    "publications",
    "generations",
    "content_drafts",
)


class ResultShapes(logging.Handler):
    """Collects the job wrapper's RESULT_SHAPE lines."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.problems: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == execution.RESULT_SHAPE_LINE:
            self.problems.append(record.getMessage())


@pytest.fixture(autouse=True)
def result_shapes() -> Iterator[list[str]]:
    """Every job a test runs in this process returns its result model's shape (adolf/models/results.py): a
    RESULT_SHAPE line fails the test. A test that provokes one on purpose reads this list and empties it."""
    handler = ResultShapes()
    logger = logging.getLogger(execution.__name__)
    logger.addHandler(handler)
    try:
        yield handler.problems
    finally:
        logger.removeHandler(handler)
    if handler.problems:
        pytest.fail("a job returned a result of another shape:\n" + "\n".join(handler.problems), pytrace=False)


def _with_path(url: str, path: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, parts.fragment))


def server_urls() -> tuple[str, str]:
    """The test servers: ADOLF_TEST_DATABASE_URL and ADOLF_TEST_REDIS_URL, never the configured ones.

    `scripts/test` sets both (to throwaway servers it starts, unless they were set already). The session drops and
    recreates that database and flushes that Redis database before each test.
    """
    database = os.environ.get("ADOLF_TEST_DATABASE_URL", "")
    redis = os.environ.get("ADOLF_TEST_REDIS_URL", "")
    if not database or not redis:
        pytest.exit(
            "the tests need servers of their own: run scripts/test (it starts throwaway PostgreSQL and Redis), or set "
            "ADOLF_TEST_DATABASE_URL and ADOLF_TEST_REDIS_URL (that database is dropped and recreated, that Redis "
            "database flushed)",
            returncode=4,
        )
    return database, redis


# generous limits on both sides, so only tests about rate limits meet them
ROOMY_LIMITS = {bucket: "1000/1:1000" for bucket in DOCUMENTED_RATE_LIMITS}
ROOMY_YM_WINDOWS = {bucket: "100000/60" for bucket in YM_RESOURCE_LIMITS}
SANDBOX_ACCOUNT = SandboxAccount()
SANDBOX_DEFAULTS = {
    "latency_ms": 0,
    "apply_delay_s": 0.05,
    "timeout_fault_delay_s": 5,
    "rate_limits": ROOMY_LIMITS,
    "ym_max_parallel": 4,
    "ym_limits": ROOMY_YM_WINDOWS,
    "ozon_daily_update_limit": 100_000,
    "log_bodies": False,
}


def marketplace_settings(url: str) -> dict[str, object]:
    """Point every adapter at the sandbox, with its default account's credentials."""
    return {
        "wb_content_url": url,
        "wb_analytics_url": url,
        "wb_token": SANDBOX_ACCOUNT.wb_token,
        "ozon_api_url": url,
        "ozon_client_id": SANDBOX_ACCOUNT.ozon_client_id,
        "ozon_api_key": SANDBOX_ACCOUNT.ozon_api_key,
        "ym_api_url": url,
        "ym_api_key": SANDBOX_ACCOUNT.ym_api_key,
        "ym_business_id": SANDBOX_ACCOUNT.ym_business_id,
    }


REPORTS_DIR = os.path.join(tempfile.gettempdir(), f"adolf-test-reports-{os.getpid()}")


def make_settings(sandbox_url: str = "http://127.0.0.1:9", **overrides: object) -> Settings:
    """Settings for tests: real servers, short delays so retries and leases play out in seconds."""
    database_url, redis_url = server_urls()
    values: dict[str, object] = {
        **marketplace_settings(sandbox_url),
        "rate_limits": ROOMY_LIMITS,
        "http_timeout": 2.0,
        "ozon_import_wait": 3.0,
        "database_url": database_url,
        "redis_url": redis_url,
        "retry_delays": (0.05, 0.1, 0.15),
        "batch_window": 0.02,
        "poll_delay": 0.02,
        "job_lease_seconds": 3.0,
        "health_check_interval": 1.0,
        "shutdown_grace_seconds": 5.0,
        "notify_poll_interval": 0.1,
        "log_format": "text",
        "reports_dir": REPORTS_DIR,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
async def sandbox_server() -> AsyncIterator[SandboxServer]:
    server = await start_sandbox(SandboxConfig(**SANDBOX_DEFAULTS))
    yield server
    await server.close()


@pytest.fixture(scope="session")
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


@pytest.fixture
async def marketplace(sandbox_server: SandboxServer, http_session: aiohttp.ClientSession) -> SandboxClient:
    """The sandbox, emptied and back to its test defaults: seed cards, inject faults, read counters."""
    client = SandboxClient(http_session, sandbox_server)
    await client.control("POST", "/reset")
    await client.control("PUT", "/config", SANDBOX_DEFAULTS)
    return client


@pytest.fixture(scope="session")
def settings(sandbox_server: SandboxServer) -> Settings:
    return make_settings(sandbox_server.url)


@pytest.fixture(scope="session")
async def database(settings: Settings) -> AsyncIterator[str]:
    name = urlsplit(settings.database_url).path.lstrip("/")
    admin = await asyncpg.connect(_with_path(settings.database_url, "/postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    await migrate(settings.database_url)
    yield settings.database_url


@pytest.fixture(scope="session")
async def pool(database: str) -> AsyncIterator[asyncpg.Pool]:
    db = await create_pool(database, min_size=1, max_size=10)
    yield db
    await db.close()


@pytest.fixture
async def db(pool: asyncpg.Pool) -> asyncpg.Pool:
    """The session pool over freshly emptied tables."""
    await pool.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    return pool


@pytest.fixture
async def conn(db: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """One connection (over emptied tables) inside a transaction that is rolled back after the test."""
    async with db.acquire() as connection:
        transaction = connection.transaction()
        await transaction.start()
        try:
            yield connection
        finally:
            await transaction.rollback()


@pytest.fixture(scope="session")
async def redis_pool(settings: Settings) -> AsyncIterator[ArqRedis]:
    redis = await connect_redis(settings)
    yield redis
    await redis.aclose()


@pytest.fixture
async def redis(redis_pool: ArqRedis) -> ArqRedis:
    await redis_pool.flushdb()
    return redis_pool


LaneGroupFactory = Callable[..., Awaitable[LaneGroup]]


@pytest.fixture
async def lane_group(settings: Settings, db: asyncpg.Pool, redis: ArqRedis) -> AsyncIterator[LaneGroupFactory]:
    """Start lane groups in this process (with the test jobs registered); stopped at teardown."""
    running: list[tuple[LaneGroup, asyncio.Task[None]]] = []

    async def start(lanes: list[str], *, settings_: Settings | None = None, registry=TEST_REGISTRY) -> LaneGroup:
        group = LaneGroup(settings_ or settings, lanes=lanes, registry=registry)
        await group.start()
        running.append((group, asyncio.create_task(group.run())))
        return group

    yield start
    for group, task in running:
        group.stop(graceful=False)
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await group.close()


@pytest.fixture
async def burst(settings: Settings, db: asyncpg.Pool, redis: ArqRedis) -> Callable[..., Awaitable[LaneGroup]]:
    """Run lanes until their queues are empty; returns the stopped group (its workers keep their counters)."""

    async def run(lanes: list[str], *, settings_: Settings | None = None, registry=TEST_REGISTRY) -> LaneGroup:
        group = LaneGroup(settings_ or settings, lanes=lanes, registry=registry, burst=True)
        await group.start()
        try:
            await asyncio.wait_for(group.run(), 60)
        finally:
            await group.close()
        return group

    return run


@pytest.fixture
async def worker_processes(settings: Settings, db: asyncpg.Pool, redis: ArqRedis) -> AsyncIterator[WorkerProcesses]:
    """Worker processes started with `python -m tests.support.worker_main`; killed (by pid) at teardown."""
    processes = WorkerProcesses(settings)
    yield processes
    await processes.stop_all()


@pytest.fixture
async def build_adapters(redis: ArqRedis, sandbox_server: SandboxServer) -> AsyncIterator[Callable[..., Adapters]]:
    """Adapters pointed at the sandbox, with setting overrides (closed at teardown)."""
    built: list[Adapters] = []

    def build(**overrides: object) -> Adapters:
        settings = make_settings(sandbox_server.url, **overrides)
        adapters = Adapters.build(settings, RateLimiter(redis, settings.rate_limits, max_wait=5))
        built.append(adapters)
        return adapters

    yield build
    for adapters in built:
        await adapters.close()


@pytest.fixture
async def adapters(build_adapters: Callable[..., Adapters]) -> Adapters:
    return build_adapters()


@pytest.fixture
def client(redis: ArqRedis) -> AdolfClient:
    """The typed client, knowing the test jobs too."""
    return AdolfClient(redis, registry=TEST_REGISTRY)
