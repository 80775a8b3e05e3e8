"""Scout's trend sources: a niche's weekly series from the marketplaces' analytics APIs (research/marketplaces.md 1.7,
2.6, 3.6; research/next-anchors.md 2).

`TrendSources.build(settings, limiter)` makes one source per marketplace over the same credentials as the content
adapters (adolf/adapters/registry.py), the shared Redis rate limiter and, for Yandex Market, its fleet-wide limits.
`fetch(niche, since, until)` answers one TrendPoint per ISO week (its Monday) that the marketplace gives inside
[since, until], and, for a niche of search queries, one SegmentPoint per query and week. A field a marketplace does not
give stays None: WB and YM give no market-wide competition (that comes from CSV import), Ozon's search queries give
sellers. What each source fills:

- wb, a category niche: orders, revenue, avg_price of the seller's cards of the subject, the last complete week only
  (sales-funnel history); a query niche: search_volume (weekFrequency) of the last 365 days, segments per query.
- ozon, a category niche: orders, revenue, avg_price (analytics/data by week); a query niche: search_volume, sellers
  and avg_price of the last complete week (search-queries/text), segments with sellers.
- ym, a category niche: orders, revenue, avg_price (the shows-sales report's weekly rows); a query niche: nothing,
  YM has no search-query data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import date, timedelta
from typing import Any, Protocol, TypeVar
from uuid import UUID

import aiohttp

from adolf.adapters.http import new_session
from adolf.adapters.ratelimit import RateLimiter
from adolf.errors import ApiError, AuthFailed, ValidationFailed
from adolf.models.content import Marketplace
from adolf.models.scout import (
    NicheRef,
    NicheTrends,
    SegmentPoint,
    TrendPoint,
    last_complete_monday,
    monday_of,
)
from adolf.settings import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")


class TrendSource(Protocol):
    async def fetch(self, niche: NicheRef, since: date, until: date) -> NicheTrends: ...


# --- helpers shared by the sources ------------------------------------------------------------------------------------


def week_range(since: date, until: date, *, today: date | None = None) -> list[date]:
    """The Mondays of the complete ISO weeks whose Monday lies in [monday_of(since), until]."""
    first, last = monday_of(since), min(monday_of(until), last_complete_monday(today))
    return [first + timedelta(weeks=i) for i in range((last - first).days // 7 + 1)] if first <= last else []


def chunks(items: list[T], size: int) -> Iterable[list[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def normalize_query(text: str) -> str:
    return " ".join(text.lower().split())


def parsed(marketplace: str, what: str, read: Callable[[], T]) -> T:
    """Read an answer; a shape we do not understand is an API_ERROR naming it, never a KeyError traceback."""
    try:
        return read()
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        raise ApiError(f"{marketplace} answered {what} in an unexpected shape ({type(exc).__name__}: {exc})") from None


def as_count(value: Any) -> int:
    """A non-negative count from a JSON number or numeric string (ValueError otherwise)."""
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{value!r} is not a count")
    number = float(value)
    if number < 0 or number != number:
        raise ValueError(f"{value!r} is not a count")
    return round(number)


def as_money(value: Any) -> float:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{value!r} is not an amount")
    number = float(value)
    if number < 0 or number != number:
        raise ValueError(f"{value!r} is not an amount")
    return number


def sales_point(week: date, orders: int, revenue: float) -> TrendPoint:
    return TrendPoint(
        week=week, orders=orders, revenue=round(revenue, 2), avg_price=round(revenue / orders, 2) if orders else None
    )


def query_niche(niche: NicheRef) -> list[str]:
    return list(dict.fromkeys(q for q in (normalize_query(q) for q in niche.queries) if q))


def category_of(niche: NicheRef) -> str:
    if not niche.category_id or not niche.category_id.strip():
        raise ValidationFailed(f"niche {niche.name!r} has neither a category nor search queries")
    return niche.category_id.strip()


def segments_to_points(
    segments: list[SegmentPoint], extra: dict[date, dict[str, Any]] | None = None
) -> list[TrendPoint]:
    """A query niche's weekly points: the sum of its queries' demand as search volume (plus per-week extras)."""
    volume: dict[date, int] = {}
    for segment in segments:
        volume[segment.week] = volume.get(segment.week, 0) + segment.demand
    return [
        TrendPoint(week=week, search_volume=total, **(extra or {}).get(week, {}))
        for week, total in sorted(volume.items())
    ]


# --- the registry -----------------------------------------------------------------------------------------------------


class UnconfiguredSource:
    """A marketplace whose credentials are not set: every fetch is an AUTH_ERROR naming the missing setting."""

    def __init__(self, marketplace: Marketplace, missing: str) -> None:
        self.marketplace = marketplace
        self.error = AuthFailed(f"{marketplace.value} is not configured: set {missing}")

    async def fetch(self, niche: NicheRef, since: date, until: date) -> NicheTrends:
        raise self.error


class TrendSources:
    """The three marketplaces' trend sources of one process."""

    def __init__(self, sources: dict[Marketplace, TrendSource], sessions: list[aiohttp.ClientSession]) -> None:
        self._sources = sources
        self._sessions = sessions

    def source(self, marketplace: Marketplace | str) -> TrendSource:
        return self._sources[Marketplace(marketplace)]

    async def fetch(self, niche: NicheRef, since: date, until: date) -> NicheTrends:
        """The niche's weeks in [since, until] as its marketplace gives them (weeks are Mondays, oldest first)."""
        if since > until:
            raise ValidationFailed(f"since {since.isoformat()} is after until {until.isoformat()}")
        trends = await self.source(niche.marketplace).fetch(niche, since, until)
        trends.points.sort(key=lambda p: p.week)
        trends.segments.sort(key=lambda s: (s.week, s.segment))
        return trends

    async def fetch_categories(
        self, marketplace: Marketplace | str, niches: list[NicheRef], since: date, until: date
    ) -> dict[UUID, NicheTrends] | None:
        """Several category niches of one marketplace in one read, where its API answers for many categories at once
        (Ozon's analytics/data, one request a minute); None where it does not (fetch them one by one)."""
        from adolf.adapters.ozon_trends import OzonTrends

        source = self.source(marketplace)
        if not isinstance(source, OzonTrends) or since > until:
            return None
        found = await source.categories([category_of(n) for n in niches], since, until)
        return {n.id: found[category_of(n)] for n in niches}

    async def close(self) -> None:
        for session in self._sessions:
            await session.close()

    async def __aenter__(self) -> TrendSources:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @classmethod
    def build(cls, settings: Settings, limiter: RateLimiter | None) -> TrendSources:
        from adolf.adapters import ozon_trends, wb_trends, ym_trends
        from adolf.adapters.connections import MISSING, ozon_http, wb_http, ym_http

        sessions = {mp: new_session(settings.http_timeout) for mp in Marketplace}
        wb_session = sessions[Marketplace.WB]
        content = wb_http(settings, wb_session, limiter, base_url=settings.wb_content_url)
        analytics = wb_http(settings, wb_session, limiter, base_url=settings.wb_analytics_url)
        ozon = ozon_http(settings, sessions[Marketplace.OZON], limiter)
        ym = ym_http(settings, sessions[Marketplace.YM], limiter)
        sources: dict[Marketplace, TrendSource] = {
            Marketplace.WB: wb_trends.WbTrends(content, analytics) if content and analytics else None,
            Marketplace.OZON: ozon_trends.OzonTrends(ozon) if ozon else None,
            Marketplace.YM: ym_trends.YmTrends(
                ym, business_id=settings.ym_business_id, report_wait=settings.scout_report_wait
            )
            if ym and settings.ym_business_id is not None
            else None,
        }
        for mp, source in sources.items():
            if source is None:
                sources[mp] = UnconfiguredSource(mp, MISSING[mp.value])
        return cls(sources, list(sessions.values()))


__all__ = ["TrendSource", "TrendSources", "UnconfiguredSource"]
