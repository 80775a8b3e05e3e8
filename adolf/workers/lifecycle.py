"""The worker process's composition root: builds the shared resources once and closes them together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg

from adolf.adapters import Adapters
from adolf.adapters.notifications import build_channels
from adolf.adapters.ratelimit import RateLimiter
from adolf.db.pool import create_pool
from adolf.scout.pool import AnalysisPool
from adolf.services.notifications import send_alert
from adolf.services.office import OfficeReporter, build_reporters
from adolf.services.outbox import OutboxDispatcher
from adolf.services.publish_records import PublishRecords
from adolf.settings import Settings
from adolf.workers import arq_seam
from adolf.workers.arq_seam import ArqRedis, Scripts
from adolf.workers.failures import DeadLetterOffice
from adolf.workers.history import JobHistory
from adolf.workers.lease import Leases
from adolf.workers.registry import FailureHook

if TYPE_CHECKING:
    from adolf.adapters.trends import TrendSources

logger = logging.getLogger(__name__)

INFRA_ALERT_INTERVAL = 300.0
OFFICE_FLUSH = 0.5  # seconds between writes of an agent's latest state
STARTUP_TIMEOUT = 5.0  # seconds Redis and PostgreSQL get to answer when a worker starts


class StartupError(Exception):
    """What keeps a worker from starting (a server its settings name does not answer, its health port is taken):
    the message is the one line the command prints before it exits non-zero."""


def masked_url(url: str) -> str:
    """The URL with its password replaced by ***."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rpartition("@")
        user = netloc[0].partition(":")[0]
        return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[2]}"))
    except ValueError:
        return "<unparseable URL>"


def redis_setting(settings: Settings) -> str:
    """The setting(s) that say where Redis is, as `NAME=value` (password masked)."""
    if settings.redis_sentinels:
        return (
            f"ADOLF_REDIS_SENTINELS={','.join(settings.redis_sentinels)} (master {settings.redis_sentinel_master}, "
            f"ADOLF_REDIS_URL={masked_url(settings.redis_url)})"
        )
    return f"ADOLF_REDIS_URL={masked_url(settings.redis_url)}"


def database_setting(settings: Settings) -> str:
    return f"ADOLF_DATABASE_URL={masked_url(settings.database_url)}"


def _reason(exc: BaseException, timeout: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    text = " ".join(str(exc).split()) or type(exc).__name__
    if "Connect call failed" in text or "Connection refused" in text:
        return "connection refused"
    return text[:200]


async def check_redis(settings: Settings, *, timeout: float = STARTUP_TIMEOUT) -> None:
    """Raises StartupError unless Redis answers a PING within `timeout`."""
    try:
        async with asyncio.timeout(timeout):
            redis = await arq_seam.connect(settings)
        await redis.aclose()
    except Exception as exc:
        raise StartupError(f"cannot reach Redis at {redis_setting(settings)} ({_reason(exc, timeout)})") from None


async def check_postgres(settings: Settings, *, timeout: float = STARTUP_TIMEOUT) -> None:
    """Raises StartupError unless PostgreSQL accepts a connection (database and role exist) within `timeout`."""
    try:
        connection = await asyncpg.connect(settings.database_url, timeout=timeout)
        await connection.close(timeout=timeout)
    except Exception as exc:
        raise StartupError(
            f"cannot reach PostgreSQL at {database_setting(settings)} ({_reason(exc, timeout)})"
        ) from None


async def check_servers(settings: Settings, *, timeout: float = STARTUP_TIMEOUT) -> None:
    """At start (never later: an outage of a running worker only pauses it): Redis, then PostgreSQL."""
    await check_redis(settings, timeout=timeout)
    await check_postgres(settings, timeout=timeout)


@dataclass
class Resources:
    """Everything jobs share in one process: pools, sessions, adapters. Nothing here is needed by another process."""

    settings: Settings
    redis: ArqRedis
    db: asyncpg.Pool
    dead_letters: DeadLetterOffice
    outbox: OutboxDispatcher
    limiter: RateLimiter
    adapters: Adapters
    office: dict[str, OfficeReporter]
    http: aiohttp.ClientSession  # notification channels and the dashboard push
    scripts: Scripts
    leases: Leases
    publish_records: PublishRecords
    history: JobHistory  # job_runs, written in batches
    trends: TrendSources  # Scout's trend data from the marketplaces' analytics APIs
    _background: list[asyncio.Task[Any]] = field(default_factory=list)
    _infra_alerted: dict[str, float] = field(default_factory=dict)
    _unsent_alerts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @classmethod
    async def open(
        cls, settings: Settings, redis: ArqRedis, *, failure_hooks: dict[str, FailureHook] | None = None
    ) -> Resources:
        from adolf.adapters.trends import TrendSources

        # min_size=0: the worker starts even while PostgreSQL is down; jobs retry until it is back
        db = await create_pool(settings.database_url, min_size=0, max_size=settings.db_pool_max)
        http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        outbox = OutboxDispatcher(db, build_channels(settings, http), poll_interval=settings.notify_poll_interval)
        limiter = RateLimiter(redis, settings.rate_limits, max_wait=settings.rate_limit_max_wait)
        scripts = Scripts(redis)
        resources = cls(
            settings=settings,
            redis=redis,
            db=db,
            dead_letters=DeadLetterOffice(db, scripts, failure_hooks),
            outbox=outbox,
            limiter=limiter,
            adapters=Adapters.build(settings, limiter),
            office=build_reporters(
                redis, push_session=http, dashboard_url=settings.office_dashboard_url, flush_interval=OFFICE_FLUSH
            ),
            http=http,
            scripts=scripts,
            leases=Leases(scripts, settings.job_lease_seconds),
            publish_records=PublishRecords(db),
            history=JobHistory(db, secrets=tuple(settings.secret_values()), enabled=settings.job_history),
            trends=TrendSources.build(settings, limiter),
        )
        resources._background += [
            asyncio.create_task(outbox.run_forever(), name="adolf-outbox"),
            asyncio.create_task(resources.dead_letters.run_forever(), name="adolf-dead-letters"),
            asyncio.create_task(resources._send_unsent_alerts(), name="adolf-unsent-alerts"),
            asyncio.create_task(resources._watch_postgres(), name="adolf-postgres-watch"),
        ]
        return resources

    async def close(self) -> None:
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.dead_letters.retry_waiting()
        await self.history.close()
        for reporter in self.office.values():
            await reporter.close()
        await self.leases.close()
        await self.adapters.close()
        await self.trends.close()
        await self.http.close()
        await self.db.close()

    @property
    def analysis_pool(self) -> AnalysisPool:
        """The process's pool for Scout's numeric work, started on first use."""
        return AnalysisPool.shared(self.settings.scout_pool_workers)

    async def infra_alert(self, exc: BaseException, *, job_name: str) -> None:
        """Alert about an unreachable Redis/PostgreSQL, at most once per INFRA_ALERT_INTERVAL per cause. An alert
        that cannot be stored (the outage is PostgreSQL's) is kept and stored once the database answers."""
        key = type(exc).__name__
        now = time.monotonic()
        if now - self._infra_alerted.get(key, -INFRA_ALERT_INTERVAL) < INFRA_ALERT_INTERVAL:
            return
        self._infra_alerted[key] = now
        message = f"infrastructure error in {job_name}: {type(exc).__name__}: {exc}"
        logger.error(message)
        self._unsent_alerts.append((message, {"job": job_name, "at": datetime.now(UTC).isoformat()}))
        await self._store_alerts()

    async def _store_alerts(self) -> None:
        while self._unsent_alerts:
            message, data = self._unsent_alerts[0]
            try:
                await send_alert(self.db, event_type="infra.error", message=message, data=data)
            except Exception as alert_exc:
                logger.warning("infra alert kept until PostgreSQL answers (%s)", type(alert_exc).__name__)
                return
            self._unsent_alerts.pop(0)

    async def _watch_postgres(self) -> None:
        """Tells a PostgreSQL outage once when it starts and once when it ends (the loops that meet it meanwhile
        are throttled by the log handler)."""
        interval = max(0.5, min(self.settings.health_check_interval, 10.0))
        down_since: float | None = None
        while True:
            try:
                async with asyncio.timeout(5.0):
                    await self.db.fetchval("SELECT 1")
            except Exception as exc:
                if down_since is None:
                    down_since = time.monotonic()
                    logger.warning(
                        "PostgreSQL unavailable at %s (%s); jobs that need it retry until it answers",
                        database_setting(self.settings),
                        _reason(exc, 5.0),
                    )
            else:
                if down_since is not None:
                    logger.warning("PostgreSQL answers again after %.1fs", time.monotonic() - down_since)
                    down_since = None
            await asyncio.sleep(interval)

    async def _send_unsent_alerts(self, interval: float = 5.0) -> None:
        while True:
            await asyncio.sleep(interval)
            if self._unsent_alerts:
                await self._store_alerts()
