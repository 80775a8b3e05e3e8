"""Builds the three adapters once per process: one aiohttp session per marketplace, one shared rate limiter (and
Yandex Market's own limits, adolf/adapters/ym_limits.py), and one card batcher per marketplace (so every publish
job of the process shares its update requests)."""

from __future__ import annotations

from collections.abc import Sequence

import aiohttp

from adolf.adapters import ozon, wb, ym
from adolf.adapters.base import Card, CardUpdate, MarketplaceAdapter, PreparedCard, PublishResult, Ready, Sent
from adolf.adapters.batching import CardBatcher
from adolf.adapters.connections import MISSING, ozon_http, wb_http, ym_http
from adolf.adapters.http import new_session
from adolf.adapters.ratelimit import RateLimiter
from adolf.errors import AuthFailed
from adolf.models.content import Marketplace
from adolf.settings import Settings


class UnconfiguredAdapter(MarketplaceAdapter):
    """Stands in for a marketplace whose credentials are not set: every call is an AUTH_ERROR saying which."""

    max_batch = 3000
    update_bucket = "unconfigured"

    def __init__(self, marketplace: Marketplace, missing: str) -> None:
        self.marketplace = marketplace  # type: ignore[misc]
        self.error = AuthFailed(f"{marketplace.value} is not configured: set {missing}")

    async def prepare(self, cards: Sequence[CardUpdate], ready: Ready) -> None:
        for update in cards:
            ready(update, PublishResult.failed(update.sku, self.error))

    async def send(self, cards: Sequence[PreparedCard], *, slot_held: bool = False) -> Sent:
        return Sent({c.sku: PublishResult.failed(c.sku, self.error) for c in cards})

    async def get_cards(self, skus: Sequence[str]) -> dict[str, Card | None]:
        raise self.error

    async def rejected_cards(self, skus: Sequence[str]) -> dict[str, str]:
        raise self.error


class Adapters:
    def __init__(
        self,
        adapters: dict[Marketplace, MarketplaceAdapter],
        sessions: list[aiohttp.ClientSession],
        *,
        limiter: RateLimiter | None = None,
        batch_window: float = 0.25,
    ) -> None:
        self._adapters = adapters
        self._sessions = sessions
        self._batchers = {
            Marketplace(mp): CardBatcher(adapter, limiter, window=batch_window) for mp, adapter in adapters.items()
        }

    def get_adapter(self, marketplace: Marketplace | str) -> MarketplaceAdapter:
        return self._adapters[Marketplace(marketplace)]

    def batcher(self, marketplace: Marketplace | str) -> CardBatcher:
        """Where this process's publish jobs hand in their cards for a shared update request."""
        return self._batchers[Marketplace(marketplace)]

    async def close(self) -> None:
        for batcher in self._batchers.values():
            await batcher.close()
        for adapter in self._adapters.values():
            close = getattr(adapter, "close", None)
            if close is not None:
                await close()
        for session in self._sessions:
            await session.close()

    @classmethod
    def build(cls, settings: Settings, limiter: RateLimiter | None) -> Adapters:
        sessions = {mp: new_session(settings.http_timeout) for mp in Marketplace}
        adapters = {
            Marketplace.WB: _wildberries(settings, sessions[Marketplace.WB], limiter),
            Marketplace.OZON: _ozon(settings, sessions[Marketplace.OZON], limiter),
            Marketplace.YM: _yandex_market(settings, sessions[Marketplace.YM], limiter),
        }
        return cls(adapters, list(sessions.values()), limiter=limiter, batch_window=settings.batch_window)


def _wildberries(settings: Settings, session: aiohttp.ClientSession, limiter: RateLimiter | None) -> MarketplaceAdapter:
    http = wb_http(settings, session, limiter, base_url=settings.wb_content_url)
    if http is None:
        return UnconfiguredAdapter(Marketplace.WB, MISSING["wb"])
    return wb.WildberriesAdapter(http, catalog_ttl=settings.wb_catalog_ttl)


def _ozon(settings: Settings, session: aiohttp.ClientSession, limiter: RateLimiter | None) -> MarketplaceAdapter:
    http = ozon_http(settings, session, limiter)
    if http is None:
        return UnconfiguredAdapter(Marketplace.OZON, MISSING["ozon"])
    redis = limiter.redis if limiter is not None else None
    return ozon.OzonAdapter(http, import_wait=settings.ozon_import_wait, redis=redis)


def _yandex_market(
    settings: Settings, session: aiohttp.ClientSession, limiter: RateLimiter | None
) -> MarketplaceAdapter:
    http = ym_http(settings, session, limiter)
    if http is None or settings.ym_business_id is None:
        return UnconfiguredAdapter(Marketplace.YM, MISSING["ym"])
    return ym.YandexMarketAdapter(http, business_id=settings.ym_business_id)
