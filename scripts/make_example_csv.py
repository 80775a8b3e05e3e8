"""Writes examples/scout_trends.csv: three niches' weekly history as an analytics service would export it."""

import csv
import sys
from datetime import date
from pathlib import Path

from adolf.scout.synthetic import Shape, weekly_series

NICHES = [
    (
        "Кофе в зёрнах",
        "ozon",
        Shape(
            level=2400,
            growth=0.35,
            season=0.25,
            peak_week=50,
            sellers=340,
            hhi=650,
            price=1190,
            sellers_growth=0.05,
            promo_every=13,
        ),
        11,
    ),
    (
        "Термосы",
        "wb",
        Shape(level=1800, growth=0.05, season=0.55, peak_week=2, sellers=210, hhi=1400, price=1650, promo_every=17),
        12,
    ),
    (
        "Чайные пары",
        "ym",
        Shape(
            level=700, growth=-0.08, season=0.15, peak_week=10, sellers=95, hhi=3100, price=2100, sellers_growth=0.02
        ),
        13,
    ),
]
COLUMNS = [
    "niche",
    "marketplace",
    "week",
    "orders",
    "search_volume",
    "revenue",
    "avg_price",
    "sellers",
    "new_sellers",
    "top10_share",
    "hhi",
]

out = Path(sys.argv[1] if len(sys.argv) > 1 else "examples/scout_trends.csv")
with out.open("w", newline="", encoding="utf-8") as file:
    writer = csv.writer(file)
    writer.writerow(COLUMNS)
    for name, marketplace, shape, seed in NICHES:
        for p in weekly_series(shape, weeks=130, last_week=date(2026, 11, 23), seed=seed):
            writer.writerow(
                [
                    name,
                    marketplace,
                    p.week.isoformat(),
                    p.orders,
                    p.search_volume,
                    p.revenue,
                    p.avg_price,
                    p.sellers,
                    p.new_sellers,
                    p.top10_share,
                    p.hhi,
                ]
            )
print(out)
