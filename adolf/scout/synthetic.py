"""Weekly niche series with known properties, for the example CSV, benchmarks and tests: a level, a yearly trend,
a 52-week season, noise, occasional promotions, and sellers entering and leaving."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta

from adolf.models.scout import TrendPoint, monday_of


@dataclass(frozen=True)
class Shape:
    level: float = 1000.0  # mean weekly orders at the start
    growth: float = 0.0  # per year, as a fraction (0.4 = +40 % a year)
    season: float = 0.3  # amplitude of the 52-week season, fraction of the level
    peak_week: int = 48  # ISO week of the season's peak
    noise: float = 0.05  # fraction of the level
    promo_every: int = 0  # a promotion week every N weeks (0: none)
    sellers: int = 120
    sellers_growth: float = 0.0  # per year, fraction
    hhi: float = 900.0  # concentration, 0..10000
    price: float = 1500.0


def weekly_series(shape: Shape, *, weeks: int, last_week: date, seed: int = 1) -> list[TrendPoint]:
    rng = random.Random(seed)
    last = monday_of(last_week)
    points = []
    sellers = float(shape.sellers)
    for index in range(weeks):
        week = last - timedelta(weeks=weeks - 1 - index)
        years = index / 52.0
        iso_week = week.isocalendar().week
        season = 1 + shape.season * math.cos(2 * math.pi * (iso_week - shape.peak_week) / 52.0)
        trend = (1 + shape.growth) ** years
        promo = 1.35 if shape.promo_every and index % shape.promo_every == shape.promo_every - 1 else 1.0
        orders = max(0.0, shape.level * trend * season * promo + rng.gauss(0, shape.noise * shape.level))
        previous = sellers
        sellers = max(1.0, shape.sellers * (1 + shape.sellers_growth) ** years + rng.gauss(0, 1.5))
        new_sellers = max(0, round(sellers - previous + abs(rng.gauss(0, 2))))
        price = shape.price * (1 + rng.gauss(0, 0.02))
        hhi = min(10_000.0, max(0.0, shape.hhi + rng.gauss(0, shape.hhi * 0.03)))
        points.append(
            TrendPoint(
                week=week,
                orders=round(orders),
                search_volume=round(orders * 9.5),
                revenue=round(orders * price, 2),
                avg_price=round(price, 2),
                sellers=round(sellers),
                new_sellers=new_sellers,
                top10_share=round(min(1.0, math.sqrt(hhi / 10_000) * 1.6), 4),
                hhi=round(hhi, 1),
            )
        )
    return points
