"""Deterministic weekly market series for the simulator's analytics endpoints (adolf/sandbox/analytics.py).

One series per (marketplace, key), the key being a category id or a search query. Everything is derived from a hash
of the pair, so the same niche reads the same on every run, on every machine: a level, a trend (rising, flat or
falling, picked by the hash unless the control API sets a shape), a 52-week seasonality, noise, occasional promotion
spikes, sellers entering and leaving, and the top sellers' shares drifting. A series spans HISTORY_WEEKS weeks up to
the last complete ISO week (relative to the real current date); days are the week split by weekday weights.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from adolf.models.scout import last_complete_monday

HISTORY_WEEKS = 156
SHAPES = ("rising", "flat", "falling", "seasonal")
HASHED_SHAPES = ("rising", "flat", "falling")
ANNUAL_GROWTH = {"rising": 1.45, "flat": 1.0, "falling": 0.65, "seasonal": 1.0}
TOP_SELLERS = 10
WEEKDAY_WEIGHTS = (1.0, 1.0, 0.98, 0.97, 0.95, 1.05, 1.08)
QUERY_SUFFIXES = (
    "купить",
    "для дома",
    "набор",
    "большой",
    "детский",
    "недорого",
    "белый",
    "черный",
    "подарочный",
    "2 шт",
    "с доставкой",
    "оптом",
)


@dataclass(frozen=True)
class Shape:
    """What the control API may set for a key: the trend's shape and the weekly orders of the latest week (before
    seasonality, promotions and noise)."""

    shape: str
    level: float


@dataclass(frozen=True)
class Week:
    monday: date
    orders: int
    searches: int  # buyers who searched (Ozon client_count, WB weekFrequency)
    views: int
    add_to_cart: int
    avg_price: float
    sellers: int
    new_sellers: int
    top_shares: tuple[float, ...]  # the top sellers' sales shares, largest first
    promo: bool

    @property
    def revenue(self) -> float:
        return round(self.orders * self.avg_price, 2)


def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8], "big")


def default_shape(marketplace: str, key: str) -> Shape:
    rng = random.Random(_seed("shape", marketplace, key))
    shape = HASHED_SHAPES[_seed("pick", marketplace, key) % len(HASHED_SHAPES)]
    return Shape(shape=shape, level=round(300 * 2 ** rng.uniform(0, 4)))


def series(marketplace: str, key: str, shape: Shape | None = None, today: date | None = None) -> tuple[Week, ...]:
    """The key's weekly series, oldest first, ending with the last complete week."""
    return _series(marketplace, key, shape or default_shape(marketplace, key), last_complete_monday(today))


def week_at(weeks: tuple[Week, ...], monday: date) -> Week | None:
    if not weeks:
        return None
    index = (monday - weeks[0].monday).days // 7
    return weeks[index] if 0 <= index < len(weeks) and weeks[index].monday == monday else None


def split_week(total: int, key: str, monday: date) -> list[int]:
    """A weekly count split into its seven days (they add up to `total`)."""
    return _split(total, _day_shares(key, monday))


@lru_cache(maxsize=4096)
def _day_shares(key: str, monday: date) -> tuple[float, ...]:
    rng = random.Random(_seed("days", key, monday.isoformat()))
    raw = [w * rng.uniform(0.9, 1.1) for w in WEEKDAY_WEIGHTS]
    total = sum(raw)
    return tuple(w / total for w in raw)


def _split(total: int, shares: tuple[float, ...]) -> list[int]:
    exact = [total * s for s in shares]
    parts = [math.floor(x) for x in exact]
    order = sorted(range(len(exact)), key=lambda i: exact[i] - parts[i], reverse=True)
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def related_queries(text: str, limit: int = 12) -> list[str]:
    """Search queries containing `text` (Ozon's /v1/search-queries/text): the text itself and a few longer ones."""
    base = " ".join(text.lower().split())
    if not base:
        return []
    rng = random.Random(_seed("related", base))
    suffixes = rng.sample(QUERY_SUFFIXES, rng.randint(4, 8))
    return [base, *(f"{base} {suffix}" for suffix in suffixes)][:limit]


@lru_cache(maxsize=512)
def _series(marketplace: str, key: str, shape: Shape, last_monday: date) -> tuple[Week, ...]:
    rng = random.Random(_seed("series", marketplace, key))
    first = last_monday - timedelta(weeks=HISTORY_WEEKS - 1)
    growth = ANNUAL_GROWTH.get(shape.shape, 1.0)
    amplitude = 0.6 if shape.shape == "seasonal" else rng.uniform(0.12, 0.3)
    peak = rng.randint(1, 52)
    search_ratio = rng.uniform(8, 20)
    view_ratio = rng.uniform(3, 6)
    base_price = round(250 * 2 ** rng.uniform(0, 4.5), 2)
    base_sellers = max(5.0, shape.level**0.6 * rng.uniform(0.8, 2.5))
    churn = rng.uniform(0.015, 0.03)
    top_total = rng.uniform(0.35, 0.7)
    zipf = rng.uniform(0.7, 1.3)
    weights = [1 / (i + 1) ** zipf for i in range(TOP_SELLERS)]
    sellers = base_sellers * (growth ** ((1 - HISTORY_WEEKS) / 52)) ** 0.8
    smoothed = None
    weeks: list[Week] = []
    for t in range(HISTORY_WEEKS):
        monday = first + timedelta(weeks=t)
        iso_week = monday.isocalendar().week
        trend = growth ** ((t - (HISTORY_WEEKS - 1)) / 52)
        season = 1 + amplitude * math.cos(2 * math.pi * (min(iso_week, 52) - peak) / 52)
        season += 0.05 * math.cos(4 * math.pi * (min(iso_week, 52) - peak) / 52)
        promo = rng.random() < 0.05 or iso_week == 46  # random promotions plus the 11.11 sale week
        lift = rng.uniform(1.3, 1.9) if promo else 1.0
        noise = math.exp(rng.gauss(0, 0.06))
        demand = shape.level * trend * max(0.05, season) * lift * noise
        orders = max(0, round(demand))
        searches = max(0, round(demand / lift * search_ratio * math.exp(rng.gauss(0, 0.05))))
        views = round(searches * view_ratio * math.exp(rng.gauss(0, 0.04)))
        add_to_cart = round(orders * rng.uniform(1.6, 2.2))
        inflation = 1.08 ** ((t - (HISTORY_WEEKS - 1)) / 52)
        price = round(base_price * inflation * (0.85 if promo else 1.0) * math.exp(rng.gauss(0, 0.03)), 2)
        smoothed = demand / lift if smoothed is None else 0.9 * smoothed + 0.1 * demand / lift
        target = base_sellers * (smoothed / shape.level) ** 0.8
        previous = sellers
        sellers = max(3.0, 0.92 * sellers + 0.08 * target + rng.gauss(0, 0.01 * sellers))
        leaving = round(previous * churn * rng.uniform(0.5, 1.5))
        new = max(0, round(sellers - previous) + leaving)
        weights = [w * math.exp(rng.gauss(0, 0.03)) for w in weights]
        top_total = min(0.85, max(0.2, top_total + rng.gauss(0, 0.005) - 0.002 * (new - leaving) / max(1, sellers)))
        count = min(TOP_SELLERS, round(sellers))
        chosen = sorted(weights[:count], reverse=True)
        shares = tuple(round(top_total * w / sum(chosen), 4) for w in chosen)
        weeks.append(
            Week(
                monday=monday,
                orders=orders,
                searches=searches,
                views=views,
                add_to_cart=add_to_cart,
                avg_price=price,
                sellers=round(sellers),
                new_sellers=new,
                top_shares=shares,
                promo=promo,
            )
        )
    return tuple(weeks)
