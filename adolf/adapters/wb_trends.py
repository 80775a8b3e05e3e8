"""Wildberries trend data (research/marketplaces.md 1.7): seller analytics cover the seller's own cards only.

- A category niche (a WB subject id) is the seller's cards of that subject (read from the Content API's cards/list):
  their weekly orderCount / orderSum from `POST /api/analytics/v3/sales-funnel/products/history`, 20 nmIds a request.
  WB gives that history for the last week only, so a fetch yields the last complete week at most; older weeks come
  from CSV import (and from the weekly runs that went before).
- A query niche: `POST /api/v2/search-report/product/search-texts` per week of the last 365 days, 50 of the seller's
  cards a request; a query's `weekFrequency` (how often buyers searched it that week) is its segment's demand.
WB gives no market-wide seller counts: sellers, new sellers and shares stay None.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import date, timedelta
from typing import Any

from adolf.adapters.http import MarketplaceHttp
from adolf.adapters.trends import (
    as_count,
    as_money,
    category_of,
    chunks,
    normalize_query,
    parsed,
    query_niche,
    sales_point,
    segments_to_points,
    week_range,
)
from adolf.errors import ValidationFailed
from adolf.models.scout import NicheRef, NicheTrends, SegmentPoint, TrendPoint, last_complete_monday

logger = logging.getLogger(__name__)

HISTORY_PATH = "/api/analytics/v3/sales-funnel/products/history"
TEXTS_PATH = "/api/v2/search-report/product/search-texts"
CARDS_PATH = "/content/v2/get/cards/list"
HISTORY_BUCKET = "wb.funnel_history"
TEXTS_BUCKET = "wb.search_texts"
CARDS_BUCKET = "wb.cards_list"
HISTORY_IDS = 20
TEXT_IDS = 50
TEXT_LIMIT = 30
CARDS_PAGE = 100
READ_TTL = 600.0


class WbTrends:
    """The seller's cards and their search texts are read once for all the niches of a trend update (kept
    READ_TTL seconds): WB answers 3 analytics requests a minute, so a request per niche would not scale."""

    def __init__(self, content: MarketplaceHttp, analytics: MarketplaceHttp, *, read_ttl: float = READ_TTL) -> None:
        self.content = content
        self.analytics = analytics
        self.read_ttl = read_ttl
        self._cards: tuple[float, list[tuple[int, int]]] | None = None
        self._texts: dict[tuple[date, tuple[int, ...]], asyncio.Future[list[tuple[str, int]]]] = {}
        self._lock = asyncio.Lock()

    async def fetch(self, niche: NicheRef, since: date, until: date) -> NicheTrends:
        queries = query_niche(niche)
        if queries:
            return await self._queries(queries, since, until)
        subject = category_of(niche)
        if not subject.isdecimal():
            raise ValidationFailed(f"WB: a category niche needs a subject id, got {subject!r}")
        return await self._category(int(subject), since, until)

    async def seller_cards(self) -> list[tuple[int, int]]:
        """(nmID, subjectID) of every card of the seller (read again after READ_TTL)."""
        async with self._lock:
            now = time.monotonic()
            if self._cards is None or now - self._cards[0] > self.read_ttl:
                self._cards = (now, await self._read_cards())
                self._texts.clear()
            return self._cards[1]

    async def _search_texts(self, week: date, batch: list[int]) -> list[tuple[str, int]]:
        """One request per (week, batch) however many niches ask at once; a failed one is asked again next time."""
        key = (week, tuple(batch))
        if key not in self._texts:
            self._texts[key] = asyncio.ensure_future(self._read_texts(week, batch))
        read = self._texts[key]
        try:
            return await asyncio.shield(read)
        except Exception:
            if self._texts.get(key) is read:
                del self._texts[key]
            raise

    async def _read_texts(self, week: date, batch: list[int]) -> list[tuple[str, int]]:
        body = {
            "currentPeriod": {"start": week.isoformat(), "end": (week + timedelta(days=6)).isoformat()},
            "nmIds": batch,
            "topOrderBy": "openCard",
            "orderBy": {"field": "openCard", "mode": "desc"},
            "limit": TEXT_LIMIT,
        }
        answer = await self.analytics.post(TEXTS_PATH, body, bucket=TEXTS_BUCKET)
        return parsed("wb", TEXTS_PATH, lambda a=answer: _text_rows(a))

    async def _read_cards(self) -> list[tuple[int, int]]:
        """Paging cards/list by its cursor."""
        found: list[tuple[int, int]] = []
        cursor: dict[str, Any] = {"limit": CARDS_PAGE}
        while True:
            body = {"settings": {"cursor": cursor, "filter": {"withPhoto": -1}}}
            answer = await self.content.post(CARDS_PATH, body, bucket=CARDS_BUCKET)
            cards, next_cursor = parsed("wb", CARDS_PATH, lambda a=answer: (list(a["cards"]), dict(a["cursor"])))
            found += parsed("wb", CARDS_PATH, lambda c=cards: [(int(x["nmID"]), int(x["subjectID"])) for x in c])
            if len(cards) < CARDS_PAGE or not next_cursor.get("nmID"):
                return list(dict.fromkeys(found))
            cursor = {"limit": CARDS_PAGE, "updatedAt": next_cursor["updatedAt"], "nmID": next_cursor["nmID"]}

    async def _category(self, subject: int, since: date, until: date) -> NicheTrends:
        week = last_complete_monday()
        if week not in week_range(since, until):
            return NicheTrends()  # the history method gives the last week only
        nm_ids = [nm for nm, subject_id in await self.seller_cards() if subject_id == subject]
        if not nm_ids:
            logger.info("wb: the seller has no cards of subject %s, no trend data", subject)
            return NicheTrends()
        orders, revenue, seen = 0, 0.0, False
        for batch in chunks(nm_ids, HISTORY_IDS):
            body = {
                "selectedPeriod": {"start": week.isoformat(), "end": (week + timedelta(days=6)).isoformat()},
                "nmIds": batch,
                "aggregationLevel": "week",
            }
            answer = await self.analytics.post(HISTORY_PATH, body, bucket=HISTORY_BUCKET)
            for day, count, amount in parsed("wb", HISTORY_PATH, lambda a=answer: _history_rows(a)):
                if week <= day < week + timedelta(days=7):
                    orders, revenue, seen = orders + count, revenue + amount, True
        return NicheTrends(points=[sales_point(week, orders, revenue)] if seen else [])

    async def _queries(self, queries: list[str], since: date, until: date) -> NicheTrends:
        """The last complete week only (a daily update builds the history week by week): every week costs a request
        per 50 cards at 3 a minute, shared by all query niches."""
        week = last_complete_monday()
        if week not in week_range(since, until):
            return NicheTrends()
        nm_ids = [nm for nm, _ in await self.seller_cards()]
        if not nm_ids:
            return NicheTrends()
        wanted = set(queries)
        frequency: dict[str, int] = {}
        for batch in chunks(nm_ids, TEXT_IDS):
            for text, week_frequency in await self._search_texts(week, batch):
                if text in wanted:
                    frequency[text] = max(frequency.get(text, 0), week_frequency)  # market-wide, per card alike
        segments = [SegmentPoint(segment=q, week=week, demand=n) for q, n in sorted(frequency.items())]
        points: list[TrendPoint] = segments_to_points(segments)
        return NicheTrends(points=points, segments=segments)


def _history_rows(answer: Any) -> list[tuple[date, int, float]]:
    rows = []
    for product in answer:
        for entry in product["history"]:
            rows.append((date.fromisoformat(entry["date"]), as_count(entry["orderCount"]), as_money(entry["orderSum"])))
    return rows


def _text_rows(answer: Any) -> list[tuple[str, int]]:
    return [(normalize_query(item["text"]), as_count(item["weekFrequency"])) for item in answer["data"]["items"]]
