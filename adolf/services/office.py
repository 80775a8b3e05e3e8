"""OfficeReporter (SPEC section 6): what each AI agent is doing, for the Office Dashboard.

State lives in Redis (hash `adolf:office:agent:<id>`, so every process and the dashboard see the same agents) and is
pushed to ADOLF_OFFICE_DASHBOARD_URL when one is configured. Reporting never fails or delays a job: with a
`flush_interval` (the worker's), reports only change the state in memory and one write a interval carries the latest
of them to Redis, so thousands of jobs a minute cost a few writes; every write is bounded by a short timeout and its
errors are logged, not raised.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

import aiohttp
import orjson
from redis.asyncio import Redis

logger = logging.getLogger(__name__)

AGENTS_KEY = "adolf:office:agents"
REDIS_TIMEOUT = 1.0
PUSH_TIMEOUT = 3.0


def agent_key(agent_id: str) -> str:
    return f"adolf:office:agent:{agent_id}"


class OfficeReporter:
    def __init__(
        self,
        *,
        agent_id: str,
        department: str,
        name: str,
        salary_equivalent: int,
        fte_coefficient: float,
        redis: Redis,
        push_session: aiohttp.ClientSession | None = None,
        dashboard_url: str | None = None,
        flush_interval: float = 0.0,
    ) -> None:
        self.agent_id = agent_id
        self.flush_interval = flush_interval
        self._pending: dict[str, Any] = {}
        self._pending_metrics: dict[str, Any] = {}
        self._flush: asyncio.Task[None] | None = None
        self.profile = {
            "agent_id": agent_id,
            "department": department,
            "name": name,
            "salary_equivalent": salary_equivalent,
            "fte_coefficient": fte_coefficient,
        }
        self.redis = redis
        self.push_session = push_session
        self.dashboard_url = dashboard_url.rstrip("/") if dashboard_url else None
        self._pushes: set[asyncio.Task[None]] = set()

    async def report_working(self, task: str) -> None:
        await self._report({"status": "working", "task": task})

    async def report_idle(self, metrics: dict[str, Any] | None = None) -> None:
        await self._report({"status": "idle", "task": ""}, metrics)

    async def report_error(self, message: str) -> None:
        await self._report({"status": "error", "last_error": message[:500]})

    async def heartbeat(self) -> None:
        await self._report({"last_heartbeat": _now()})

    async def state(self) -> dict[str, Any]:
        raw = await self.redis.hgetall(agent_key(self.agent_id))
        return decode_state(raw)

    async def _report(self, fields: dict[str, Any], metrics: dict[str, Any] | None = None) -> None:
        if self.flush_interval <= 0:
            await self._store(fields, metrics)
            return
        self._pending.update(fields)
        self._pending_metrics.update(metrics or {})
        if self._flush is None:
            self._flush = asyncio.get_running_loop().create_task(self._flush_later())

    async def _flush_later(self) -> None:
        await asyncio.sleep(self.flush_interval)
        await self.flush()

    async def flush(self) -> None:
        """Write what was reported since the last write (the latest value of every field)."""
        fields, metrics = self._pending, self._pending_metrics
        self._pending, self._pending_metrics, self._flush = {}, {}, None
        if fields or metrics:
            await self._store(fields, metrics or None)

    async def close(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flush
        await self.flush()

    async def _store(self, fields: dict[str, Any], metrics: dict[str, Any] | None) -> None:
        try:
            await asyncio.wait_for(self._write(fields, metrics), REDIS_TIMEOUT)
        except Exception as exc:  # reporting must never fail a job
            logger.warning("office report for %s failed: %s: %s", self.agent_id, type(exc).__name__, exc)
            return
        if self.dashboard_url and self.push_session is not None:
            task = asyncio.create_task(self._push())
            self._pushes.add(task)
            task.add_done_callback(self._pushes.discard)

    async def _write(self, fields: dict[str, Any], metrics: dict[str, Any] | None) -> None:
        key = agent_key(self.agent_id)
        mapping = {k: orjson.dumps(v) for k, v in {**self.profile, **fields, "updated_at": _now()}.items()}
        if metrics:
            current = await self.redis.hget(key, "metrics")
            merged = {**(orjson.loads(current) if current else {}), **metrics}
            mapping["metrics"] = orjson.dumps(merged, default=str)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=mapping)
            pipe.sadd(AGENTS_KEY, self.agent_id)
            await pipe.execute()

    async def _push(self) -> None:
        try:
            state = await self.state()
            url = f"{self.dashboard_url}/agents/{self.agent_id}"
            async with self.push_session.post(  # type: ignore[union-attr]
                url,
                data=orjson.dumps(state),
                headers={"Content-Type": "application/json"},
                timeout=aiohttp.ClientTimeout(total=PUSH_TIMEOUT),
            ) as response:
                if response.status >= 300:
                    logger.warning("office dashboard answered %s for %s", response.status, self.agent_id)
        except Exception as exc:
            logger.warning("office dashboard push for %s failed: %s", self.agent_id, type(exc).__name__)


def decode_state(raw: dict[bytes, bytes]) -> dict[str, Any]:
    return {k.decode(): orjson.loads(v) for k, v in raw.items()}


async def all_agents(redis: Redis) -> list[dict[str, Any]]:
    ids = sorted(m.decode() for m in await redis.smembers(AGENTS_KEY))
    return [decode_state(await redis.hgetall(agent_key(agent_id))) for agent_id in ids]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# The agents of SPEC section 6 / seed appendix B: (agent_id, department, name, salary_equivalent, fte_coefficient)
AGENTS = (
    ("content_descriptions", "content_factory", "Генератор описаний", 60000, 1.0),
    ("content_seo", "content_factory", "SEO оптимизатор", 60000, 1.0),
    ("scout_niche", "scout", "Анализ ниш", 70000, 1.0),
)
CONTENT_FACTORY_AGENTS = ("content_descriptions", "content_seo")


def build_reporters(
    redis: Redis,
    *,
    push_session: aiohttp.ClientSession | None = None,
    dashboard_url: str | None = None,
    flush_interval: float = 0.0,
) -> dict[str, OfficeReporter]:
    return {
        agent_id: OfficeReporter(
            agent_id=agent_id,
            department=department,
            name=name,
            salary_equivalent=salary,
            fte_coefficient=fte,
            redis=redis,
            push_session=push_session,
            dashboard_url=dashboard_url,
            flush_interval=flush_interval,
        )
        for agent_id, department, name, salary, fte in AGENTS
    }
