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

import logging
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
from adolf.models.scout import NicheRef, NicheTrends, SegmentPoint, TrendPoint, last_complete_monday, today_utc

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
TEXTS_DAYS = 365


class WbTrends:
    def __init__(self, content: MarketplaceHttp, analytics: MarketplaceHttp) -> None:
        self.content = content
        self.analytics = analytics

    async def fetch(self, niche: NicheRef, since: date, until: date) -> NicheTrends:
        queries = query_niche(niche)
        if queries:
            return await self._queries(queries, since, until)
        subject = category_of(niche)
        if not subject.isdecimal():
            raise ValidationFailed(f"WB: a category niche needs a subject id, got {subject!r}")
        return await self._category(int(subject), since, until)

    async def seller_cards(self) -> list[tuple[int, int]]:
        """(nmID, subjectID) of every card of the seller, paging cards/list by its cursor."""
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
        earliest = today_utc() - timedelta(days=TEXTS_DAYS)
        weeks = [w for w in week_range(since, until) if w >= earliest]
        nm_ids = [nm for nm, _ in await self.seller_cards()]
        if not weeks or not nm_ids:
            return NicheTrends()
        wanted = set(queries)
        segments: list[SegmentPoint] = []
        for week in weeks:
            frequency: dict[str, int] = {}
            for batch in chunks(nm_ids, TEXT_IDS):
                body = {
                    "currentPeriod": {"start": week.isoformat(), "end": (week + timedelta(days=6)).isoformat()},
                    "nmIds": batch,
                    "topOrderBy": "openCard",
                    "orderBy": {"field": "openCard", "mode": "desc"},
                    "limit": TEXT_LIMIT,
                }
                answer = await self.analytics.post(TEXTS_PATH, body, bucket=TEXTS_BUCKET)
                for text, week_frequency in parsed("wb", TEXTS_PATH, lambda a=answer: _text_rows(a)):
                    if text in wanted:
                        frequency[text] = max(frequency.get(text, 0), week_frequency)  # market-wide, per card alike
            segments += [SegmentPoint(segment=q, week=week, demand=n) for q, n in sorted(frequency.items())]
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
