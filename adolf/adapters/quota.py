"""Ozon's daily product-update quota (/v4/product/info/limit), waited out rather than run into, and shared by the
fleet: once a process learns the quota is used up, every process holds its imports until it resets."""

from __future__ import annotations

import time
from datetime import datetime

from redis.asyncio import Redis

from adolf.adapters.http import MarketplaceHttp

LIMIT = "/v4/product/info/limit"
BUCKET = "ozon.global"
DEFAULT_WAIT = 3600.0  # when Ozon does not say when its counter resets


class DailyQuota:
    def __init__(self, http: MarketplaceHttp, redis: Redis | None) -> None:
        self.http = http
        self.redis = redis
        self._local_until = 0.0  # without Redis (one-off use), this process's own memory

    def key(self) -> str:
        return f"adolf:quota:ozon.daily_update:{self.http.account}"

    async def room(self, wanted: int) -> tuple[int, float]:
        """How many of `wanted` products may be imported now, and the seconds until the quota resets."""
        exhausted_for = await self._exhausted_for()
        if exhausted_for > 0:
            return 0, exhausted_for
        body = await self.http.post(LIMIT, {}, bucket=BUCKET) or {}
        daily = body.get("daily_update") if isinstance(body.get("daily_update"), dict) else {}
        reset_in = _seconds_until(daily.get("reset_at"))
        try:
            left = int(daily["limit"]) - int(daily["usage"])
        except (KeyError, TypeError, ValueError):
            return wanted, reset_in  # no quota to read: Ozon will say item_limit_exceeded if it applies
        if left <= 0:
            await self.exhausted(reset_in)
        return max(0, min(wanted, left)), reset_in

    async def exhausted(self, reset_in: float) -> None:
        """The quota is used up for `reset_in` seconds: every process holds its imports until then."""
        until = time.time() + max(1.0, reset_in)
        if self.redis is None:
            self._local_until = until
            return
        await self.redis.set(self.key(), str(until), px=int(max(1.0, reset_in) * 1000))

    async def _exhausted_for(self) -> float:
        if self.redis is None:
            return max(0.0, self._local_until - time.time())
        raw = await self.redis.get(self.key())
        return max(0.0, float(raw) - time.time()) if raw else 0.0


def _seconds_until(reset_at: object) -> float:
    if not isinstance(reset_at, str):
        return DEFAULT_WAIT
    try:
        moment = datetime.fromisoformat(reset_at.replace("Z", "+00:00"))
    except ValueError:
        return DEFAULT_WAIT
    return max(1.0, moment.timestamp() - time.time())
