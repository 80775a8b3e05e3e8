"""Scout's numeric analysis on synthetic weekly series with known properties (pure: no servers)."""

from __future__ import annotations

import pickle
import re
import uuid
from datetime import date, timedelta

import numpy as np
import pytest

from adolf.models.content import Marketplace
from adolf.models.scout import (
    AnalysisParams,
    Competition,
    Demand,
    Economics,
    NicheRef,
    SegmentPoint,
    TrendPoint,
)
from adolf.scout.analysis import InsufficientData, analyze, score_only
from adolf.scout.forecasting import nonseasonal_candidates, seasonal_candidates
from adolf.scout.scoring import WEIGHTS, find_opportunities, opportunity_score

START = date(2022, 1, 3)  # a Monday, ISO week 1
CYRILLIC = re.compile(r"[А-Яа-яЁё]")
NICHE = NicheRef(id=uuid.UUID(int=7), name="Термокружки", marketplace=Marketplace.WB, queries=["термокружка"])


def demand_series(
    n: int, *, level: float = 300.0, trend: float = 0.0, amplitude: float = 0.0, peak: int = 20, seed: int = 1
) -> np.ndarray:
    """level + trend per week + a yearly bump peaking at week index `peak` (mod 52) + 4 % noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    distance = np.minimum((t - peak) % 52, (peak - t) % 52)
    season = amplitude * np.exp(-0.5 * (distance / 4.0) ** 2)
    return np.maximum(0.0, level + trend * t + season + rng.normal(0.0, 0.04 * level, n))


def trend_points(
    y: np.ndarray,
    *,
    sellers: int | None = 120,
    hhi: float | None = 800.0,
    top10: float | None = 0.35,
    new_sellers: int | None = 2,
    price: float | None = 1500.0,
) -> list[TrendPoint]:
    return [
        TrendPoint(
            week=START + timedelta(weeks=i),
            orders=round(float(v)),
            sellers=sellers,
            hhi=hhi,
            top10_share=top10,
            new_sellers=new_sellers,
            avg_price=price,
        )
        for i, v in enumerate(y)
    ]


def check_weights(components) -> None:
    assert sum(c.weight for c in components) == pytest.approx(1.0)
    assert all(0.0 <= c.value <= 100.0 for c in components)
    assert all(CYRILLIC.search(c.reason) for c in components)


# ---------------------------------------------------------------- scoring


def test_rising_niche_scores_above_flat_one():
    rising = score_only(trend_points(demand_series(130, trend=3.0)))
    flat = score_only(trend_points(demand_series(130, trend=0.0)))
    assert rising.value > flat.value
    growth = {c.name: c for c in rising.components}["growth"]
    assert growth.value > {c.name: c for c in flat.components}["growth"].value
    assert "растёт" in growth.reason and "прошлого года" in growth.reason
    assert re.search(r"\+\d+ %", growth.reason)


def test_saturated_concentrated_niche_scores_below_open_one():
    y = demand_series(130, trend=1.0)
    open_niche = score_only(trend_points(y, sellers=40, hhi=700.0, top10=0.3, new_sellers=3))
    saturated = score_only(trend_points(y, sellers=900, hhi=4200.0, top10=0.93, new_sellers=0))
    assert saturated.value < open_niche.value
    competition = {c.name: c for c in saturated.components}["competition"]
    assert competition.value < 30
    assert "HHI" in competition.reason and "насыщена" in competition.reason


def test_score_weights_sum_to_one_and_missing_components_are_left_out():
    full = score_only(trend_points(demand_series(130, trend=1.0)), AnalysisParams(cost=500.0))
    assert {c.name for c in full.components} == set(WEIGHTS)
    assert all(c.weight > 0 for c in full.components)
    assert [c.weight for c in full.components] == pytest.approx([WEIGHTS[c.name] for c in full.components])
    check_weights(full.components)
    assert 0.0 <= full.value <= 100.0

    # no cost, no sellers' data, under two years: margin, competition, entry and seasonality drop out
    bare = score_only(trend_points(demand_series(70), sellers=None, hhi=None, top10=None, new_sellers=None))
    check_weights(bare.components)
    weights = {c.name: c.weight for c in bare.components}
    assert weights["margin"] == weights["competition"] == weights["entry"] == weights["seasonality"] == 0.0
    assert weights["demand"] == pytest.approx(0.25 / 0.45)
    assert "Не оценивается" in {c.name: c for c in bare.components}["margin"].reason
    assert 0.0 <= bare.value <= 100.0


def test_opportunity_score_extremes_stay_in_range():
    best = opportunity_score(
        Demand(level=1e6, measure="orders", growth=5.0, recent_growth=1.0, seasonality_strength=0.0),
        Competition(sellers=1, hhi=0.0, top10_share=0.0, new_sellers=1, new_seller_rate=0.3, demand_per_seller=1e6),
        Economics(price=100.0, cost=1.0, commission=0.0, logistics=0.0, unit_margin=99.0, margin_rate=0.99),
    )
    worst = opportunity_score(
        Demand(level=0.0, measure="orders", growth=-1.0, recent_growth=-1.0, seasonality_strength=1.0),
        Competition(
            sellers=5000, hhi=10_000.0, top10_share=1.0, new_sellers=0, new_seller_rate=0.0, demand_per_seller=0
        ),
        Economics(price=100.0, cost=200.0, commission=0.2, logistics=50.0, unit_margin=-170.0, margin_rate=-1.7),
    )
    assert best.value > 90 and worst.value < 15
    for score in (best, worst):
        check_weights(score.components)


def test_margin_from_params():
    params = AnalysisParams(price=2000.0, cost=800.0, commission=0.2, logistics=100.0)
    result = analyze(NICHE, trend_points(demand_series(110, trend=1.0, amplitude=150.0)), [], params)
    assert result.economics.unit_margin == pytest.approx(2000 - 800 - 400 - 100)
    assert result.economics.margin_rate == pytest.approx(700 / 2000)
    margin = {c.name: c for c in result.score.components}["margin"]
    assert margin.value == 100.0 and "700 ₽" in margin.reason


# ---------------------------------------------------------------- forecast and backtest


def test_seasonal_forecast_follows_its_season():
    n, peak = 156, 6  # the seasonal peak falls at week index 156 + 6: inside a 12-week horizon
    y = demand_series(n, level=400.0, trend=0.5, amplitude=600.0, peak=peak)
    result = analyze(NICHE, trend_points(y), [], AnalysisParams(horizon_weeks=12))
    mean = np.array([p.mean for p in result.forecast.points])
    year_ago = y[n - 52 : n - 52 + 12]
    assert np.corrcoef(mean, year_ago)[0, 1] > 0.9
    assert abs(int(np.argmax(mean)) - peak) <= 1
    assert result.forecast.points[0].week == result.last_week + timedelta(weeks=1)
    assert result.demand.seasonality_strength is not None and result.demand.seasonality_strength > 0.8
    peak_week = (START + timedelta(weeks=peak)).isocalendar().week
    assert abs(result.demand.peak_week_of_year - peak_week) <= 1


def test_backtest_on_two_years_beats_seasonal_naive():
    y = demand_series(104, level=300.0, trend=1.5, amplitude=400.0, peak=30, seed=3)
    result = analyze(NICHE, trend_points(y), [], AnalysisParams())
    backtest = result.backtest
    assert backtest.folds == 3 and backtest.horizon == 12
    assert backtest.baseline.model == "SeasonalNaive(52)"
    assert {c.model for c in backtest.candidates} == {c.name for c in seasonal_candidates()}
    assert backtest.chosen.model != backtest.baseline.model
    assert backtest.chosen.mase is not None and backtest.chosen.mase < 1.0
    assert backtest.chosen.mase < backtest.baseline.mase
    assert 0.0 <= backtest.chosen.smape <= 200.0
    assert result.forecast.model == backtest.chosen.model


def test_prediction_intervals_are_ordered_and_nonnegative():
    y = demand_series(120, level=200.0, trend=0.5, amplitude=150.0)
    result = analyze(NICHE, trend_points(y), [], AnalysisParams(horizon_weeks=20))
    assert len(result.forecast.points) == result.forecast.horizon == 20
    for p in result.forecast.points:
        assert 0.0 <= p.lo95 <= p.lo80 <= p.mean <= p.hi80 <= p.hi95
    widths80 = [p.hi80 - p.lo80 for p in result.forecast.points]
    widths95 = [p.hi95 - p.lo95 for p in result.forecast.points]
    assert all(w95 >= w80 for w80, w95 in zip(widths80, widths95, strict=True))
    assert sum(widths95) > sum(widths80) > 0


def test_short_series_uses_nonseasonal_candidates_and_warns():
    result = analyze(NICHE, trend_points(demand_series(80, trend=1.0)), [], AnalysisParams())
    assert {c.model for c in result.backtest.candidates} == {c.name for c in nonseasonal_candidates()}
    assert result.backtest.baseline.model == "SeasonalNaive(52)"
    assert any("сезон" in w and "104" in w for w in result.warnings)
    assert result.demand.seasonality_strength is None
    assert result.demand.growth is not None  # 80 >= 65 weeks: a year-over-year comparison exists

    shorter = analyze(NICHE, trend_points(demand_series(30)), [], AnalysisParams(horizon_weeks=12))
    assert shorter.backtest.baseline.model == "Naive"
    assert shorter.backtest.folds < 3
    assert any("бэктест" in w for w in shorter.warnings)
    assert shorter.demand.growth is None and shorter.demand.recent_growth is not None


def test_fewer_than_26_weeks_is_insufficient():
    with pytest.raises(InsufficientData) as caught:
        analyze(NICHE, trend_points(demand_series(25)), [], AnalysisParams())
    assert isinstance(caught.value, ValueError)
    assert CYRILLIC.search(str(caught.value)) and "Insufficient data" in str(caught.value)
    copy = pickle.loads(pickle.dumps(caught.value))  # it comes back from the process pool pickled
    assert isinstance(copy, InsufficientData) and copy.weeks == 25 and str(copy) == str(caught.value)
    with pytest.raises(InsufficientData):
        score_only(trend_points(demand_series(20)))


def test_missing_weeks_are_filled_and_warned():
    y = demand_series(110, trend=1.0, amplitude=100.0)
    points = trend_points(y)
    dropped = {10, 11, 12, 60}
    gappy = [p for i, p in enumerate(points) if i not in dropped]
    gappy.reverse()  # order does not matter
    result = analyze(NICHE, gappy, [], AnalysisParams())
    assert result.weeks == 110 and len(result.history) == 110
    assert [h.week for h in result.history] == [p.week for p in points]
    filled = result.history[11].demand
    assert min(points[9].orders, points[13].orders) <= filled <= max(points[9].orders, points[13].orders)
    assert any("Пропущено 4 нед." in w for w in result.warnings)


def test_search_volume_is_the_measure_without_orders():
    y = demand_series(60, level=5000.0)
    points = [TrendPoint(week=START + timedelta(weeks=i), search_volume=round(float(v))) for i, v in enumerate(y)]
    result = analyze(NICHE, points, [], AnalysisParams())
    assert result.demand.measure == "search_volume"
    assert any("поисковых запросов" in w for w in result.warnings)
    assert result.competition.sellers is None and any("продавцов" in w for w in result.warnings)


def test_analysis_is_deterministic():
    y = demand_series(130, trend=1.0, amplitude=200.0, seed=5)
    first = analyze(NICHE, trend_points(y), [], AnalysisParams(cost=600.0))
    second = analyze(NICHE, trend_points(y), [], AnalysisParams(cost=600.0))
    assert first.model_dump() == second.model_dump()
    assert pickle.loads(pickle.dumps(first)) == first
    assert score_only(trend_points(y)) == score_only(trend_points(y))


def test_all_reasons_and_warnings_are_russian():
    result = analyze(NICHE, trend_points(demand_series(70, trend=2.0)), [], AnalysisParams())
    texts = [c.reason for c in result.score.components] + result.warnings + [o.reason for o in result.opportunities]
    assert texts and all(CYRILLIC.search(t) for t in texts)


# ---------------------------------------------------------------- opportunities


def segment_points(name: str, y: np.ndarray, sellers: int) -> list[SegmentPoint]:
    return [
        SegmentPoint(segment=name, week=START + timedelta(weeks=i), demand=round(float(v)), sellers=sellers)
        for i, v in enumerate(y)
    ]


def test_rising_weakly_contested_segments_are_opportunities():
    n = 70
    segments = [
        *segment_points("термокружка", demand_series(n, level=500.0, trend=8.0, seed=2), sellers=30),  # rising, few
        *segment_points("кружка с крышкой", demand_series(n, level=500.0, trend=8.0, seed=3), sellers=900),  # crowded
        *segment_points("кружка стальная", demand_series(n, level=500.0, trend=-3.0, seed=4), sellers=20),  # falling
        *segment_points("кружка для авто", demand_series(n, level=80.0, trend=2.0, seed=6), sellers=4),  # few sellers
    ]
    result = analyze(NICHE, trend_points(demand_series(n, trend=2.0)), segments, AnalysisParams())
    found = {o.name: o for o in result.opportunities}
    assert set(found) == {"термокружка", "кружка для авто"}
    assert found["термокружка"].kind == "query" and found["кружка для авто"].kind == "segment"
    assert found["термокружка"].demand_growth > 0.1 and found["термокружка"].sellers == 30
    assert all(CYRILLIC.search(o.reason) and "прошлого года" in o.reason for o in found.values())


def test_niche_itself_is_an_opportunity_without_segments():
    y = demand_series(120, trend=2.0)
    demand = analyze(NICHE, trend_points(y), [], AnalysisParams()).demand
    open_competition = Competition(
        sellers=40, hhi=900.0, top10_share=0.3, new_sellers=4, new_seller_rate=0.1, demand_per_seller=10.0
    )
    found = find_opportunities([], [], demand, open_competition, niche_name=NICHE.name)
    assert [o.kind for o in found] == ["niche"] and found[0].name == NICHE.name
    assert "растёт" in found[0].reason
    closed = open_competition.model_copy(update={"hhi": 4000.0})
    assert find_opportunities([], [], demand, closed) == []
    falling = demand.model_copy(update={"growth": -0.2})
    assert find_opportunities([], [], falling, open_competition) == []


def test_segments_too_young_to_judge_leave_the_judgement_to_the_niche():
    y = demand_series(120, trend=2.0)
    demand = analyze(NICHE, trend_points(y), [], AnalysisParams()).demand
    competition = Competition(
        sellers=40, hhi=900.0, top10_share=0.3, new_sellers=4, new_seller_rate=0.1, demand_per_seller=10.0
    )
    one_week = [SegmentPoint(segment="термокружка", week=START, demand=500, sellers=30)]  # a query niche's first week
    found = find_opportunities([], one_week, demand, competition, niche_name=NICHE.name)
    assert [o.kind for o in found] == ["niche"]
