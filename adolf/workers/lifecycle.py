"""The worker process's composition root: builds the shared resources once and closes them together."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

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
from adolf.workers.arq_seam import ArqRedis, Scripts
from adolf.workers.failures import DeadLetterOffice
from adolf.workers.lease import Leases
from adolf.workers.registry import FailureHook

if TYPE_CHECKING:
    from adolf.adapters.trends import TrendSources

logger = logging.getLogger(__name__)

INFRA_ALERT_INTERVAL = 300.0
OFFICE_FLUSH = 0.5  # seconds between writes of an agent's latest state


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
            trends=TrendSources.build(settings, limiter),
        )
        resources._background += [
            asyncio.create_task(outbox.run_forever(), name="adolf-outbox"),
            asyncio.create_task(resources.dead_letters.run_forever(), name="adolf-dead-letters"),
            asyncio.create_task(resources._send_unsent_alerts(), name="adolf-unsent-alerts"),
        ]
        return resources

    async def close(self) -> None:
        for task in self._background:
            task.cancel()
        for task in self._background:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.dead_letters.retry_waiting()
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

    async def _send_unsent_alerts(self, interval: float = 5.0) -> None:
        while True:
            await asyncio.sleep(interval)
            if self._unsent_alerts:
                await self._store_alerts()
