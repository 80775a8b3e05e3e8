"""Scout's trend sources (adolf/adapters/trends.py) against the simulator over real HTTP, with the shared Redis limiter:
weekly series per niche, segments per query, batching, pacing and errors."""

from __future__ import annotations

import asyncio
import itertools
import statistics
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from adolf.adapters import ozon_trends
from adolf.adapters.ratelimit import RateLimiter
from adolf.adapters.trends import TrendSources, parsed
from adolf.errors import ApiError, AuthFailed, RateLimited, Timeout, ValidationFailed
from adolf.models.scout import NicheRef, NicheTrends
from tests.conftest import make_settings


def last_monday() -> date:
    today = datetime.now(UTC).date()
    return today - timedelta(days=today.weekday(), weeks=1)


def niche(marketplace: str, category: str | None = None, queries: list[str] | None = None) -> NicheRef:
    return NicheRef(id=uuid.uuid4(), name="ниша", marketplace=marketplace, category_id=category, queries=queries or [])


SINCE = last_monday() - timedelta(weeks=155)
OTHER_SUBJECT = 2256


@pytest.fixture
async def build_sources(redis, sandbox_server) -> AsyncIterator[Callable[..., TrendSources]]:
    built: list[TrendSources] = []

    def build(**overrides: object) -> TrendSources:
        settings = make_settings(sandbox_server.url, **overrides)
        sources = TrendSources.build(settings, RateLimiter(redis, settings.rate_limits, max_wait=5))
        built.append(sources)
        return sources

    yield build
    for sources in built:
        await sources.close()


@pytest.fixture
async def sources(build_sources) -> TrendSources:
    return build_sources()


async def trend(marketplace_client, marketplace: str, key: str, shape: str, level: float = 1000) -> list[dict]:
    body = {"marketplace": marketplace, "key": key, "shape": shape, "level": level}
    await marketplace_client.control("POST", "/trends", body)
    answer = await marketplace_client.control("GET", f"/trends?marketplace={marketplace}&key={key}")
    return answer["weeks"]


def growth(trends: NicheTrends) -> float:
    demand = [p.demand or 0 for p in trends.points]
    return sum(demand[-13:]) / sum(demand[-65:-52])


def assert_weekly(trends: NicheTrends, weeks: int) -> None:
    assert len(trends.points) == weeks
    mondays = [p.week for p in trends.points]
    assert mondays == [mondays[0] + timedelta(weeks=i) for i in range(weeks)] and mondays[-1] == last_monday()


async def requests(marketplace_client, path: str) -> list[dict[str, Any]]:
    return await marketplace_client.control("GET", f"/requests?path_contains={path}")


# --- Ozon -----------------------------------------------------------------------------------------------


async def test_an_ozon_category_reads_156_weeks_and_a_rising_niche_rises(marketplace, sources):
    series = await trend(marketplace, "ozon", "880001", "rising", 800)
    await trend(marketplace, "ozon", "880002", "falling", 800)

    rising = await sources.fetch(niche("ozon", "880001"), SINCE, last_monday() + timedelta(days=3))
    falling = await sources.fetch(niche("ozon", "880002"), SINCE, date.today() + timedelta(weeks=5))

    assert_weekly(rising, 156)
    assert growth(rising) > 1.2 and growth(falling) < 0.8
    assert [p.orders for p in rising.points] == [w["orders"] for w in series]
    point = rising.points[-1]
    assert point.revenue and point.avg_price == pytest.approx(point.revenue / point.orders, abs=0.01)
    assert point.sellers is None and point.search_volume is None and rising.segments == []
    assert len(await requests(marketplace, "/v1/analytics/data")) == 2  # one request a niche, 156 rows in a page


async def test_an_ozon_seasonal_niche_shows_its_52_week_season(marketplace, sources):
    await trend(marketplace, "ozon", "880003", "seasonal", 500)
    trends = await sources.fetch(niche("ozon", "880003"), SINCE, last_monday())
    orders = [p.orders for p in trends.points]
    year, next_year = orders[-104:-52], orders[-52:]
    assert statistics.correlation(year, next_year) > 0.7  # the same weeks a year apart move together
    assert max(next_year) > 2 * min(next_year)

    def quarter(weeks: list[int]) -> int:  # the 13 weeks with the most orders
        return max(range(40), key=lambda i: sum(weeks[i : i + 13]))

    assert abs(quarter(year) - quarter(next_year)) <= 3


async def test_an_ozon_query_niche_has_a_segment_per_query_with_sellers(marketplace, sources):
    mug = await trend(marketplace, "ozon", "кружка керамическая", "rising", 300)
    cup = await trend(marketplace, "ozon", "кружка", "flat", 900)
    ref = niche("ozon", queries=["Кружка", "кружка  керамическая", "термос стальной"])

    trends = await sources.fetch(ref, last_monday() - timedelta(weeks=4), last_monday())

    by_query = {s.segment: s for s in trends.segments}
    assert set(by_query) == {"кружка", "кружка керамическая", "термос стальной"}
    assert (by_query["кружка"].demand, by_query["кружка"].sellers) == (cup[-1]["searches"], cup[-1]["sellers"])
    assert by_query["кружка керамическая"].demand == mug[-1]["searches"]
    [point] = trends.points
    assert point.week == last_monday() and point.search_volume == sum(s.demand for s in trends.segments)
    assert point.sellers == max(s.sellers for s in trends.segments) and point.avg_price and point.orders is None
    texts = [entry["skus"] for entry in await requests(marketplace, "/v1/search-queries/text")]
    assert texts == [["кружка"], ["термос стальной"]]  # "кружка" brought "кружка керамическая" along


async def test_ozon_analytics_data_is_paced_by_the_shared_limiter(marketplace, build_sources):
    # the sandbox enforces a limit a little looser than ours, so loopback jitter on a 0.5 s pace never trips it (the
    # 2% our limiter keeps in hand is 1.2 s on the real 1/60, 10 ms here)
    await marketplace.control("PUT", "/config", {"rate_limits": {"ozon.analytics_data": "1/0.45:1"}})
    sources = build_sources(rate_limits={"ozon.analytics_data": "1/0.5:1"})
    niches = [niche("ozon", str(881000 + i)) for i in range(4)]

    results = await asyncio.gather(
        *(sources.fetch(n, last_monday() - timedelta(weeks=3), last_monday()) for n in niches)
    )

    assert all(len(r.points) == 4 for r in results)
    log = await requests(marketplace, "/v1/analytics/data")
    assert [entry["status"] for entry in log] == [200] * 4
    starts = sorted(entry["ts"] for entry in log)
    assert all(b - a >= 0.47 for a, b in itertools.pairwise(starts))  # 0.51 s, less arrival jitter
    assert (await marketplace.counters())["rate_limited"] == 0


async def test_ozon_errors_map_to_their_codes(marketplace, build_sources):
    ref = niche("ozon", "880010")
    with pytest.raises(AuthFailed, match="Invalid Api-Key"):
        await build_sources(ozon_api_key="wrong").fetch(ref, SINCE, last_monday())
    await marketplace.limit("ozon.analytics_data", "1/60:1")  # ours stays roomy: the sandbox answers 429
    sources = build_sources()
    await sources.fetch(ref, SINCE, last_monday())
    with pytest.raises(RateLimited) as limited:
        await sources.fetch(niche("ozon", "880011"), SINCE, last_monday())
    assert limited.value.retry_after >= 1
    with pytest.raises(ValidationFailed, match="neither a category nor search queries"):
        await sources.fetch(niche("ozon"), SINCE, last_monday())


async def test_a_malformed_answer_is_an_api_error_not_a_traceback(marketplace, sources):
    await marketplace.control("POST", "/faults", {"kind": "malformed", "path_contains": "/v1/search-queries/text"})
    with pytest.raises(ApiError, match="not JSON"):
        await sources.fetch(niche("ozon", queries=["кружка"]), SINCE, last_monday())
    broken = {"result": {"data": [{"dimensions": [{"id": "1"}], "metrics": []}]}}
    with pytest.raises(ApiError, match="unexpected shape"):
        parsed("ozon", "/v1/analytics/data", lambda: ozon_trends._data_rows(broken, "1"))


# --- Yandex Market --------------------------------------------------------------------------------------


async def test_a_ym_category_reads_three_reports_of_at_most_400_days(marketplace, sources):
    series = await trend(marketplace, "ym", "990001", "rising", 600)

    trends = await sources.fetch(niche("ym", "990001"), SINCE, last_monday())

    assert_weekly(trends, 156)
    assert [p.orders for p in trends.points] == [w["orders"] for w in series]
    assert growth(trends) > 1.2 and trends.points[-1].sellers is None
    log = await marketplace.control("GET", "/requests?marketplace=ym")
    generated = [e for e in log if e["path"].endswith("/generate")]
    assert len(generated) == 3 and all(e["status"] == 200 for e in log)
    assert any(e["path"].startswith("/v2/reports/info/") for e in log)


async def test_a_ym_query_niche_gets_nothing_and_an_unready_report_times_out(marketplace, build_sources):
    sources = build_sources()
    assert await sources.fetch(niche("ym", queries=["кружка"]), SINCE, last_monday()) == NicheTrends()
    await marketplace.control("PUT", "/config", {"apply_delay_s": 30})
    slow = build_sources(scout_report_wait=0.3)
    with pytest.raises(Timeout, match="not ready within"):
        await slow.fetch(niche("ym", "91491"), last_monday(), last_monday())


# --- Wildberries ----------------------------------------------------------------------------------------


async def seed_wb(marketplace, count: int, subject: int, prefix: str) -> list[int]:
    cards = [{"sku": f"{prefix}-{i}", "title": "t", "subject_id": subject} for i in range(count)]
    return [c["id"] for c in await marketplace.seed("wb", *cards)]


async def test_a_wb_category_is_the_sellers_cards_last_week_in_batches_of_20(marketplace, sources):
    await seed_wb(marketplace, 25, 105, "F")
    await seed_wb(marketplace, 2, OTHER_SUBJECT, "O")
    series = await trend(marketplace, "wb", "105", "rising", 900)

    trends = await sources.fetch(niche("wb", "105"), SINCE, last_monday())

    [point] = trends.points  # WB's history method gives the last week only
    assert point.week == last_monday() and point.orders == series[-1]["orders"]
    assert point.revenue and point.sellers is None and point.top10_share is None
    batches = [len(e["skus"]) for e in await requests(marketplace, "/sales-funnel/products/history")]
    assert batches == [20, 5]
    assert await sources.fetch(niche("wb", "105"), SINCE, last_monday() - timedelta(weeks=1)) == NicheTrends()
    assert await sources.fetch(niche("wb", "106"), SINCE, last_monday()) == NicheTrends()  # no cards of it


async def test_wb_query_niches_share_one_read_of_the_last_weeks_search_texts(marketplace, sources):
    await seed_wb(marketplace, 55, 105, "Q")
    series = await trend(marketplace, "wb", "футболка оверсайз", "rising", 300)
    ref = niche("wb", queries=["Футболка оверсайз", "футболки"])

    trends = await sources.fetch(ref, last_monday() - timedelta(weeks=2), last_monday())
    other = await sources.fetch(niche("wb", queries=["футболки"]), last_monday() - timedelta(weeks=2), last_monday())

    weeks = {w["week"]: w for w in series}
    [oversize] = [s for s in trends.segments if s.segment == "футболка оверсайз"]
    assert oversize.week == last_monday()  # a daily update builds the history week by week
    assert oversize.demand == weeks[oversize.week.isoformat()]["searches"] and oversize.sellers is None
    assert {s.segment for s in trends.segments} == {"футболка оверсайз", "футболки"}
    assert [p.search_volume for p in trends.points] == [sum(s.demand for s in trends.segments)]
    assert [s.segment for s in other.segments] == ["футболки"]
    batches = [len(e["skus"]) for e in await requests(marketplace, "/search-report/product/search-texts")]
    assert batches == [50, 5]  # one read of the seller's 55 cards for both niches
    assert len(await requests(marketplace, "cards/list")) == 1


async def test_an_unconfigured_marketplace_names_the_missing_setting(build_sources):
    sources = build_sources(wb_token=None, ym_business_id=None)
    with pytest.raises(AuthFailed, match="ADOLF_WB_TOKEN"):
        await sources.fetch(niche("wb", "105"), SINCE, last_monday())
    with pytest.raises(AuthFailed, match="ADOLF_YM_BUSINESS_ID"):
        await sources.fetch(niche("ym", "1"), SINCE, last_monday())
    with pytest.raises(ValidationFailed):
        await sources.fetch(niche("ozon", "1"), last_monday(), SINCE)
