"""Yandex Market trend data (research/marketplaces.md 3.6): the asynchronous "Аналитика продаж" report.

A category niche (a market category id): `POST /v2/reports/shows-sales/generate?format=JSON` with grouping CATEGORIES
for whole weeks, at most 400 days a report (so 156 weeks take three), then `GET /v2/reports/info/{reportId}` until
DONE (PENDING and PROCESSING before; waited up to `scout_report_wait` seconds, then TIMEOUT), then the file the report
links to: weekly rows per category, of which the niche's are kept. YM has no search-query data and no market-wide
competition: a query niche gets nothing from YM, sellers stay None.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import date, timedelta
from typing import Any

import aiohttp
import orjson

from adolf.adapters.http import MarketplaceHttp
from adolf.adapters.trends import as_count, as_money, category_of, chunks, parsed, query_niche, sales_point, week_range
from adolf.errors import ApiError, NotFound, Timeout, ValidationFailed
from adolf.models.scout import NicheRef, NicheTrends

logger = logging.getLogger(__name__)

GENERATE_PATH = "/v2/reports/shows-sales/generate"
INFO_PATH = "/v2/reports/info/{}"
GENERATE_BUCKET = "ym.reports_shows_sales"
INFO_BUCKET = "ym.reports_info"
REPORT_WEEKS = 57  # 399 days: a report covers at most 400
POLL_MIN, POLL_MAX = 0.05, 5.0


class YmTrends:
    def __init__(self, http: MarketplaceHttp, *, business_id: int, report_wait: float = 120.0) -> None:
        self.http = http
        self.business_id = business_id
        self.report_wait = report_wait

    async def fetch(self, niche: NicheRef, since: date, until: date) -> NicheTrends:
        if query_niche(niche):
            logger.info("ym: no search-query data in the Partner API; niche %s gets nothing from YM", niche.name)
            return NicheTrends()
        category = category_of(niche)
        if not category.isdecimal():
            raise ValidationFailed(f"YM: a category niche needs a market category id, got {category!r}")
        sums: dict[date, list[float]] = {}
        for weeks in chunks(week_range(since, until), REPORT_WEEKS):
            rows = await self.report(weeks[0], weeks[-1] + timedelta(days=6))
            for row in parsed("ym", "the shows-sales report", lambda r=rows: _category_rows(r, int(category))):
                week, orders, revenue = row
                total = sums.setdefault(week, [0, 0.0])
                total[0] += orders
                total[1] += revenue
        return NicheTrends(points=[sales_point(w, int(o), r) for w, (o, r) in sorted(sums.items())])

    async def report(self, date_from: date, date_to: date) -> list[Any]:
        """Generate a shows-sales report by categories, wait for it, and read its rows."""
        body = {
            "businessId": self.business_id,
            "dateFrom": date_from.isoformat(),
            "dateTo": date_to.isoformat(),
            "grouping": "CATEGORIES",
        }
        answer = await self.http.post(GENERATE_PATH, body, bucket=GENERATE_BUCKET, params={"format": "JSON"})
        report_id, estimate = parsed(
            "ym",
            GENERATE_PATH,
            lambda: (str(answer["result"]["reportId"]), answer["result"].get("estimatedGenerationTime")),
        )
        info = await self._wait(report_id, estimate)
        if info.get("subStatus") == "NO_DATA" or not info.get("file"):
            return []
        return await self._download(str(info["file"]))

    async def _wait(self, report_id: str, estimate: Any) -> dict[str, Any]:
        deadline = time.monotonic() + self.report_wait
        pause = _pause(estimate)
        while True:
            await asyncio.sleep(pause)
            answer = await self.http.get(INFO_PATH.format(report_id), bucket=INFO_BUCKET)
            info = parsed("ym", "reports/info", lambda a=answer: dict(a["result"]))
            status = info.get("status")
            if status == "DONE":
                return info
            if status == "FAILED":
                raise ApiError(f"YM: report {report_id} failed ({info.get('subStatus') or 'no reason given'})")
            if status not in ("PENDING", "PROCESSING"):
                raise ApiError(f"YM: report {report_id} has an unknown status {status!r}")
            if time.monotonic() + pause > deadline:
                raise Timeout(f"YM: report {report_id} was not ready within {self.report_wait:.0f}s")
            pause = min(POLL_MAX, max(_pause(info.get("estimatedGenerationTime")), pause * 1.5))

    async def _download(self, url: str) -> list[Any]:
        """The report's file: a time-limited link to storage, fetched without our credentials."""
        try:
            async with self.http.session.get(url) as response:
                status, raw = response.status, await response.read()
        except TimeoutError:
            raise Timeout("YM: the report file did not download in time") from None
        except aiohttp.ClientError as exc:
            raise ApiError(f"YM: report file: {type(exc).__name__}: {exc}") from exc
        if status == 404:
            raise NotFound("YM: the report file link has expired or does not exist")
        if status >= 400:
            raise ApiError(f"YM: the report file answered HTTP {status}")
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ApiError("YM: the report file is not JSON") from None
        return parsed("ym", "the report file", lambda: list(document["rows"]))


def _pause(estimate: Any) -> float:
    try:
        return min(POLL_MAX, max(POLL_MIN, float(estimate) / 1000 / 2))
    except (TypeError, ValueError):
        return 1.0


def _category_rows(rows: list[Any], category: int) -> list[tuple[date, int, float]]:
    found = []
    for row in rows:
        if int(row["categoryId"]) != category:
            continue
        week = date.fromisoformat(str(row["week"]))
        found.append(
            (week - timedelta(days=week.weekday()), as_count(row["orderedItems"]), as_money(row["orderedSum"]))
        )
    return found
