"""Scout's trend sources, simulated: WB seller analytics, Ozon analytics and market-wide search queries, YM's
asynchronous "Аналитика продаж" report (research/marketplaces.md 1.7, 2.6, 3.6; research/next-anchors.md 2).

The numbers come from adolf/sandbox/trend_series.py, one series per (marketplace, key); POST /__sandbox/trends sets a
key's shape. The endpoints enforce the documented request rules and answer errors in each marketplace's shape; where a
real API gives no market-wide competition (WB, YM) nothing here invents one.
"""

from __future__ import annotations

import logging
import math
import random
import re
import secrets
import time
import uuid
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp import web

from adolf.models.scout import last_complete_monday, monday_of, today_utc

from .base import ApiError, Ctx, Json, Route, as_dict, json_response, str_ids
from .buckets import BucketSnapshot
from .catalogs import OZON_CATEGORIES, YM_CATEGORIES
from .config import SandboxAccount
from .middleware import STATE_KEY
from .models import WbCard
from .ozon import OzonApi, rpc_error
from .state import MARKETPLACES, SandboxState
from .trend_series import SHAPES, Shape, Week, default_shape, related_queries, series, split_week, week_at
from .wb import WildberriesApi
from .ym import YandexMarketApi, ym_error

logger = logging.getLogger(__name__)

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
REPORT_FILE_TTL_S = 3600.0
REPORT_FILES = "/__files/ym-reports"


# --- what the analytics remember (forgotten by /__sandbox/reset: a reset bumps the state's generation) ----------------


@dataclass
class YmReport:
    report_id: str
    business_id: int
    date_from: date
    date_to: date
    grouping: str
    requested: float  # time.monotonic()
    requested_at: str
    token: str = field(default_factory=lambda: secrets.token_urlsafe(12))


@dataclass
class AnalyticsStore:
    generation: int
    shapes: dict[tuple[str, str], Shape] = field(default_factory=dict)
    reports: dict[str, YmReport] = field(default_factory=dict)


_STORES: weakref.WeakKeyDictionary[SandboxState, AnalyticsStore] = weakref.WeakKeyDictionary()


def store(state: SandboxState) -> AnalyticsStore:
    found = _STORES.get(state)
    if found is None or found.generation != state.generation:
        found = _STORES[state] = AnalyticsStore(generation=state.generation)
    return found


def weeks_of(state: SandboxState, marketplace: str, key: str) -> tuple[Week, ...]:
    return series(marketplace, key, store(state).shapes.get((marketplace, key)))


def registered(state: SandboxState, marketplace: str, *, numeric: bool) -> list[str]:
    """Keys set through /__sandbox/trends: category ids (numeric) or search queries."""
    return [k for mp, k in store(state).shapes if mp == marketplace and k.isdecimal() == numeric]


def day_values(weeks: tuple[Week, ...], key: str, day: date) -> dict[str, float] | None:
    """One day of a series: the week's counts split by weekday weights (seven days add up to the week); None for a day
    outside the series or not over yet."""
    if day >= today_utc():
        return None
    week = week_at(weeks, monday_of(day))
    if week is None:
        return None
    i = day.weekday()
    orders = split_week(week.orders, key, week.monday)[i]
    return {
        "orders": orders,
        "revenue": round(orders * week.avg_price, 2),
        "searches": split_week(week.searches, key, week.monday)[i],
        "views": split_week(week.views, key, week.monday)[i],
        "to_cart": split_week(week.add_to_cart, key, week.monday)[i],
    }


def days(start: date, end: date) -> Iterable[date]:
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)


def sum_days(weeks: tuple[Week, ...], key: str, start: date, end: date) -> dict[str, float]:
    total: dict[str, float] = defaultdict(float)
    for day in days(start, end):
        values = day_values(weeks, key, day)
        for name, value in (values or {}).items():
            total[name] += value
    return total


def parse_date(value: Any) -> date | None:
    if not isinstance(value, str) or not DATE_RE.match(value):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _hash_unit(*parts: object) -> float:
    return random.Random(":".join(map(str, parts))).random()


# ======================================================================================================================
# Wildberries: seller-analytics-api (research 1.7). Data covers the seller's own cards only.
# ======================================================================================================================

WB_ORIGIN = "analytics-open-api"
WB_LEVELS = ("day", "week")
WB_TOP_ORDER = ("openCard", "addToCart", "openToCart", "orders", "cartToOrder")
WB_ORDER_FIELDS = ("avgPosition", "openCard", "addToCart", "openToCart", "orders", "cartToOrder", "visibility")
WB_MAX_HISTORY_IDS = 20
WB_MAX_TEXT_IDS = 50
WB_MAX_TEXTS = 30  # the standard tariff; "Продвинутый" allows 100
WB_YEAR_DAYS = 365


def wb_bad_request(detail: str) -> ApiError:
    """The analytics service's 400 body (ErrorObject400: title, detail, requestId, origin)."""
    body = {"title": "Invalid request body", "detail": detail, "requestId": str(uuid.uuid4()), "origin": WB_ORIGIN}
    return ApiError(json_response(body, status=400))


def _wb_period(value: Any, name: str) -> tuple[date, date]:
    period = value if isinstance(value, dict) else None
    if period is None:
        raise wb_bad_request(f"code=400, message=invalid: {name} (field required)")
    start, end = parse_date(period.get("start")), parse_date(period.get("end"))
    if start is None or end is None:
        raise wb_bad_request(f"code=400, message=invalid: {name}.start and {name}.end must be dates YYYY-MM-DD")
    if start > end:
        raise wb_bad_request(f"code=400, message=invalid: {name}.start must not be later than {name}.end")
    return start, end


def _wb_ids(payload: Json, most: int, *, least: int) -> list[int]:
    ids = payload.get("nmIds")
    if not isinstance(ids, list):
        raise wb_bad_request("code=400, message=invalid: nmIds (field required)")
    if not least <= len(ids) <= most:
        raise wb_bad_request(f"code=400, message=invalid: nmIds must hold {least} to {most} items, got {len(ids)}")
    if not all(is_int(i) and i > 0 for i in ids):
        raise wb_bad_request("code=400, message=invalid: nmIds must be positive integers")
    return ids


def _seller_cards(state: SandboxState, account: str, subject_id: int) -> list[WbCard]:
    return sorted((c for c in state.wb[account].values() if c.subject_id == subject_id), key=lambda c: c.nm_id)


def _card_weights(cards: list[WbCard]) -> list[float]:
    raw = [0.5 + _hash_unit("wb-card", card.nm_id) for card in cards]
    return [w / sum(raw) for w in raw]


def _share(total: int, weights: list[float], index: int) -> int:
    """The index-th part of `total` split by `weights` (largest remainder: the parts add up to `total`)."""
    exact = [total * w for w in weights]
    parts = [math.floor(x) for x in exact]
    order = sorted(range(len(exact)), key=lambda i: exact[i] - parts[i], reverse=True)
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts[index]


def _card_day(state: SandboxState, account: str, card: WbCard, day: date) -> tuple[int, float] | None:
    key = str(card.subject_id)
    values = day_values(weeks_of(state, "wb", key), key, day)
    if values is None:
        return None
    cards = _seller_cards(state, account, card.subject_id)
    index = next(i for i, c in enumerate(cards) if c.nm_id == card.nm_id)
    orders = _share(int(values["orders"]), _card_weights(cards), index)
    price = values["revenue"] / values["orders"] if values["orders"] else 0.0
    return orders, orders * price


def _funnel_row(day: date, orders: int, revenue: float) -> Json:
    opens, carts = orders * 9, round(orders * 2.1)
    buyouts = round(orders * 0.82)
    return {
        "date": day.isoformat(),
        "openCount": opens,
        "cartCount": carts,
        "orderCount": orders,
        "orderSum": round(revenue),
        "buyoutCount": buyouts,
        "buyoutSum": round(revenue * 0.82),
        "buyoutPercent": 82 if orders else 0,
        "addToCartConversion": round(100 * carts / opens) if opens else 0,
        "cartToOrderConversion": round(100 * orders / carts) if carts else 0,
        "addToWishlistCount": round(orders * 0.7),
    }


def _card_history(state: SandboxState, account: str, card: WbCard, start: date, end: date, level: str) -> list[Json]:
    buckets: dict[date, list[float]] = {}
    for day in days(start, end):
        found = _card_day(state, account, card, day)
        if found is None:
            continue
        bucket = buckets.setdefault(monday_of(day) if level == "week" else day, [0, 0.0])
        bucket[0] += found[0]
        bucket[1] += found[1]
    return [_funnel_row(key, int(orders), revenue) for key, (orders, revenue) in sorted(buckets.items())]


def funnel_history(ctx: Ctx) -> web.Response:
    """POST /api/analytics/v3/sales-funnel/products/history: the seller's cards by day or week, last week only."""
    payload = ctx.payload if isinstance(ctx.payload, dict) else None
    if payload is None:
        raise wb_bad_request("code=400, message=invalid: the body must be a JSON object")
    start, end = _wb_period(payload.get("selectedPeriod"), "selectedPeriod")
    ids = _wb_ids(payload, WB_MAX_HISTORY_IDS, least=1)
    level = payload.get("aggregationLevel", "day")
    if level not in WB_LEVELS:
        raise wb_bad_request("code=400, message=invalid: aggregationLevel must be day or week")
    if "skipDeletedNm" in payload and not isinstance(payload["skipDeletedNm"], bool):
        raise wb_bad_request("code=400, message=invalid: skipDeletedNm must be a boolean")
    earliest = last_complete_monday()
    if start < earliest or (end - start).days > 6:
        raise wb_bad_request(
            f"code=400, message=invalid: selectedPeriod: data is given for the last week at most "
            f"(from {earliest.isoformat()}, up to 7 days)"
        )
    cards = ctx.state.wb_by_nm[ctx.account.name]
    answer = []
    for nm_id in dict.fromkeys(ids):
        card = cards.get(nm_id)
        if card is None:
            continue  # another seller's card, or none: WB reports the seller's own cards only
        product = {
            "nmId": card.nm_id,
            "title": card.title,
            "vendorCode": card.vendor_code,
            "brandName": card.brand,
            "subjectId": card.subject_id,
            "subjectName": card.subject_name,
        }
        history = _card_history(ctx.state, ctx.account.name, card, start, end, level)
        answer.append({"product": product, "history": history, "currency": "RUB"})
    return json_response(answer)


def card_texts(state: SandboxState, card: WbCard) -> list[str]:
    """The search texts that bring buyers to a card: queries from its subject's name plus the WB queries registered
    through /__sandbox/trends."""
    return list(dict.fromkeys([*related_queries(card.subject_name, 6), *registered(state, "wb", numeric=False)]))


def _metric(current: float, past: float | None, percentile: int | None = None) -> Json:
    dynamics = 0 if not past else round(100 * (current - past) / past)
    found: Json = {"current": round(current), "dynamics": dynamics}
    if percentile is not None:
        found["percentile"] = percentile
    return found


def _text_item(state: SandboxState, card: WbCard, text: str, current: tuple[date, date], past: Any) -> Json:
    weeks = weeks_of(state, "wb", text)
    now = sum_days(weeks, text, *current)
    before = sum_days(weeks, text, *past) if past else None
    week = sum_days(weeks, text, current[1] - timedelta(days=6), current[1])
    share = 0.02 + 0.06 * _hash_unit("wb-share", card.nm_id, text)
    percentile = round(100 * _hash_unit("wb-pct", card.nm_id, text))
    position = 1 + round(60 * _hash_unit("wb-pos", card.nm_id, text))
    price = weeks[-1].avg_price
    values = {name: now.get(name, 0.0) * share for name in ("views", "to_cart", "orders")}
    old = {name: before.get(name, 0.0) * share for name in values} if before is not None else dict.fromkeys(values)
    opens, carts, orders = values["views"] * 0.2, values["to_cart"], values["orders"]
    return {
        "text": text,
        "nmId": card.nm_id,
        "subjectName": card.subject_name,
        "brandName": card.brand,
        "vendorCode": card.vendor_code,
        "name": card.title,
        "isCardRated": True,
        "rating": 7,
        "feedbackRating": 4.6,
        "price": {"minPrice": math.floor(price * 0.95), "maxPrice": math.ceil(price * 1.05)},
        "frequency": _metric(now.get("searches", 0.0), before.get("searches") if before else None),
        "weekFrequency": round(week.get("searches", 0.0)),
        "medianPosition": {"current": position, "dynamics": 0},
        "avgPosition": {"current": position + 2, "dynamics": 0},
        "openCard": _metric(opens, (old["views"] or 0) * 0.2 or None, percentile),
        "addToCart": _metric(carts, old["to_cart"], percentile),
        "openToCart": _metric(100 * carts / opens if opens else 0, None, percentile),
        "orders": _metric(orders, old["orders"], percentile),
        "cartToOrder": _metric(100 * orders / carts if carts else 0, None, percentile),
        "visibility": {"current": round(100 * share * 5), "dynamics": 0},
    }


def _text_request(payload: Json) -> tuple[tuple[date, date], tuple[date, date] | None, int, str, str, str]:
    earliest = today_utc() - timedelta(days=WB_YEAR_DAYS)
    current = _wb_period(payload.get("currentPeriod"), "currentPeriod")
    past = _wb_period(payload["pastPeriod"], "pastPeriod") if payload.get("pastPeriod") is not None else None
    if min(current[0], past[0] if past else current[0]) < earliest:
        raise wb_bad_request(f"code=400, message=invalid: periods must not start before {earliest.isoformat()}")
    if past and ((past[1] - past[0]) > (current[1] - current[0]) or past[1] >= current[0]):
        raise wb_bad_request("code=400, message=invalid: pastPeriod must be no longer than currentPeriod and before it")
    limit = payload.get("limit")
    if not is_int(limit) or not 1 <= limit <= WB_MAX_TEXTS:
        raise wb_bad_request(f"code=400, message=invalid: limit must be an integer from 1 to {WB_MAX_TEXTS}")
    top = payload.get("topOrderBy")
    if top not in WB_TOP_ORDER:
        raise wb_bad_request(f"code=400, message=invalid: topOrderBy must be one of {', '.join(WB_TOP_ORDER)}")
    order = as_dict(payload.get("orderBy"))
    if order.get("field") not in WB_ORDER_FIELDS or order.get("mode") not in ("asc", "desc"):
        raise wb_bad_request("code=400, message=invalid: orderBy (field and mode required)")
    if payload.get("includeSubstitutedSKUs") is False and payload.get("includeSearchTexts") is False:
        raise wb_bad_request("code=400, message=invalid: includeSubstitutedSKUs and includeSearchTexts are both false")
    return current, past, limit, top, order["field"], order["mode"]


def search_texts(ctx: Ctx) -> web.Response:
    """POST /api/v2/search-report/product/search-texts: the top search texts of the seller's cards."""
    payload = ctx.payload if isinstance(ctx.payload, dict) else None
    if payload is None:
        raise wb_bad_request("code=400, message=invalid: the body must be a JSON object")
    current, past, limit, top, order_field, mode = _text_request(payload)
    ids = _wb_ids(payload, WB_MAX_TEXT_IDS, least=1)
    cards = ctx.state.wb_by_nm[ctx.account.name]
    items = []
    for nm_id in dict.fromkeys(ids):
        card = cards.get(nm_id)
        if card is None:
            continue
        found = [_text_item(ctx.state, card, text, current, past) for text in card_texts(ctx.state, card)]
        found.sort(key=lambda item: item[top]["current"], reverse=True)
        items += found[:limit]
    items.sort(key=lambda item: item[order_field]["current"], reverse=mode == "desc")
    return json_response({"data": {"items": items}})


class WbAnalyticsApi(WildberriesApi):
    """The analytics host's methods: same token and gateway answers as Content, its own 400 body."""

    routes = (
        Route("POST", "/api/analytics/v3/sales-funnel/products/history", funnel_history, "wb.funnel_history"),
        Route("POST", "/api/v2/search-report/product/search-texts", search_texts, "wb.search_texts"),
    )

    def validation_error(self, message: str) -> web.Response:
        return wb_bad_request(message).response

    def undecodable(self, message: str) -> web.Response:
        return self.validation_error(f"code=400, message={message}")

    def skus(self, path: str, payload: Any) -> list[str]:
        return str_ids(as_dict(payload).get("nmIds"))


# ======================================================================================================================
# Ozon: /v1/search-queries/text (market-wide, Premium Pro) and /v1/analytics/data (1 request a minute)
# ======================================================================================================================

OZON_SORT_BY = {
    "CLIENT_COUNT": "client_count",
    "ADD_TO_CART": "add_to_cart",
    "CONVERSION_TO_CART": "conversion_to_cart",
    "AVG_PRICE": "avg_price",
}
OZON_QUERY_FIELDS = {"text", "limit", "offset", "sort_by", "sort_dir"}
OZON_DATA_FIELDS = {"date_from", "date_to", "metrics", "dimension", "filters", "sort", "limit", "offset"}
OZON_METRICS = (
    "revenue",
    "ordered_units",
    "hits_view_search",
    "hits_view_pdp",
    "hits_view",
    "hits_tocart_search",
    "hits_tocart_pdp",
    "hits_tocart",
    "session_view_search",
    "session_view_pdp",
    "session_view",
    "conv_tocart_search",
    "conv_tocart_pdp",
    "conv_tocart",
    "returns",
    "cancellations",
    "delivered_units",
    "position_category",
)
OZON_TIME_DIMS = ("day", "week", "month", "year")
OZON_CATEGORY_DIMS = ("category1", "category2", "category3", "category4")
OZON_OTHER_DIMS = ("sku", "spu", "brand", "modelID")
OZON_OPS = {
    "EQ": lambda a, b: a == b,
    "GT": lambda a, b: a > b,
    "GTE": lambda a, b: a >= b,
    "LT": lambda a, b: a < b,
    "LTE": lambda a, b: a <= b,
}
OZON_MAX_METRICS = 14
OZON_MAX_LIMIT = 1000
DEFAULT_QUERY_LIMIT = 10


def ozon_bad(message: str) -> ApiError:
    return ApiError(rpc_error(400, 3, message))


def _unknown(payload: Json, known: set[str]) -> None:
    extra = sorted(set(payload) - known)
    if extra:
        raise ozon_bad(f"proto: unknown field {extra[0]!r}")


def _int64(payload: Json, name: str, default: int, least: int) -> int:
    """An int64 as Ozon's gateway takes it: a number or a string of digits."""
    value = payload.get(name, default)
    if isinstance(value, str) and value.strip().isdecimal():
        value = int(value)
    if not is_int(value) or value < least:
        raise ozon_bad(f"{name}: value must be an integer of at least {least}")
    return value


def _query_row(state: SandboxState, query: str) -> Json:
    week = weeks_of(state, "ozon", query)[-1]
    return {
        "query": query,
        "client_count": week.searches,
        "add_to_cart": week.add_to_cart,
        "conversion_to_cart": round(week.add_to_cart / week.views, 4) if week.views else 0.0,
        "avg_price": week.avg_price,
        "items_views": week.views,
        "sellers_count": week.sellers,
    }


def search_queries_text(ctx: Ctx) -> web.Response:
    """POST /v1/search-queries/text: market-wide queries containing `text`, as of the last complete week."""
    payload = ctx.payload if isinstance(ctx.payload, dict) else None
    if payload is None:
        raise ozon_bad("request body must be a JSON object")
    _unknown(payload, OZON_QUERY_FIELDS)
    text = payload.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ozon_bad("text: value is required")
    limit = _int64(payload, "limit", DEFAULT_QUERY_LIMIT, 1)
    offset = _int64(payload, "offset", 0, 0)
    sort_by, sort_dir = payload.get("sort_by", "CLIENT_COUNT"), payload.get("sort_dir", "DESC")
    if sort_by not in OZON_SORT_BY:
        raise ozon_bad(f"sort_by: value must be one of {', '.join(OZON_SORT_BY)}")
    if sort_dir not in ("ASC", "DESC"):
        raise ozon_bad("sort_dir: value must be ASC or DESC")
    needle = " ".join(text.lower().split())
    queries = [*related_queries(needle), *(q for q in registered(ctx.state, "ozon", numeric=False) if needle in q)]
    rows = [_query_row(ctx.state, query) for query in dict.fromkeys(queries)]
    rows.sort(key=lambda row: row[OZON_SORT_BY[sort_by]], reverse=sort_dir == "DESC")
    body = {"search_queries": rows[offset : offset + limit], "offset": str(offset), "total": str(len(rows))}
    return json_response(body)


@dataclass(frozen=True)
class DataRequest:
    date_from: date
    date_to: date
    metrics: list[str]
    dims: list[str]
    filters: list[tuple[str, str, Any]]
    sort: list[tuple[str, str]]
    limit: int
    offset: int


def _ozon_list(payload: Json, name: str) -> list[Any]:
    value = payload.get(name, [])
    if not isinstance(value, list):
        raise ozon_bad(f"{name}: value must be an array")
    return value


def _data_dims(payload: Json) -> list[str]:
    dims = _ozon_list(payload, "dimension")
    if not dims:
        raise ozon_bad("dimension: value must contain at least 1 item")
    known = (*OZON_TIME_DIMS, *OZON_CATEGORY_DIMS, *OZON_OTHER_DIMS)
    for dim in dims:
        if dim not in known:
            raise ozon_bad(f"dimension: unknown value {dim!r}")
        if dim in OZON_OTHER_DIMS:
            raise ozon_bad(f"sandbox: dimension {dim!r} is not simulated (day, week, month, year, category1..4 are)")
    if sum(d in OZON_TIME_DIMS for d in dims) > 1 or sum(d in OZON_CATEGORY_DIMS for d in dims) > 1:
        raise ozon_bad("sandbox: at most one time and one category dimension are simulated")
    return dims


def _data_filters(payload: Json, names: set[str]) -> list[tuple[str, str, Any]]:
    found = []
    for item in _ozon_list(payload, "filters"):
        item = as_dict(item)
        key, op, value = item.get("key"), item.get("op"), item.get("value")
        if key not in names or op not in OZON_OPS or value is None:
            raise ozon_bad("filters: each filter needs a key (a dimension or metric), op (EQ, GT, GTE, LT, LTE), value")
        found.append((key, op, value))
    return found


def _data_sort(payload: Json, names: set[str]) -> list[tuple[str, str]]:
    found = []
    for item in _ozon_list(payload, "sort"):
        item = as_dict(item)
        if item.get("key") not in names or item.get("order") not in ("ASC", "DESC"):
            raise ozon_bad("sort: each sort needs a key (a dimension or metric) and order ASC or DESC")
        found.append((item["key"], item["order"]))
    return found


def _data_request(payload: Json) -> DataRequest:
    _unknown(payload, OZON_DATA_FIELDS)
    date_from, date_to = parse_date(payload.get("date_from")), parse_date(payload.get("date_to"))
    if date_from is None or date_to is None:
        raise ozon_bad("date_from and date_to: values are required, as YYYY-MM-DD")
    if date_from > date_to:
        raise ozon_bad("date_from must not be later than date_to")
    metrics = _ozon_list(payload, "metrics")
    if not metrics or len(metrics) > OZON_MAX_METRICS:
        raise ozon_bad(f"metrics: value must contain 1 to {OZON_MAX_METRICS} items")
    unknown = [m for m in metrics if m not in OZON_METRICS]
    if unknown:
        raise ozon_bad(f"metrics: unknown value {unknown[0]!r}")
    dims = _data_dims(payload)
    limit = payload.get("limit")
    if not is_int(limit) or not 1 <= limit <= OZON_MAX_LIMIT:
        raise ozon_bad(f"limit: value must be from 1 to {OZON_MAX_LIMIT}")
    offset = payload.get("offset", 0)
    if not is_int(offset) or offset < 0:
        raise ozon_bad("offset: value must be a non-negative integer")
    names = {*dims, *metrics}
    return DataRequest(
        date_from, date_to, metrics, dims, _data_filters(payload, names), _data_sort(payload, names), limit, offset
    )


def ozon_categories(state: SandboxState, account: str) -> list[str]:
    """The seller's categories: the catalog's, its products', and the category keys registered for Ozon."""
    ids = [str(cat) for cat, _ in OZON_CATEGORIES]
    ids += [str(p.description_category_id) for p in state.ozon[account].values()]
    return list(dict.fromkeys([*ids, *registered(state, "ozon", numeric=True)]))


def _time_bucket(dim: str | None, day: date) -> tuple[str, str]:
    if dim == "day":
        return day.isoformat(), day.isoformat()
    if dim == "week":
        monday = monday_of(day)
        return monday.isoformat(), f"{monday.isoformat()} - {(monday + timedelta(days=6)).isoformat()}"
    if dim == "month":
        return day.strftime("%Y-%m"), day.strftime("%Y-%m")
    if dim == "year":
        return str(day.year), str(day.year)
    return "", ""


def _metric_values(sums: dict[str, float], metrics: list[str]) -> list[float]:
    orders, views, carts = sums.get("orders", 0.0), sums.get("views", 0.0), sums.get("to_cart", 0.0)
    known = {
        "revenue": round(sums.get("revenue", 0.0), 2),
        "ordered_units": orders,
        "hits_view_search": round(views * 0.7),
        "hits_view_pdp": round(views * 0.3),
        "hits_view": views,
        "hits_tocart_search": round(carts * 0.6),
        "hits_tocart_pdp": round(carts * 0.4),
        "hits_tocart": carts,
        "session_view_search": round(views * 0.5),
        "session_view_pdp": round(views * 0.2),
        "session_view": round(views * 0.6),
        "conv_tocart_search": round(100 * carts / views, 2) if views else 0.0,
        "conv_tocart_pdp": round(100 * carts / views, 2) if views else 0.0,
        "conv_tocart": round(100 * carts / views, 2) if views else 0.0,
        "returns": round(orders * 0.03),
        "cancellations": round(orders * 0.05),
        "delivered_units": round(orders * 0.9),
        "position_category": 0,
    }
    return [known[m] for m in metrics]


def _data_rows(state: SandboxState, account: str, request: DataRequest) -> list[Json]:
    time_dim = next((d for d in request.dims if d in OZON_TIME_DIMS), None)
    category_dim = next((d for d in request.dims if d in OZON_CATEGORY_DIMS), None)
    categories = ozon_categories(state, account)
    wanted = [str(v) for k, op, v in request.filters if k == category_dim and op == "EQ"]
    if wanted:
        categories = wanted
    grouped: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    names: dict[tuple[str, str], str] = {}
    for category in categories:
        weeks = weeks_of(state, "ozon", category)
        for day in days(request.date_from, request.date_to):
            values = day_values(weeks, category, day)
            if values is None:
                continue
            bucket, name = _time_bucket(time_dim, day)
            key = (category if category_dim else "", bucket)
            names[key] = name
            for metric, value in values.items():
                grouped[key][metric] += value
    rows = []
    for (category, bucket), sums in sorted(grouped.items()):
        dimensions = [
            {"id": category, "name": f"Категория {category}"}
            if dim in OZON_CATEGORY_DIMS
            else {"id": bucket, "name": names[(category, bucket)]}
            for dim in request.dims
        ]
        rows.append({"dimensions": dimensions, "metrics": _metric_values(sums, request.metrics)})
    return rows


def _value(row: Json, request: DataRequest, name: str) -> Any:
    if name in request.dims:
        return row["dimensions"][request.dims.index(name)]["id"]
    return row["metrics"][request.metrics.index(name)]


def _passes(row: Json, request: DataRequest) -> bool:
    for key, op, value in request.filters:
        have = _value(row, request, key)
        want: Any = str(value) if isinstance(have, str) else value
        if isinstance(have, int | float) and isinstance(want, str):
            try:
                want = float(want)
            except ValueError:
                return False
        if not OZON_OPS[op](have, want):
            return False
    return True


def analytics_data(ctx: Ctx) -> web.Response:
    """POST /v1/analytics/data: the seller's sales by the requested dimensions (the simulated seller has Premium
    Plus: category dimensions and the whole history are available)."""
    payload = ctx.payload if isinstance(ctx.payload, dict) else None
    if payload is None:
        raise ozon_bad("request body must be a JSON object")
    request = _data_request(payload)
    rows = [row for row in _data_rows(ctx.state, ctx.account.name, request) if _passes(row, request)]
    for key, order in reversed(request.sort):
        rows.sort(key=lambda row, key=key: _value(row, request, key), reverse=order == "DESC")
    totals = [round(sum(row["metrics"][i] for row in rows), 2) for i in range(len(request.metrics))]
    page = rows[request.offset : request.offset + request.limit]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return json_response({"result": {"data": page, "totals": totals}, "timestamp": stamp})


class OzonAnalyticsApi(OzonApi):
    routes = (
        Route("POST", "/v1/search-queries/text", search_queries_text, "ozon.global"),
        Route("POST", "/v1/analytics/data", analytics_data, "ozon.analytics_data"),
    )

    def admit(
        self, state: SandboxState, account: SandboxAccount, route: Route, call_payload: Any
    ) -> tuple[bool, BucketSnapshot]:
        """A method with its own limit also counts against the Client-Id's 50 requests a second."""
        if route.bucket != "ozon.global":
            granted, snap = state.limiter.consume(account.name, "ozon.global", state.config.rate_spec("ozon.global"))
            if not granted:
                return granted, snap
        return super().admit(state, account, route, call_payload)

    def skus(self, path: str, payload: Any) -> list[str]:
        text = as_dict(payload).get("text")
        return [text] if isinstance(text, str) else []


# ======================================================================================================================
# Yandex Market: asynchronous reports (research 3.6): generate -> info PENDING, PROCESSING, DONE -> file
# ======================================================================================================================

YM_GROUPINGS = ("CATEGORIES", "OFFERS")
YM_FORMATS = ("FILE", "CSV", "JSON")
YM_REPORT_FIELDS = {"businessId", "campaignId", "dateFrom", "dateTo", "grouping"}
YM_MAX_REPORT_DAYS = 400


def ym_bad(message: str) -> ApiError:
    return ApiError(ym_error(400, "BAD_REQUEST", message))


def _ym_report_request(ctx: Ctx) -> tuple[date, date, str]:
    fmt = ctx.request.query.get("format", "FILE")
    if fmt not in YM_FORMATS:
        raise ym_bad(f"format must be one of {', '.join(YM_FORMATS)}")
    if fmt != "JSON":
        raise ym_bad("sandbox: only format=JSON reports are simulated")
    payload = ctx.payload if isinstance(ctx.payload, dict) else None
    if payload is None:
        raise ym_bad("Request body must be a JSON object")
    extra = sorted(set(payload) - YM_REPORT_FIELDS)
    if extra:
        raise ym_bad(f"Unknown field {extra[0]!r}")
    if ("businessId" in payload) == ("campaignId" in payload):
        raise ym_bad("Either businessId or campaignId must be set, not both")
    if "campaignId" in payload:
        raise ApiError(ym_error(403, "FORBIDDEN", f"Access to campaignId {payload['campaignId']} is denied"))
    if not is_int(payload["businessId"]):
        raise ym_bad("businessId must be an integer")
    if payload["businessId"] != ctx.account.ym_business_id:
        raise ApiError(ym_error(403, "FORBIDDEN", f"Access to businessId {payload['businessId']} is denied"))
    date_from, date_to = parse_date(payload.get("dateFrom")), parse_date(payload.get("dateTo"))
    if date_from is None or date_to is None:
        raise ym_bad("dateFrom and dateTo are required, as YYYY-MM-DD")
    if date_from > date_to:
        raise ym_bad("dateFrom must not be later than dateTo")
    if (date_to - date_from).days + 1 > YM_MAX_REPORT_DAYS:
        raise ym_bad(f"The report period must not exceed {YM_MAX_REPORT_DAYS} days")
    grouping = payload.get("grouping")
    if grouping not in YM_GROUPINGS:
        raise ym_bad(f"grouping must be one of {', '.join(YM_GROUPINGS)}")
    return date_from, date_to, grouping


def _generation_s(state: SandboxState) -> float:
    return 2 * state.config.apply_delay_s


def generate_shows_sales(ctx: Ctx) -> web.Response:
    """POST /v2/reports/shows-sales/generate: starts a report; GET /v2/reports/info/{reportId} follows it."""
    date_from, date_to, grouping = _ym_report_request(ctx)
    report = YmReport(
        report_id=uuid.uuid4().hex,
        business_id=ctx.account.ym_business_id,
        date_from=date_from,
        date_to=date_to,
        grouping=grouping,
        requested=time.monotonic(),
        requested_at=_now_iso(),
    )
    store(ctx.state).reports[report.report_id] = report
    estimate = round(_generation_s(ctx.state) * 1000)
    return json_response(
        {"status": "OK", "result": {"reportId": report.report_id, "estimatedGenerationTime": estimate}}
    )


def _now_iso(offset_s: float = 0.0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset_s)).isoformat(timespec="seconds").replace("+00:00", "Z")


def ym_categories(state: SandboxState, account: str) -> list[int]:
    """The seller's categories: the catalog's, its offers', and the category keys registered for YM."""
    ids = [*YM_CATEGORIES, *(o.market_category_id for o in state.ym[account].values())]
    ids += [int(k) for k in registered(state, "ym", numeric=True)]
    return list(dict.fromkeys(ids))


def _report_row(weeks: tuple[Week, ...], key: str, monday: date, report: YmReport) -> Json | None:
    start, end = max(monday, report.date_from), min(monday + timedelta(days=6), report.date_to)
    sums = sum_days(weeks, key, start, end)
    if not sums:
        return None
    orders, views = int(sums["orders"]), int(sums["views"])
    return {
        "week": monday.isoformat(),
        "dateFrom": start.isoformat(),
        "dateTo": end.isoformat(),
        "shows": views,
        "clicks": round(views * 0.2),
        "toCart": int(sums["to_cart"]),
        "orderedItems": orders,
        "orderedSum": round(sums["revenue"], 2),
        "averagePrice": round(sums["revenue"] / orders, 2) if orders else 0.0,
    }


def _report_rows(state: SandboxState, account: str, report: YmReport) -> list[Json]:
    mondays = []
    monday = monday_of(report.date_from)
    while monday <= report.date_to:
        mondays.append(monday)
        monday += timedelta(weeks=1)
    rows = []
    for category in ym_categories(state, account):
        key = str(category)
        weeks = weeks_of(state, "ym", key)
        offers = sorted(o.offer_id for o in state.ym[account].values() if o.market_category_id == category)
        for monday in mondays:
            row = _report_row(weeks, key, monday, report)
            if row is None:
                continue
            if report.grouping == "CATEGORIES":
                rows.append({"categoryId": category, "categoryName": f"Категория {category}", **row})
                continue
            rows += _offer_rows(category, offers, row)
    return rows


def _offer_rows(category: int, offers: list[str], row: Json) -> list[Json]:
    if not offers:
        return []
    weights = [1 / len(offers)] * len(offers)
    found = []
    for index, offer in enumerate(offers):
        items = _share(row["orderedItems"], weights, index)
        value = {**row, "orderedItems": items, "orderedSum": round(items * row["averagePrice"], 2)}
        found.append({"offerId": offer, "categoryId": category, **value})
    return found


def _account_of(state: SandboxState, business_id: int) -> str | None:
    return next((a.name for a in state.accounts.by_name.values() if a.ym_business_id == business_id), None)


def report_info(ctx: Ctx) -> web.Response:
    report = store(ctx.state).reports.get(ctx.request.match_info["reportId"])
    if report is None or report.business_id != ctx.account.ym_business_id:
        return ym_error(404, "NOT_FOUND", "Report not found")
    elapsed, step = time.monotonic() - report.requested, _generation_s(ctx.state) / 2
    estimate = max(0, round((2 * step - elapsed) * 1000))
    result: Json = {"generationRequestedAt": report.requested_at, "estimatedGenerationTime": estimate}
    if elapsed < step:
        result["status"] = "PENDING"
    elif elapsed < 2 * step:
        result["status"] = "PROCESSING"
    else:
        result.update(status="DONE", generationFinishedAt=_now_iso(2 * step - elapsed))
        if _report_rows(ctx.state, ctx.account.name, report):
            origin = f"{ctx.request.scheme}://{ctx.request.host}"
            result["file"] = f"{origin}{REPORT_FILES}/{report.report_id}/{report.token}.json"
        else:
            result["subStatus"] = "NO_DATA"
    return json_response({"status": "OK", "result": result})


async def report_file(request: web.Request) -> web.Response:
    """The report's download link: time-limited, no credentials (like a storage URL)."""
    state = request.app[STATE_KEY]
    report = store(state).reports.get(request.match_info["reportId"])
    done_at = report.requested + _generation_s(state) if report is not None else 0.0
    fresh = report is not None and done_at <= time.monotonic() < done_at + REPORT_FILE_TTL_S
    if report is None or not fresh or request.match_info["token"] != report.token:
        return web.Response(status=404, text="Not Found")
    account = _account_of(state, report.business_id)
    rows = _report_rows(state, account, report) if account is not None else []
    body = {
        "reportType": "SHOWS_SALES",
        "grouping": report.grouping,
        "dateFrom": report.date_from.isoformat(),
        "dateTo": report.date_to.isoformat(),
        "currency": "RUR",
        "rows": rows,
    }
    return json_response(body)


class YmReportsApi(YandexMarketApi):
    routes = (
        Route("POST", "/v2/reports/shows-sales/generate", generate_shows_sales, "ym.reports_shows_sales"),
        Route("GET", "/v2/reports/info/{reportId}", report_info, "ym.reports_info"),
    )

    def skus(self, path: str, payload: Any) -> list[str]:
        return []


ANALYTICS_APIS: tuple[Callable[[], Any], ...] = (WbAnalyticsApi, OzonAnalyticsApi, YmReportsApi)


def add_report_file_routes(app: web.Application) -> None:
    app.router.add_get(REPORT_FILES + "/{reportId}/{token}.json", report_file)


# ======================================================================================================================
# Control: POST /__sandbox/trends sets a key's shape; GET /__sandbox/trends?marketplace=&key= reads its series
# ======================================================================================================================


def _control_error(message: str, status: int = 400) -> web.Response:
    return json_response({"error": message}, status=status)


async def set_trend(request: web.Request) -> web.Response:
    try:
        payload = await request.json()
    except ValueError:
        return _control_error("request body is not valid JSON")
    payload = as_dict(payload)
    marketplace, key, shape = payload.get("marketplace"), payload.get("key"), payload.get("shape")
    level = payload.get("level")
    if marketplace not in MARKETPLACES or not isinstance(key, str) or not key.strip():
        return _control_error("marketplace (wb, ozon, ym) and key (a category id or a search query) are required")
    if shape not in SHAPES:
        return _control_error(f"shape must be one of {', '.join(SHAPES)}")
    if level is not None and (not isinstance(level, int | float) or isinstance(level, bool) or level <= 0):
        return _control_error("level must be a positive number (weekly orders of the latest week)")
    key = key.strip() if key.strip().isdecimal() else " ".join(key.lower().split())
    chosen = Shape(shape=shape, level=float(level) if level else default_shape(marketplace, key).level)
    store(request.app[STATE_KEY]).shapes[(marketplace, key)] = chosen
    return json_response({"marketplace": marketplace, "key": key, "shape": chosen.shape, "level": chosen.level})


async def get_trend(request: web.Request) -> web.Response:
    marketplace, key = request.query.get("marketplace"), request.query.get("key", "")
    if marketplace not in MARKETPLACES or not key.strip():
        return _control_error("query parameters marketplace and key are required")
    key = key.strip() if key.strip().isdecimal() else " ".join(key.lower().split())
    state = request.app[STATE_KEY]
    chosen = store(state).shapes.get((marketplace, key)) or default_shape(marketplace, key)
    weeks = [
        {
            "week": w.monday.isoformat(),
            "orders": w.orders,
            "searches": w.searches,
            "revenue": w.revenue,
            "avg_price": w.avg_price,
            "sellers": w.sellers,
            "new_sellers": w.new_sellers,
            "top_shares": list(w.top_shares),
            "promo": w.promo,
        }
        for w in weeks_of(state, marketplace, key)
    ]
    body = {"marketplace": marketplace, "key": key, "shape": chosen.shape, "level": chosen.level, "weeks": weeks}
    return json_response(body)
