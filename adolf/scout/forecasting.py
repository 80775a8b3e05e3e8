"""Weekly demand forecasts with statsforecast, chosen by a rolling-origin backtest against a naive baseline.

Candidates (research note next-anchors.md section 1: on 2-year weekly series AutoETS/AutoTheta/AutoARIMA usually drop
the season, MSTL(52) wins; AutoARIMA is left out, it is ~100x slower at 156 points):

- at least 104 weeks (two full seasons): MSTL(52) with its default AutoETS trend, AutoETS(52, "AAA") (additive
  seasonal ETS, damping chosen by AICc) and AutoTheta(52) (which itself tests whether the season is significant);
- fewer weeks: non-seasonal AutoETS and AutoTheta (a season cannot be estimated from less than two of them).

Baseline: SeasonalNaive(52) when every backtest fold trains on at least 52 weeks, else Naive.

Backtest: `folds` origins, each holding out `horizon` weeks, the origins stepped back by `horizon` (the last fold
ends at the last week). A short series gets fewer folds and/or a shorter backtest horizon (said in the warnings).
Per fold: MASE = MAE / in-sample MAE of the seasonal naive (m=52) on the fold's training part (m=1 when the series is
shorter than two seasons), and sMAPE in percent (0..200). The candidate (or the baseline) with the lowest mean MASE
is chosen, refitted on the whole series and forecasts `horizon` weeks with 80 % and 95 % intervals, clipped at 0.
Everything is deterministic (no random state anywhere).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
from statsforecast.models import MSTL, AutoETS, AutoTheta, Naive, SeasonalNaive
from statsmodels.tools.sm_exceptions import ConvergenceWarning

from adolf.models.scout import SEASON_WEEKS, Backtest, Forecast, ForecastPoint, ModelAccuracy

SEASONAL_MIN_WEEKS = 2 * SEASON_WEEKS  # seasonal candidates only with two full seasons
SEASONAL_MIN_TRAIN = SEASON_WEEKS + 13  # a fold of a seasonal series trains on >= 65 weeks (13 seasonal diffs)
NONSEASONAL_MIN_TRAIN = 16
LEVELS = (80, 95)


@dataclass(frozen=True)
class Candidate:
    name: str
    make: Callable[[], Any]


@dataclass
class Plan:
    """How the backtest is laid out for a series of `n` weeks."""

    seasonal: bool
    baseline: Candidate
    candidates: list[Candidate]
    scale_m: int  # the seasonal-naive period that scales MASE
    folds: int
    horizon: int
    warnings: list[str] = field(default_factory=list)


@dataclass
class Outcome:
    forecast: Forecast
    backtest: Backtest
    warnings: list[str]


def seasonal_candidates() -> list[Candidate]:
    return [
        Candidate("MSTL(52)", lambda: MSTL(season_length=SEASON_WEEKS)),
        Candidate("AutoETS(52,AAA)", lambda: AutoETS(season_length=SEASON_WEEKS, model="AAA")),
        Candidate("AutoTheta(52)", lambda: AutoTheta(season_length=SEASON_WEEKS)),
    ]


def nonseasonal_candidates() -> list[Candidate]:
    return [
        Candidate("AutoETS", lambda: AutoETS(season_length=1)),
        Candidate("AutoTheta", lambda: AutoTheta(season_length=1)),
    ]


SEASONAL_NAIVE = Candidate("SeasonalNaive(52)", lambda: SeasonalNaive(season_length=SEASON_WEEKS))
NAIVE = Candidate("Naive", lambda: Naive())


def _layout(n: int, horizon: int, folds: int, min_train: int) -> tuple[int, int]:
    """(folds, backtest horizon) that fit in n weeks with at least min_train weeks of training in every fold."""
    room = n - min_train
    if room < 1:
        return 0, 0
    h = min(horizon, room)
    return max(1, min(folds, room // h)), h


def plan(n: int, horizon: int, folds: int) -> Plan:
    seasonal = n >= SEASONAL_MIN_WEEKS
    notes: list[str] = []
    if seasonal:
        candidates, min_train, baseline = seasonal_candidates(), SEASONAL_MIN_TRAIN, SEASONAL_NAIVE
    else:
        candidates, min_train = nonseasonal_candidates(), NONSEASONAL_MIN_TRAIN
        notes.append(
            f"История {n} нед. — меньше двух полных сезонов ({SEASONAL_MIN_WEEKS} нед.): сезонные модели не "
            "применялись, прогноз строят несезонные AutoETS/AutoTheta, сезонность в прогнозе не учтена."
        )
        baseline = NAIVE
        if n >= SEASON_WEEKS + horizon:
            baseline, min_train = SEASONAL_NAIVE, SEASON_WEEKS
    k, h = _layout(n, horizon, folds, min_train)
    if k < folds or h < horizon:
        shorter = f" по {h} нед. вместо {horizon}" if h < horizon else f" по {h} нед."
        notes.append(
            f"Ряд короткий ({n} нед.): бэктест выполнен на {k} из {folds} окон{shorter} — "
            "оценка точности менее надёжна."
        )
    return Plan(
        seasonal=seasonal,
        baseline=baseline,
        candidates=candidates,
        scale_m=SEASON_WEEKS if seasonal else 1,
        folds=k,
        horizon=h,
        warnings=notes,
    )


def _fit(candidate: Candidate, y: np.ndarray, h: int, level: tuple[int, ...] = ()) -> dict[str, np.ndarray]:
    """candidate's forecast of h steps after y (statsforecast's numpy API); raises on non-finite output."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        if level:
            out = candidate.make().forecast(y=y, h=h, level=list(level))
        else:
            out = candidate.make().forecast(y=y, h=h)
    if not np.all(np.isfinite(out["mean"])):
        raise ValueError(f"{candidate.name} gave a non-finite forecast")
    return out


def mase_scale(train: np.ndarray, m: int) -> float:
    """In-sample MAE of the seasonal naive of period m (m=1: naive) on train; falls back to m=1, then to 1."""
    for period in (m, 1):
        if len(train) > period:
            scale = float(np.mean(np.abs(train[period:] - train[:-period])))
            if scale > 1e-9:
                return scale
    return 1.0


def smape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Symmetric MAPE in percent (0..200); a week where both are 0 counts as no error."""
    denominator = np.abs(actual) + np.abs(predicted)
    ratio = np.divide(
        2 * np.abs(actual - predicted), denominator, out=np.zeros_like(denominator), where=denominator > 0
    )
    return float(100 * np.mean(ratio))


def _score(candidate: Candidate, y: np.ndarray, p: Plan) -> ModelAccuracy:
    """Mean MASE and sMAPE of a candidate over the plan's folds (None when it failed on any)."""
    mases, smapes = [], []
    n = len(y)
    for fold in range(p.folds):
        end = n - fold * p.horizon
        train, test = y[: end - p.horizon], y[end - p.horizon : end]
        try:
            predicted = np.maximum(_fit(candidate, train, p.horizon)["mean"], 0.0)
        except Exception:  # a model that cannot fit is out of the running
            return ModelAccuracy(model=candidate.name, mase=None, smape=None)
        mases.append(float(np.mean(np.abs(test - predicted))) / mase_scale(train, p.scale_m))
        smapes.append(smape(test, predicted))
    return ModelAccuracy(
        model=candidate.name, mase=round(float(np.mean(mases)), 4), smape=round(float(np.mean(smapes)), 2)
    )


def _rank_key(accuracy: ModelAccuracy) -> tuple[float, float]:
    return (
        accuracy.mase if accuracy.mase is not None else math.inf,
        accuracy.smape if accuracy.smape is not None else math.inf,
    )


def _points(out: dict[str, np.ndarray], last_week: date, horizon: int) -> list[ForecastPoint]:
    mean = np.maximum(out["mean"], 0.0)
    lo80 = np.clip(out["lo-80"], 0.0, mean)
    lo95 = np.clip(out["lo-95"], 0.0, lo80)
    hi80 = np.maximum(out["hi-80"], mean)
    hi95 = np.maximum(out["hi-95"], hi80)
    return [
        ForecastPoint(
            week=last_week + timedelta(weeks=i + 1),
            mean=round(float(mean[i]), 3),
            lo80=round(float(lo80[i]), 3),
            hi80=round(float(hi80[i]), 3),
            lo95=round(float(lo95[i]), 3),
            hi95=round(float(hi95[i]), 3),
        )
        for i in range(horizon)
    ]


def forecast_demand(y: np.ndarray, last_week: date, horizon: int, folds: int = 3) -> Outcome:
    """Backtest the candidates on y (weekly demand, no gaps), refit the best on all of y and forecast `horizon`
    weeks after `last_week` with 80 % / 95 % intervals."""
    y = np.asarray(y, dtype=float)
    p = plan(len(y), horizon, folds)
    notes = list(p.warnings)
    if p.folds == 0:
        raise ValueError(f"series of {len(y)} weeks is too short to backtest")
    if np.ptp(y) == 0:  # nothing to model (and MSTL's trend fit is slow on a flat line)
        p.candidates = []
        notes.append(f"Спрос не меняется ({y[0]:g} в неделю все {len(y)} нед.) — прогноз равен последнему значению.")
    baseline = _score(p.baseline, y, p)
    candidates = [_score(c, y, p) for c in p.candidates]
    failed = [c.model for c in candidates if c.mase is None]
    if failed:
        notes.append(f"Модели не удалось обучить и они исключены из выбора: {', '.join(failed)}.")
    by_name = {c.name: c for c in [*p.candidates, p.baseline]}
    ranking = sorted([*candidates, baseline], key=_rank_key)  # stable: on a tie the earlier candidate wins
    for accuracy in ranking:
        if accuracy.mase is None:
            continue
        try:
            out = _fit(by_name[accuracy.model], y, horizon, LEVELS)
        except Exception:  # the next best model takes over
            notes.append(f"Модель {accuracy.model} не удалось обучить на всём ряде, взята следующая по точности.")
            continue
        chosen = accuracy
        break
    else:
        raise ValueError("no forecasting model could be fitted")
    if chosen.model == baseline.model and any(c.mase is not None for c in candidates):
        notes.append(
            f"Ни одна модель не превзошла базовый прогноз {baseline.model} на бэктесте — прогноз строит он сам."
        )
    return Outcome(
        forecast=Forecast(model=chosen.model, horizon=horizon, points=_points(out, last_week, horizon)),
        backtest=Backtest(folds=p.folds, horizon=p.horizon, candidates=candidates, chosen=chosen, baseline=baseline),
        warnings=notes,
    )
