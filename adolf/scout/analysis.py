"""analyze_niche's numeric work (SPEC section 5): a niche's weekly points in, an AnalysisResult out.

Pure and synchronous: it runs in Scout's process pool, whose initializer imports this module so that statsforecast
(imported by `forecasting`) is loaded once per process, before the first analysis.

Demand measure: orders when at least 26 weeks have them, else search volume (what Ozon's market-wide query analytics
gives) - one measure for the whole series, never a mix. Weeks without a value between the first and the last known
week are filled by linear interpolation (and the result says how many).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np

from adolf.models.scout import (
    AnalysisParams,
    AnalysisResult,
    HistoryPoint,
    NicheRef,
    Opportunity,
    OpportunityScore,
    SegmentPoint,
    TrendPoint,
    last_complete_monday,
)
from adolf.scout.forecasting import forecast_demand
from adolf.scout.metrics import competition_metrics, demand_metrics, economics
from adolf.scout.scoring import find_opportunities, opportunity_score

MIN_WEEKS = 26
MAX_WEEKS = 520  # ten years: older weeks say little of next quarter's demand and would only slow the fits
MEASURES = {"orders": "заказы", "search_volume": "поисковые запросы"}


class InsufficientData(ValueError):
    """Too few weeks of demand to analyse a niche."""

    def __init__(self, weeks: int, needed: int = MIN_WEEKS) -> None:
        self.weeks = weeks
        self.needed = needed
        super().__init__(
            f"Недостаточно данных: {weeks} нед. спроса, нужно не меньше {needed}. "
            f"(Insufficient data: {weeks} weeks of demand, at least {needed} are needed.)"
        )

    def __reduce__(self) -> tuple[type[InsufficientData], tuple[int, int]]:
        return type(self), (self.weeks, self.needed)  # it crosses the process pool's boundary pickled


class Series:
    """A niche's weekly demand without gaps, and what was done to get it."""

    def __init__(self, points: list[TrendPoint], weeks: list[date], y: np.ndarray, measure: str, notes: list[str]):
        self.points = points  # sorted by week, one per week
        self.weeks = weeks
        self.y = y
        self.measure = measure
        self.notes = notes


def _value(point: TrendPoint, measure: str) -> int | None:
    return point.orders if measure == "orders" else point.search_volume


def _dedupe(points: Sequence[TrendPoint], notes: list[str]) -> list[TrendPoint]:
    by_week: dict[date, TrendPoint] = {}
    for point in sorted(points, key=lambda p: p.week):
        by_week[point.week] = point  # the later of two points of the same week wins
    if len(by_week) < len(points):
        notes.append(f"Повторы недель в данных: {len(points) - len(by_week)} — взяты последние значения.")
    return list(by_week.values())


def prepare(points: Sequence[TrendPoint]) -> Series:
    """Sort, pick the demand measure, fill the gaps. Raises InsufficientData with fewer than 26 weeks of demand."""
    notes: list[str] = []
    latest = last_complete_monday()
    future = [p for p in points if p.week > latest]
    if future:
        notes.append(f"Недели после последней завершённой ({latest.isoformat()}) не учтены: {len(future)} нед.")
        points = [p for p in points if p.week <= latest]
    ordered = _dedupe(points, notes)
    if ordered and (ordered[-1].week - ordered[0].week).days // 7 >= MAX_WEEKS:
        first_kept = ordered[-1].week - timedelta(weeks=MAX_WEEKS - 1)
        notes.append(f"Взяты последние {MAX_WEEKS} недель истории (с {first_kept.isoformat()}).")
        ordered = [p for p in ordered if p.week >= first_kept]
    orders = sum(p.orders is not None for p in ordered)
    searches = sum(p.search_volume is not None for p in ordered)
    measure = "orders" if orders >= MIN_WEEKS or orders >= searches else "search_volume"
    known = {p.week: float(v) for p in ordered if (v := _value(p, measure)) is not None}
    if len(known) < MIN_WEEKS:
        raise InsufficientData(len(known))
    if measure == "search_volume":
        notes.append("Заказов в данных нет — спрос измерен числом поисковых запросов.")
    elif searches > orders:
        notes.append(f"Спрос измерен заказами; {searches - orders} нед. только с поисковыми запросами не смешивались.")
    first, last = min(known), max(known)
    weeks = [first + timedelta(weeks=k) for k in range((last - first).days // 7 + 1)]
    missing = len(weeks) - len(known)
    if missing:
        x = np.array([(w - first).days // 7 for w in known], dtype=float)
        y = np.interp(np.arange(len(weeks), dtype=float), x, np.array(list(known.values())))
        share = missing / len(weeks)
        notes.append(
            f"Пропущено {missing} нед. спроса из {len(weeks)} ({share * 100:.0f} %) — заполнены линейной интерполяцией."
            + (" Пропусков много, выводы менее надёжны." if share > 0.2 else "")
        )
    else:
        y = np.array([known[w] for w in weeks])
    outside = sum(p.week < first or p.week > last for p in ordered)
    if outside:
        notes.append(f"{outside} нед. без спроса в начале или конце ряда не вошли в анализ спроса.")
    return Series(ordered, weeks, y, measure, notes)


def tame_outliers(y: np.ndarray, window: int = 9) -> tuple[np.ndarray, list[int]]:
    """Weeks whose demand is more than double the level of their neighbourhood (and far outside its usual noise), with
    no such spike a year before or after, replaced by their neighbourhood's median: one bad week (an export with three
    extra zeros) must not become next year's forecast. A spike that recurs yearly is season, and stays."""
    n = len(y)
    if n < window:
        return y, []
    half = window // 2
    padded = np.pad(y, half, mode="edge")
    level = np.array([np.median(padded[i : i + window]) for i in range(n)])
    excess = y - level
    noise = 1.4826 * float(np.median(np.abs(excess - np.median(excess))))
    spike = np.abs(excess) > np.maximum(8 * noise, np.abs(level) + 1)
    recurring = np.zeros(n, dtype=bool)
    for lag in (-52, 52):
        for i in np.flatnonzero(spike):
            j = i + lag
            if 0 <= j < n and abs(excess[j]) > 0.5 * abs(excess[i]):
                recurring[i] = True
    outliers = [int(i) for i in np.flatnonzero(spike & ~recurring)]
    tamed = y.copy()
    tamed[outliers] = level[outliers]
    return tamed, outliers


def analyze(
    niche: NicheRef, points: list[TrendPoint], segments: list[SegmentPoint], params: AnalysisParams
) -> AnalysisResult:
    series = prepare(points)
    notes = list(series.notes)
    y, outliers = tame_outliers(series.y)
    if outliers:
        weeks = ", ".join(series.weeks[i].isoformat() for i in outliers[:5])
        notes.append(
            f"Выбросы спроса ({len(outliers)} нед.: {weeks}) заменены медианой соседних недель в прогнозе и метриках."
        )
    outcome = forecast_demand(y, series.weeks[-1], params.horizon_weeks, params.backtest_folds)
    notes.extend(outcome.warnings)
    demand = demand_metrics(y, series.weeks, series.measure, notes)
    competition = competition_metrics(series.points, demand.level, notes)
    money = economics(series.points, params, notes)
    return AnalysisResult(
        niche_id=niche.id,
        niche_name=niche.name,
        marketplace=niche.marketplace,
        weeks=len(series.weeks),
        first_week=series.weeks[0],
        last_week=series.weeks[-1],
        warnings=notes,
        history=[HistoryPoint(week=w, demand=float(v)) for w, v in zip(series.weeks, series.y, strict=True)],
        demand=demand,
        forecast=outcome.forecast,
        backtest=outcome.backtest,
        competition=competition,
        economics=money,
        score=opportunity_score(demand, competition, money),
        opportunities=find_opportunities(
            series.points, segments, demand, competition, queries=niche.queries, niche_name=niche.name
        ),
    )


def score_only(points: list[TrendPoint], params: AnalysisParams | None = None) -> OpportunityScore:
    """The opportunity score without a forecast (the cheap recompute job)."""
    series = prepare(points)
    demand = demand_metrics(series.y, series.weeks, series.measure)
    competition = competition_metrics(series.points, demand.level)
    return opportunity_score(demand, competition, economics(series.points, params or AnalysisParams()))


def score_with_opportunities(
    points: list[TrendPoint],
    segments: list[SegmentPoint],
    params: AnalysisParams | None = None,
    niche: NicheRef | None = None,
) -> tuple[OpportunityScore, list[Opportunity]]:
    """calculate_opportunity_score's numbers: the score and the opportunities, without a forecast."""
    series = prepare(points)
    demand = demand_metrics(series.y, series.weeks, series.measure)
    competition = competition_metrics(series.points, demand.level)
    score = opportunity_score(demand, competition, economics(series.points, params or AnalysisParams()))
    found = find_opportunities(
        series.points,
        segments,
        demand,
        competition,
        queries=niche.queries if niche else (),
        niche_name=niche.name if niche else "ниша целиком",
    )
    return score, found
