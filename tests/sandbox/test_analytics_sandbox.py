"""The simulated trend sources (adolf/sandbox/analytics.py): each documented rule refuses a violating request in the
marketplace's own error shape (research/marketplaces.md 1.7, 2.6, 3.6; next-anchors.md 2), and the series behind
them look like markets (adolf/sandbox/trend_series.py)."""

from __future__ import annotations

import statistics
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from tests.support.waiting import eventually

from .helpers import OZON_AUTH, WB_AUTH, YM_AUTH, Client

HISTORY = "/api/analytics/v3/sales-funnel/products/history"
TEXTS = "/api/v2/search-report/product/search-texts"
QUERIES = "/v1/search-queries/text"
DATA = "/v1/analytics/data"
GENERATE = "/v2/reports/shows-sales/generate?format=JSON"


def today() -> date:
    return datetime.now(UTC).date()


def last_monday() -> date:
    return today() - timedelta(days=today().weekday(), weeks=1)


def period(start: date, days: int = 7) -> dict[str, str]:
    return {"start": start.isoformat(), "end": (start + timedelta(days=days - 1)).isoformat()}


async def trend(client: Client, marketplace: str, key: str, shape: str = "flat", level: float = 1000) -> None:
    body = {"marketplace": marketplace, "key": key, "shape": shape, "level": level}
    await client.control("POST", "/trends", body)


async def weeks(client: Client, marketplace: str, key: str) -> list[dict[str, Any]]:
    return (await client.control("GET", f"/trends?marketplace={marketplace}&key={key}"))["weeks"]


def assert_wb_400(status: int, body: Any, words: str) -> None:
    assert status == 400, body
    assert set(body) == {"title", "detail", "requestId", "origin"}, body
    assert words in body["detail"], body


def assert_ozon_400(status: int, body: Any, words: str) -> None:
    assert status == 400, body
    assert body["code"] == 3 and body["details"] == [] and words in body["message"], body


def assert_ym_error(status: int, body: Any, expected: int, words: str) -> None:
    assert status == expected, body
    assert body["status"] == "ERROR" and words in body["errors"][0]["message"] and body["errors"][0]["code"], body


# --- the generator --------------------------------------------------------------------------------------


def yearly_growth(series: list[dict[str, Any]], field: str = "orders") -> float:
    recent = sum(w[field] for w in series[-13:])
    year_before = sum(w[field] for w in series[-65:-52])
    return recent / year_before


async def test_series_span_156_weeks_to_the_last_complete_week_and_follow_their_shape(client: Client):
    for key, shape in (("1001", "rising"), ("1002", "flat"), ("1003", "falling"), ("1004", "seasonal")):
        await trend(client, "ozon", key, shape)
    rising, flat, falling, seasonal = [await weeks(client, "ozon", k) for k in ("1001", "1002", "1003", "1004")]
    assert len(rising) == 156 and rising[-1]["week"] == last_monday().isoformat()
    assert all(date.fromisoformat(w["week"]).weekday() == 0 for w in rising)
    assert yearly_growth(rising) > 1.2 and yearly_growth(falling) < 0.8 and 0.85 < yearly_growth(flat) < 1.15
    first, second = [w["orders"] for w in seasonal[-104:-52]], [w["orders"] for w in seasonal[-52:]]
    assert statistics.correlation(first, second) > 0.7  # the same season a year apart
    assert max(second) > 2 * min(second)
    for week in rising:
        assert week["sellers"] > 0 and week["new_sellers"] >= 0
        assert week["top_shares"] == sorted(week["top_shares"], reverse=True) and sum(week["top_shares"]) < 1
    assert any(w["promo"] for w in rising)


async def test_unset_keys_get_a_shape_from_their_hash_and_reset_forgets_a_set_one(client: Client):
    shapes = {(await client.control("GET", f"/trends?marketplace=ym&key={k}"))["shape"] for k in range(100, 130)}
    assert {"rising", "flat", "falling"} <= shapes
    before = await client.control("GET", "/trends?marketplace=ym&key=100")
    await trend(client, "ym", "100", "seasonal", 50)
    assert (await client.control("GET", "/trends?marketplace=ym&key=100"))["shape"] == "seasonal"
    await client.control("POST", "/reset")
    assert await client.control("GET", "/trends?marketplace=ym&key=100") == before


@pytest.mark.parametrize(
    "body",
    [
        {"marketplace": "amazon", "key": "1", "shape": "flat"},
        {"marketplace": "ozon", "key": "", "shape": "flat"},
        {"marketplace": "ozon", "key": "1", "shape": "zigzag"},
        {"marketplace": "ozon", "key": "1", "shape": "flat", "level": -5},
    ],
)
async def test_the_trend_control_refuses_a_bad_shape(client: Client, body: dict):
    status, answer, _ = await client.call("POST", "/__sandbox/trends", json=body)
    assert status == 400 and "error" in answer


# --- Wildberries: sales-funnel history ------------------------------------------------------------------


async def seed_wb(client: Client, count: int, subject: int = 105, prefix: str = "T") -> list[int]:
    cards = await client.seed(
        "wb", *({"sku": f"{prefix}-{i}", "title": "t", "subject_id": subject} for i in range(count))
    )
    return [card["id"] for card in cards]


async def test_history_gives_the_sellers_cards_by_week_adding_up_to_the_subject(client: Client):
    ids = await seed_wb(client, 3)
    await trend(client, "wb", "105", "rising", 700)
    body = {"selectedPeriod": period(last_monday()), "nmIds": [*ids, 999], "aggregationLevel": "week"}
    status, answer, headers = await client.wb(HISTORY, body)
    assert status == 200 and "X-Ratelimit-Remaining" in headers
    assert sorted(p["product"]["nmId"] for p in answer) == sorted(ids)  # 999 is not the seller's: left out
    row = answer[0]["history"][0]
    assert row["date"] == last_monday().isoformat() and set(row) >= {"orderCount", "orderSum", "openCount", "cartCount"}
    total = sum(p["history"][0]["orderCount"] for p in answer)
    assert total == (await weeks(client, "wb", "105"))[-1]["orders"]
    status, daily, _ = await client.wb(HISTORY, {**body, "aggregationLevel": "day"})
    assert status == 200 and len(daily[0]["history"]) == 7
    assert sum(d["orderCount"] for p in daily for d in p["history"]) == total


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"nmIds": []}, "nmIds must hold 1 to 20"),
        ({"nmIds": list(range(1, 22))}, "nmIds must hold 1 to 20"),
        ({"nmIds": ["1"]}, "positive integers"),
        ({"selectedPeriod": None}, "selectedPeriod (field required)"),
        ({"selectedPeriod": {"start": "01.02.2026", "end": "2026-02-07"}}, "YYYY-MM-DD"),
        ({"selectedPeriod": {"start": "2026-02-07", "end": "2026-02-01"}}, "must not be later"),
        ({"selectedPeriod": "older"}, "last week at most"),
        ({"selectedPeriod": "longer"}, "last week at most"),
        ({"aggregationLevel": "month"}, "aggregationLevel"),
    ],
)
async def test_history_refuses_what_wb_documents_as_invalid(client: Client, change: dict, words: str):
    [nm_id] = await seed_wb(client, 1)
    body = {"selectedPeriod": period(last_monday()), "nmIds": [nm_id], "aggregationLevel": "week", **change}
    if change.get("selectedPeriod") == "older":
        body["selectedPeriod"] = period(last_monday() - timedelta(days=1))
    if change.get("selectedPeriod") == "longer":
        body["selectedPeriod"] = period(last_monday(), days=8)
    assert_wb_400(*(await client.wb(HISTORY, body))[:2], words)


async def test_wb_analytics_want_the_token_and_keep_3_a_minute(client: Client):
    [nm_id] = await seed_wb(client, 1)
    body = {"selectedPeriod": period(last_monday()), "nmIds": [nm_id]}
    status, answer, _ = await client.wb(HISTORY, body, headers={"Authorization": "wrong"})
    assert status == 401 and answer["title"] == "unauthorized" and answer["status"] == 401
    await client.limit("wb.funnel_history", "3/60:3")
    statuses = [(await client.wb(HISTORY, body))[0] for _ in range(3)]
    status, answer, headers = await client.wb(HISTORY, body)
    assert statuses == [200] * 3 and status == 429 and answer["title"] == "too many requests"
    assert int(headers["X-Ratelimit-Retry"]) >= 1 and headers["X-Ratelimit-Limit"] == "3"
    await client.limit("wb.funnel_history", "100/1:100")
    status, answer, _ = await client.call("POST", HISTORY, data=b"{not json", headers=WB_AUTH)
    assert_wb_400(status, answer, "can not be decoded")


# --- Wildberries: search texts --------------------------------------------------------------------------


def texts_body(ids: list[int], **change: Any) -> dict[str, Any]:
    body = {
        "currentPeriod": period(last_monday()),
        "nmIds": ids,
        "topOrderBy": "openCard",
        "orderBy": {"field": "openCard", "mode": "desc"},
        "limit": 30,
    }
    return {**body, **change}


async def test_search_texts_give_each_cards_top_texts_with_their_weekly_frequency(client: Client):
    ids = await seed_wb(client, 2)
    await trend(client, "wb", "футболка оверсайз", "rising", 300)
    status, answer, _ = await client.wb(TEXTS, texts_body(ids, limit=3, topOrderBy="orders"))
    assert status == 200
    items = answer["data"]["items"]
    assert len(items) == 6 and {i["nmId"] for i in items} == set(ids)
    assert {"text", "frequency", "weekFrequency", "orders", "openCard", "visibility", "price"} <= set(items[0])
    assert items[0]["orders"]["percentile"] >= 0 and isinstance(items[0]["weekFrequency"], int)
    status, answer, _ = await client.wb(TEXTS, texts_body(ids[:1]))
    found = {i["text"]: i for i in answer["data"]["items"]}
    searched = (await weeks(client, "wb", "футболка оверсайз"))[-1]["searches"]
    assert found["футболка оверсайз"]["weekFrequency"] == searched


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"nmIds": list(range(1, 52))}, "nmIds must hold 1 to 50"),
        ({"limit": 31}, "limit must be an integer from 1 to 30"),
        ({"limit": 0}, "limit must be an integer from 1 to 30"),
        ({"topOrderBy": "views"}, "topOrderBy must be one of"),
        ({"orderBy": {"field": "orders"}}, "orderBy"),
        ({"currentPeriod": period(date(2020, 1, 6))}, "must not start before"),
        ({"pastPeriod": period(last_monday() - timedelta(days=14), days=10)}, "pastPeriod must be no longer"),
        ({"pastPeriod": period(last_monday() - timedelta(days=3))}, "pastPeriod must be no longer"),
        ({"includeSubstitutedSKUs": False, "includeSearchTexts": False}, "both false"),
    ],
)
async def test_search_texts_refuse_what_wb_documents_as_invalid(client: Client, change: dict, words: str):
    ids = await seed_wb(client, 1)
    assert_wb_400(*(await client.wb(TEXTS, texts_body(ids, **change)))[:2], words)


# --- Ozon: search queries -------------------------------------------------------------------------------


async def test_search_queries_are_market_wide_with_buyers_and_sellers(client: Client):
    await trend(client, "ozon", "кружка керамическая", "rising", 500)
    status, answer, _ = await client.ozon(QUERIES, {"text": "Кружка", "limit": "50", "offset": "0"})
    assert status == 200
    rows = answer["search_queries"]
    assert int(answer["total"]) == len(rows) and answer["offset"] == "0"
    assert {
        "query",
        "client_count",
        "add_to_cart",
        "conversion_to_cart",
        "avg_price",
        "items_views",
        "sellers_count",
    } == set(rows[0])
    assert [r["client_count"] for r in rows] == sorted((r["client_count"] for r in rows), reverse=True)
    mine = next(r for r in rows if r["query"] == "кружка керамическая")
    last = (await weeks(client, "ozon", "кружка керамическая"))[-1]
    assert (mine["client_count"], mine["sellers_count"]) == (last["searches"], last["sellers"])
    status, page, _ = await client.ozon(QUERIES, {"text": "кружка", "limit": 2, "offset": 1, "sort_by": "AVG_PRICE"})
    assert status == 200 and len(page["search_queries"]) == 2
    prices = [r["avg_price"] for r in page["search_queries"]]
    assert prices == sorted(prices, reverse=True)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, "text: value is required"),
        ({"text": "  "}, "text: value is required"),
        ({"text": "x", "limit": "many"}, "limit: value must be an integer"),
        ({"text": "x", "limit": "0"}, "limit: value must be an integer"),
        ({"text": "x", "sort_by": "VIEWS"}, "sort_by: value must be one of"),
        ({"text": "x", "sort_dir": "UP"}, "sort_dir"),
        ({"text": "x", "date_from": "2026-01-01"}, "unknown field 'date_from'"),
    ],
)
async def test_search_queries_refuse_a_bad_request_in_the_grpc_shape(client: Client, body: dict, words: str):
    assert_ozon_400(*(await client.ozon(QUERIES, body))[:2], words)


async def test_ozon_analytics_want_the_keys(client: Client):
    status, answer, _ = await client.ozon(QUERIES, {"text": "x"}, headers={**OZON_AUTH, "Api-Key": "bad"})
    assert status == 404 and answer["code"] == 5 and "Invalid Api-Key" in answer["message"]
    status, answer, _ = await client.ozon(DATA, {}, headers={})
    assert status == 401 and answer["code"] == 16


# --- Ozon: analytics/data -------------------------------------------------------------------------------


def data_body(**change: Any) -> dict[str, Any]:
    start = last_monday() - timedelta(weeks=11)
    body = {
        "date_from": start.isoformat(),
        "date_to": (last_monday() + timedelta(days=6)).isoformat(),
        "metrics": ["revenue", "ordered_units"],
        "dimension": ["category1", "week"],
        "filters": [{"key": "category1", "op": "EQ", "value": "777001"}],
        "limit": 1000,
    }
    return {**body, **change}


async def test_analytics_data_gives_a_categorys_weeks(client: Client):
    await trend(client, "ozon", "777001", "rising", 900)
    status, answer, _ = await client.ozon(DATA, data_body())
    assert status == 200 and "timestamp" in answer
    rows = answer["result"]["data"]
    assert len(rows) == 12
    assert [r["dimensions"][0]["id"] for r in rows] == ["777001"] * 12
    mondays = [r["dimensions"][1]["id"] for r in rows]
    assert mondays[-1] == last_monday().isoformat() and all(date.fromisoformat(m).weekday() == 0 for m in mondays)
    series = {w["week"]: w for w in await weeks(client, "ozon", "777001")}
    assert all(r["metrics"][1] == series[r["dimensions"][1]["id"]]["orders"] for r in rows)
    assert answer["result"]["totals"][1] == sum(r["metrics"][1] for r in rows)
    status, page, _ = await client.ozon(DATA, data_body(limit=5, offset=10, sort=[{"key": "week", "order": "ASC"}]))
    assert [r["dimensions"][1]["id"] for r in page["result"]["data"]] == mondays[10:]
    status, days, _ = await client.ozon(DATA, data_body(dimension=["day"], filters=[]))
    assert status == 200 and len(days["result"]["data"]) == 84


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"metrics": []}, "metrics: value must contain 1 to 14"),
        ({"metrics": ["revenue"] * 15}, "metrics: value must contain 1 to 14"),
        ({"metrics": ["profit"]}, "metrics: unknown value 'profit'"),
        ({"limit": 0}, "limit: value must be from 1 to 1000"),
        ({"limit": 1001}, "limit: value must be from 1 to 1000"),
        ({"limit": None}, "limit: value must be from 1 to 1000"),
        ({"date_from": "01.02.2026"}, "as YYYY-MM-DD"),
        ({"date_from": "2026-03-01", "date_to": "2026-02-01"}, "date_from must not be later"),
        ({"dimension": []}, "dimension: value must contain at least 1 item"),
        ({"dimension": ["weekday"]}, "dimension: unknown value"),
        ({"filters": [{"key": "category1", "op": "LIKE", "value": "1"}]}, "filters"),
        ({"sort": [{"key": "views", "order": "ASC"}]}, "sort"),
        ({"page": 2}, "unknown field 'page'"),
    ],
)
async def test_analytics_data_refuses_what_ozon_documents_as_invalid(client: Client, change: dict, words: str):
    assert_ozon_400(*(await client.ozon(DATA, data_body(**change)))[:2], words)


async def test_analytics_data_takes_one_request_a_minute(client: Client):
    await client.limit("ozon.analytics_data", "1/60:1")
    assert (await client.ozon(DATA, data_body()))[0] == 200
    status, answer, headers = await client.ozon(DATA, data_body())
    assert status == 429 and answer["code"] == 8 and int(headers["retry-after"]) >= 1
    assert (await client.ozon(QUERIES, {"text": "x"}))[0] == 200  # other methods keep the global limit only


# --- Yandex Market: reports -----------------------------------------------------------------------------


def report_body(**change: Any) -> dict[str, Any]:
    start = last_monday() - timedelta(weeks=9)
    body = {
        "businessId": 777,
        "dateFrom": start.isoformat(),
        "dateTo": (last_monday() + timedelta(days=6)).isoformat(),
        "grouping": "CATEGORIES",
    }
    return {**body, **change}


async def generate(client: Client, body: dict[str, Any], path: str = GENERATE) -> tuple[int, Any, Any]:
    return await client.call("POST", path, json=body, headers=YM_AUTH)


async def test_a_report_goes_pending_processing_done_and_its_file_has_weekly_rows(client: Client):
    await client.control("PUT", "/config", {"apply_delay_s": 0.3})
    await trend(client, "ym", "555001", "falling", 400)
    status, answer, headers = await generate(client, report_body())
    assert status == 200 and answer["status"] == "OK" and "X-RateLimit-Resource-Remaining" in headers
    report_id = answer["result"]["reportId"]
    assert answer["result"]["estimatedGenerationTime"] > 0
    seen = []

    async def done() -> Any:
        status, info, _ = await client.call("GET", f"/v2/reports/info/{report_id}", headers=YM_AUTH)
        assert status == 200
        seen.append(info["result"]["status"])
        return info["result"] if info["result"]["status"] == "DONE" else None

    result = await eventually(done, interval=0.02)
    assert seen[0] == "PENDING" and "PROCESSING" in seen
    assert result["generationFinishedAt"] and result["file"].startswith(client.url)
    async with client.session.get(result["file"]) as response:  # a storage link: no credentials
        assert response.status == 200
        document = await response.json()
    rows = [r for r in document["rows"] if r["categoryId"] == 555001]
    assert len(rows) == 10 and rows[-1]["week"] == last_monday().isoformat()
    series = {w["week"]: w for w in await weeks(client, "ym", "555001")}
    assert all(r["orderedItems"] == series[r["week"]]["orders"] for r in rows)
    assert {r["categoryId"] for r in document["rows"]} >= {91491}  # the catalog's categories are the seller's too
    async with client.session.get(result["file"].replace(".json", "x.json")) as response:
        assert response.status == 404
    status, answer, _ = await client.call("GET", "/v2/reports/info/nope", headers=YM_AUTH)
    assert_ym_error(status, answer, 404, "Report not found")


@pytest.mark.parametrize(
    ("change", "expected", "words"),
    [
        ({"dateFrom": "2024-01-01", "dateTo": "2025-02-04"}, 400, "must not exceed 400 days"),
        ({"dateFrom": "2026/01/01"}, 400, "YYYY-MM-DD"),
        ({"dateFrom": "2026-03-01", "dateTo": "2026-02-01"}, 400, "must not be later"),
        ({"grouping": "BRANDS"}, 400, "grouping must be one of"),
        ({"grouping": None}, 400, "grouping must be one of"),
        ({"campaignId": 5}, 400, "Either businessId or campaignId"),
        ({"businessId": 778}, 403, "denied"),
        ({"categoryId": 1}, 400, "Unknown field"),
    ],
)
async def test_a_report_request_outside_the_documented_shape_is_refused(
    client: Client, change: dict, expected: int, words: str
):
    body = {k: v for k, v in report_body(**change).items() if v is not None}
    assert_ym_error(*(await generate(client, body))[:2], expected, words)


async def test_reports_want_the_key_a_known_format_and_keep_their_limits(client: Client):
    status, answer, _ = await client.call("POST", GENERATE, json=report_body())
    assert_ym_error(status, answer, 401, "Api-Key")
    status, answer, _ = await client.call("POST", GENERATE, json=report_body(), headers={"Api-Key": "bad"})
    assert_ym_error(status, answer, 403, "invalid")
    assert_ym_error(*(await generate(client, report_body(), GENERATE.replace("JSON", "XML")))[:2], 400, "format")
    await client.control("PUT", "/config", {"ym_limits": {"ym.reports_shows_sales": "2/3600"}})
    assert [(await generate(client, report_body()))[0] for _ in range(2)] == [200, 200]
    status, answer, headers = await generate(client, report_body())
    assert status == 420 and headers["X-RateLimit-Resource-Remaining"] == "0"
    assert answer["status"] == "ERROR"
