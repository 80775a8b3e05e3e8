"""Ozon trend data (research/marketplaces.md 2.5/2.6, research/next-anchors.md 2).

- A category niche: `POST /v1/analytics/data` with dimensions [category, week], metrics revenue and ordered_units,
  filtered to the niche's category; 1 request a minute (bucket ozon.analytics_data), up to 1000 rows a page. The
  category level is `category1` unless the niche's category id says otherwise ("category3:17028922").
- A query niche: `POST /v1/search-queries/text`, market-wide (Premium Pro): per query the buyers who searched it
  (client_count), the average number of sellers whose goods they saw (sellers_count) and the average price, as of the
  current week; one text answers every query containing it, so a niche's queries share requests where they can.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, timedelta
from typing import Any

from adolf.adapters.http import MarketplaceHttp
from adolf.adapters.trends import (
    as_count,
    as_money,
    category_of,
    normalize_query,
    parsed,
    query_niche,
    sales_point,
    segments_to_points,
    week_range,
)
from adolf.errors import Deferred, ValidationFailed
from adolf.models.scout import NicheRef, NicheTrends, SegmentPoint, last_complete_monday, monday_of, today_utc

logger = logging.getLogger(__name__)

DATA_PATH = "/v1/analytics/data"
QUERIES_PATH = "/v1/search-queries/text"
DATA_BUCKET = "ozon.analytics_data"
QUERIES_BUCKET = "ozon.global"
DATA_PAGE = 1000
QUERIES_PAGE = 50
CATEGORY_DIMENSION = "category1"
CATEGORY_LEVELS = ("category1", "category2", "category3", "category4")


def category_filter(category_id: str) -> tuple[str, str]:
    """(dimension, id) of a niche's category: "17028922" or "category3:17028922"."""
    level, _, value = category_id.rpartition(":")
    level = level.strip() or CATEGORY_DIMENSION
    if level not in CATEGORY_LEVELS or not value.strip():
        raise ValidationFailed(f"Ozon: category {category_id!r} is not an id or LEVEL:id (levels {CATEGORY_LEVELS})")
    return level, value.strip()


class OzonTrends:
    def __init__(self, http: MarketplaceHttp) -> None:
        self.http = http

    async def fetch(self, niche: NicheRef, since: date, until: date) -> NicheTrends:
        queries = query_niche(niche)
        if queries:
            return await self._queries(queries, since, until)
        return await self._category(category_of(niche), since, until)

    async def _category(self, category_id: str, since: date, until: date) -> NicheTrends:
        return (await self.categories([category_id], since, until))[category_id]

    async def categories(self, category_ids: list[str], since: date, until: date) -> dict[str, NicheTrends]:
        """Several categories' weeks from one paginated read of analytics/data per category level (the method answers
        once a minute: one read of every category instead of one per niche). A page whose slot is far away is waited
        for, page by page."""
        weeks = week_range(since, until)
        found: dict[str, dict[date, list[float]]] = {c: {} for c in category_ids}
        levels: dict[str, dict[str, str]] = {}  # level -> id -> category_id
        for category_id in category_ids:
            level, value = category_filter(category_id)
            levels.setdefault(level, {})[value] = category_id
        for level, ids in levels.items() if weeks else ():
            body: dict[str, Any] = {
                "date_from": weeks[0].isoformat(),
                "date_to": (weeks[-1] + timedelta(days=6)).isoformat(),
                "metrics": ["revenue", "ordered_units"],
                "dimension": [level, "week"],
                "limit": DATA_PAGE,
                "offset": 0,
            }
            if len(ids) == 1:
                body["filters"] = [{"key": level, "op": "EQ", "value": next(iter(ids))}]
            while True:
                answer = await self._page(body)
                for category, week, revenue, units in parsed("ozon", DATA_PATH, lambda a=answer: _data_rows(a)):
                    if category in ids:
                        total = found[ids[category]].setdefault(week, [0.0, 0])
                        total[0] += revenue
                        total[1] += units
                if parsed("ozon", DATA_PATH, lambda a=answer: len(a["result"]["data"])) < DATA_PAGE:
                    break
                body = {**body, "offset": body["offset"] + DATA_PAGE}
        wanted = set(weeks)
        return {
            category_id: NicheTrends(
                points=[sales_point(w, int(u), r) for w, (r, u) in sorted(sums.items()) if w in wanted]
            )
            for category_id, sums in found.items()
        }

    async def _page(self, body: dict[str, Any]) -> Any:
        while True:
            try:
                return await self.http.post(DATA_PATH, body, bucket=DATA_BUCKET)
            except Deferred as deferral:
                await asyncio.sleep(deferral.delay)

    async def _queries(self, queries: list[str], since: date, until: date) -> NicheTrends:
        week = last_complete_monday(today_utc())  # search-queries/text is a snapshot of the current week
        if week not in week_range(since, until):
            return NicheTrends()
        rows: dict[str, dict[str, Any]] = {}
        for query in sorted(queries, key=len):
            if query in rows:
                continue  # an earlier, shorter text already brought it
            body = {
                "text": query,
                "limit": str(QUERIES_PAGE),
                "offset": "0",
                "sort_by": "CLIENT_COUNT",
                "sort_dir": "DESC",
            }
            answer = await self.http.post(QUERIES_PATH, body, bucket=QUERIES_BUCKET)
            for row in parsed("ozon", QUERIES_PATH, lambda a=answer: _query_rows(a)):
                rows.setdefault(row["query"], row)
        found = [rows[q] for q in queries if q in rows]
        segments = [
            SegmentPoint(segment=row["query"], week=week, demand=row["client_count"], sellers=row["sellers_count"])
            for row in found
        ]
        if not found:
            return NicheTrends()
        buyers = sum(row["client_count"] for row in found)
        extra = {
            "sellers": max(row["sellers_count"] for row in found),
            "avg_price": round(sum(r["avg_price"] * r["client_count"] for r in found) / buyers, 2) if buyers else None,
        }
        return NicheTrends(points=segments_to_points(segments, {week: extra}), segments=segments)


def _data_rows(answer: Any) -> list[tuple[str, date, float, int]]:
    rows = []
    for row in answer["result"]["data"]:
        dimensions, metrics = row["dimensions"], row["metrics"]
        week = date.fromisoformat(str(dimensions[1]["id"])[:10])
        rows.append((str(dimensions[0]["id"]), monday_of(week), as_money(metrics[0]), as_count(metrics[1])))
    return rows


def _query_rows(answer: Any) -> list[dict[str, Any]]:
    return [
        {
            "query": normalize_query(item["query"]),
            "client_count": as_count(item["client_count"]),
            "sellers_count": as_count(item["sellers_count"]),
            "avg_price": as_money(item.get("avg_price") or 0),
        }
        for item in answer["search_queries"]
    ]
