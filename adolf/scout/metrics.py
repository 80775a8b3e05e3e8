"""A niche's demand, competition and unit economics from its weekly series (pure; warnings in Russian).

Demand: level = mean of the last 13 weeks; growth = last 13 weeks against the same 13 weeks a year earlier (None with
fewer than 65 weeks); recent_growth = last 13 against the 13 before them; seasonality strength from an STL
decomposition (period 52, only with >= 104 weeks): max(0, 1 - var(remainder) / var(seasonal + remainder)), and the
ISO week of the seasonal peak. The season is taken as periodic (the same every year: two or three years cannot tell
a changing season from noise) and the strength is corrected for the few seasons (see `seasonality`).
Competition: the latest known sellers, HHI and top-10 share; new sellers summed over the last 13 weeks, their rate per
seller, demand per seller.
Economics: price = the planned price, else the mean avg_price of the last 4 weeks that have one (else revenue/orders);
unit margin = price - cost - commission x price - logistics; None without cost.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import date

import numpy as np
from statsmodels.tsa.seasonal import STL

from adolf.models.scout import SEASON_WEEKS, AnalysisParams, Competition, Demand, Economics, TrendPoint

QUARTER = 13
PRICE_WEEKS = 4
PERIODIC = 999  # an STL seasonal window this wide keeps the season the same from year to year


def _growth(recent: np.ndarray, before: np.ndarray) -> float | None:
    base = float(np.mean(before))
    if base <= 0:
        return None
    return round(float(np.mean(recent)) / base - 1.0, 4)


def seasonality(y: np.ndarray, weeks: Sequence[date]) -> tuple[float | None, int | None]:
    """(STL seasonality strength 0..1, ISO week of the seasonal peak); (None, None) with fewer than 104 weeks."""
    if len(y) < 2 * SEASON_WEEKS:
        return None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = STL(np.asarray(y, dtype=float), period=SEASON_WEEKS, seasonal=PERIODIC, seasonal_deg=0).fit()
    seasonal, remainder = np.asarray(fit.seasonal), np.asarray(fit.resid)
    # With k seasons, a season fitted to pure noise takes ~1/k of its variance: without the correction white noise
    # shows a "strength" of ~0.5 at 104 weeks. Corrected: noise var(R) k/(k-1), season var(S) - var(R)/(k-1).
    k = len(y) / SEASON_WEEKS
    noise = float(np.var(remainder)) * k / (k - 1)
    season = max(0.0, float(np.var(seasonal)) - float(np.var(remainder)) / (k - 1))
    strength = 0.0 if season + noise <= 0 else max(0.0, 1.0 - noise / (season + noise))
    last_season = seasonal[-SEASON_WEEKS:]
    peak = weeks[len(y) - SEASON_WEEKS + int(np.argmax(last_season))]
    return round(min(1.0, strength), 4), peak.isocalendar().week


def demand_metrics(y: np.ndarray, weeks: Sequence[date], measure: str, notes: list[str] | None = None) -> Demand:
    """y: weekly demand without gaps (oldest first), weeks: their Mondays."""
    notes = notes if notes is not None else []
    y = np.asarray(y, dtype=float)
    n = len(y)
    level = float(np.mean(y[-QUARTER:]))
    growth = None
    if n >= SEASON_WEEKS + QUARTER:
        growth = _growth(y[-QUARTER:], y[-SEASON_WEEKS - QUARTER : -SEASON_WEEKS])
        if growth is None:
            notes.append("Год назад спроса не было — рост к прошлому году не рассчитан.")
    else:
        notes.append(
            f"История {n} нед. — меньше {SEASON_WEEKS + QUARTER}: рост к тому же периоду прошлого года не рассчитан."
        )
    recent_growth = _growth(y[-QUARTER:], y[-2 * QUARTER : -QUARTER]) if n >= 2 * QUARTER else None
    strength, peak = seasonality(y, weeks)
    return Demand(
        level=round(level, 3),
        measure=measure,
        growth=growth,
        recent_growth=recent_growth,
        seasonality_strength=strength,
        peak_week_of_year=peak,
    )


def _latest(values: Sequence[float | int | None]) -> float | int | None:
    return next((v for v in reversed(values) if v is not None), None)


def competition_metrics(
    points: Sequence[TrendPoint], demand_level: float, notes: list[str] | None = None
) -> Competition:
    """points sorted by week."""
    notes = notes if notes is not None else []
    sellers = _latest([p.sellers for p in points])
    hhi = _latest([p.hhi for p in points])
    top10 = _latest([p.top10_share for p in points])
    last_week = points[-1].week if points else None
    recent = [p.new_sellers for p in points if last_week is not None and (last_week - p.week).days < QUARTER * 7]
    known = [v for v in recent if v is not None]
    new_sellers = int(sum(known)) if known else None
    if sellers is None:
        notes.append("Нет данных о числе продавцов — конкуренция оценена неполно.")
    if hhi is None and top10 is None:
        notes.append("Нет данных о долях продавцов (HHI, доля топ-10) — концентрация рынка не оценена.")
    if new_sellers is None:
        notes.append("Нет данных о новых продавцах — вход в нишу не оценён.")
    rate = round(new_sellers / sellers, 4) if new_sellers is not None and sellers else None
    per_seller = round(demand_level / sellers, 3) if sellers else None
    return Competition(
        sellers=int(sellers) if sellers is not None else None,
        hhi=round(float(hhi), 1) if hhi is not None else None,
        top10_share=round(float(top10), 4) if top10 is not None else None,
        new_sellers=new_sellers,
        new_seller_rate=rate,
        demand_per_seller=per_seller,
    )


def market_price(points: Sequence[TrendPoint]) -> float | None:
    """Mean avg_price of the last 4 weeks that have one; else revenue / orders of the last 4 weeks that have both."""
    prices = [p.avg_price for p in points if p.avg_price is not None and p.avg_price > 0][-PRICE_WEEKS:]
    if prices:
        return float(np.mean(prices))
    pairs = [(p.revenue, p.orders) for p in points if p.revenue is not None and p.orders][-PRICE_WEEKS:]
    if pairs:
        return sum(r for r, _ in pairs) / sum(o for _, o in pairs)
    return None


def economics(points: Sequence[TrendPoint], params: AnalysisParams, notes: list[str] | None = None) -> Economics:
    notes = notes if notes is not None else []
    price = params.price if params.price is not None else market_price(points)
    if price is None:
        notes.append("Нет цены: ни плановой в параметрах, ни средней цены ниши — маржа не рассчитана.")
    elif params.price is None:
        notes.append(f"Цена не задана — взята средняя цена ниши за последние недели: {price:,.0f} ₽.".replace(",", " "))
    if params.cost is None:
        notes.append("Себестоимость не задана — маржа не рассчитана и не входит в оценку.")
    unit_margin = margin_rate = None
    if price is not None and params.cost is not None:
        unit_margin = price - params.cost - params.commission * price - params.logistics
        margin_rate = round(unit_margin / price, 4)
        unit_margin = round(unit_margin, 2)
    return Economics(
        price=round(price, 2) if price is not None else None,
        cost=params.cost,
        commission=params.commission,
        logistics=params.logistics,
        unit_margin=unit_margin,
        margin_rate=margin_rate,
    )
