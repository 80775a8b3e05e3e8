"""A niche's opportunity score 0..100 and its opportunities (segments/queries with rising demand, weak competition).

The score is the weighted mean of six components, each 0..100 with a reason in Russian (research note
next-anchors.md section 1.5: Hilal-like published weights; every score shows its components):

- demand 0.25: weekly demand level, log-scaled: 100 at 10 000 orders (100 000 searches) a week, 50 at 100 (1 000);
- growth 0.20: year-over-year growth (else the last 13 weeks against the 13 before): 50 + 100 x growth, so +50 % scores
  100 and -50 % scores 0;
- competition 0.25: the mean of HHI (0 -> 100, 1500 -> 70, 2500 -> 35, >= 5000 -> 0, linear between; thresholds of the
  2010/2023 US merger guidelines), top-10 share (100 x (1 - share)) and demand per seller (log-scaled, 100 at 200 a
  week per seller), so a saturated, concentrated niche scores low;
- margin 0.15: margin rate (unit margin / price): <= 0 -> 0, 30 % and more -> 100, linear between;
- seasonality 0.10: a risk, 100 - 60 x STL seasonality strength (a fully seasonal niche still gets 40);
- entry 0.05: new sellers of 13 weeks per seller: 0 -> 20 (nobody gets in), 25..60 % -> 100, 100 % -> 50 (a rush).

A component without data gets weight 0 (and value 0) with a reason saying it was left out; the other weights are
renormalised so the weights always sum to 1.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import defaultdict
from collections.abc import Collection, Sequence
from datetime import date, timedelta

from adolf.models.scout import (
    Competition,
    Demand,
    Economics,
    Opportunity,
    OpportunityScore,
    ScoreComponent,
    SegmentPoint,
    TrendPoint,
)

WEIGHTS: dict[str, float] = {
    "demand": 0.25,
    "growth": 0.20,
    "competition": 0.25,
    "margin": 0.15,
    "seasonality": 0.10,
    "entry": 0.05,
}
DEMAND_FULL = {"orders": 10_000.0, "search_volume": 100_000.0}  # weekly demand that scores 100
PER_SELLER_FULL = 200.0  # weekly demand per seller that scores 100
MARGIN_FULL = 0.30
HHI_POINTS = ((0.0, 100.0), (1500.0, 70.0), (2500.0, 35.0), (5000.0, 0.0))
ENTRY_POINTS = ((0.0, 20.0), (0.25, 100.0), (0.60, 100.0), (1.0, 50.0))
FEW_SELLERS = 10  # a segment or niche with at most this many sellers has weak competition
RISING = 0.10  # a segment's demand must have grown by at least 10 %
OPEN_HHI = 1500.0  # below: unconcentrated (2010 guidelines)
OPEN_TOP10 = 0.5


def _clamp(value: float) -> float:
    return max(0.0, min(100.0, value))


def _piecewise(x: float, knots: Sequence[tuple[float, float]]) -> float:
    if x <= knots[0][0]:
        return knots[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(knots):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return knots[-1][1]


def _log_score(value: float, full: float) -> float:
    return _clamp(100.0 * math.log10(1.0 + max(0.0, value)) / math.log10(1.0 + full))


def _plural(n: int, one: str, few: str, many: str) -> str:
    """The Russian form of a noun after the number n (1 продавец, 2 продавца, 5 продавцов)."""
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def _sellers(n: int) -> str:
    return f"{n} {_plural(n, 'продавец', 'продавца', 'продавцов')}"


def _pct(fraction: float) -> str:
    return f"{fraction * 100:+.0f} %".replace("-", "−")


def _num(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ")


def _demand(demand: Demand) -> tuple[float, str]:
    full = DEMAND_FULL.get(demand.measure, DEMAND_FULL["orders"])
    forms = ("заказ", "заказа", "заказов") if demand.measure == "orders" else ("запрос", "запроса", "запросов")
    unit = _plural(round(demand.level), *forms)
    value = _log_score(demand.level, full)
    size = "высокий" if value >= 70 else "средний" if value >= 40 else "низкий"
    return value, f"Спрос {size}: в среднем {_num(demand.level)} {unit} в неделю за последние 13 недель."


def _growth(demand: Demand) -> tuple[float, str] | None:
    if demand.growth is not None:
        growth, period = demand.growth, "к тому же периоду прошлого года"
    elif demand.recent_growth is not None:
        growth, period = demand.recent_growth, "к предыдущим 13 неделям (истории за год нет)"
    else:
        return None
    trend = "растёт" if growth > 0.02 else "падает" if growth < -0.02 else "стабилен"
    return _clamp(50.0 + 100.0 * growth), f"Спрос {trend}: {_pct(growth)} {period}."


def _competition(competition: Competition) -> tuple[float, str] | None:
    parts: list[float] = []
    reasons: list[str] = []
    if competition.hhi is not None:
        parts.append(_piecewise(competition.hhi, HHI_POINTS))
        kind = "высокая" if competition.hhi > 2500 else "умеренная" if competition.hhi >= OPEN_HHI else "низкая"
        reasons.append(f"концентрация {kind} (HHI {_num(competition.hhi)})")
    if competition.top10_share is not None:
        parts.append(_clamp(100.0 * (1.0 - competition.top10_share)))
        reasons.append(f"топ-10 продавцов держат {competition.top10_share * 100:.0f} % продаж")
    if competition.demand_per_seller is not None:
        parts.append(_log_score(competition.demand_per_seller, PER_SELLER_FULL))
        reasons.append(f"{_num(competition.demand_per_seller)} ед. спроса в неделю на продавца")
    if not parts:
        return None
    value = sum(parts) / len(parts)
    verdict = "слабая" if value >= 65 else "умеренная" if value >= 40 else "сильная, ниша насыщена"
    sellers = f"{_sellers(competition.sellers)}; " if competition.sellers is not None else ""
    return value, f"Конкуренция {verdict}: {sellers}{'; '.join(reasons)}."


def _margin(economics: Economics) -> tuple[float, str] | None:
    if economics.margin_rate is None or economics.unit_margin is None or economics.price is None:
        return None
    value = _clamp(100.0 * economics.margin_rate / MARGIN_FULL)
    kind = (
        "убыточна"
        if economics.unit_margin <= 0
        else "высокая"
        if value >= 80
        else "низкая"
        if value < 40
        else "средняя"
    )
    return value, (
        f"Маржа {kind}: {_num(economics.unit_margin)} ₽ с единицы при цене {_num(economics.price)} ₽ "
        f"({economics.margin_rate * 100:.0f} % цены после себестоимости, комиссии и логистики)."
    )


def _seasonality(demand: Demand) -> tuple[float, str] | None:
    if demand.seasonality_strength is None:
        return None
    strength = demand.seasonality_strength
    value = _clamp(100.0 - 60.0 * strength)
    kind = "сильная" if strength >= 0.6 else "умеренная" if strength >= 0.3 else "слабая"
    peak = f", пик спроса около {demand.peak_week_of_year}-й недели года" if demand.peak_week_of_year else ""
    risk = " — риск затоваривания вне сезона" if strength >= 0.3 else ""
    return value, f"Сезонность {kind} (сила {strength:.2f} из 1{peak}){risk}."


def _entry(competition: Competition) -> tuple[float, str] | None:
    if competition.new_seller_rate is None or competition.new_sellers is None:
        return None
    rate = competition.new_seller_rate
    value = _piecewise(rate, ENTRY_POINTS)
    if rate < 0.05:
        kind = "новые продавцы почти не приходят — порог входа высокий"
    elif rate <= 0.6:
        kind = "новые продавцы приходят — вход открыт"
    else:
        kind = "наплыв новых продавцов — конкуренция быстро растёт"
    return (
        value,
        f"Вход в нишу: {competition.new_sellers} {_plural(competition.new_sellers, 'новый', 'новых', 'новых')} "
        f"{_plural(competition.new_sellers, 'продавец', 'продавца', 'продавцов')} за 13 недель "
        f"({rate * 100:.0f} % от числа продавцов), {kind}.",
    )


MISSING = {
    "demand": "нет данных о спросе",
    "growth": "недостаточно истории для расчёта роста",
    "competition": "нет данных о продавцах и их долях",
    "margin": "не задана себестоимость (или нет цены)",
    "seasonality": "история короче двух лет (104 недели), сезонность не оценена",
    "entry": "нет данных о новых продавцах",
}


def opportunity_score(demand: Demand, competition: Competition, economics: Economics) -> OpportunityScore:
    """Weighted mean of the components that have data (see the module's table); the others get weight 0."""
    found: dict[str, tuple[float, str] | None] = {
        "demand": _demand(demand),
        "growth": _growth(demand),
        "competition": _competition(competition),
        "margin": _margin(economics),
        "seasonality": _seasonality(demand),
        "entry": _entry(competition),
    }
    total = sum(WEIGHTS[name] for name, got in found.items() if got is not None)
    missing = [name for name, got in found.items() if got is None]
    components: list[ScoreComponent] = []
    for name, got in found.items():
        if got is None:
            reason = f"Не оценивается: {MISSING[name]}; вес {WEIGHTS[name]:.2f} распределён между остальными."
            components.append(ScoreComponent(name=name, value=0.0, weight=0.0, reason=reason))
            continue
        value, reason = got
        if missing:
            reason += f" Вес {WEIGHTS[name]:.2f} → {WEIGHTS[name] / total:.3f} (часть компонентов без данных)."
        components.append(ScoreComponent(name=name, value=round(value, 1), weight=WEIGHTS[name] / total, reason=reason))
    score = sum(c.value * c.weight for c in components)
    if demand.level <= 0:  # nothing sells: no margin, calm season or open entry makes a niche of it
        components = [
            c.model_copy(update={"weight": 1.0 if c.name == "demand" else 0.0})
            if c.name == "demand"
            else c.model_copy(update={"weight": 0.0, "reason": "Не оценивается: в нише нет спроса."})
            for c in components
        ]
        score = 0.0
    return OpportunityScore(value=round(_clamp(score), 1), components=components)


# ---------------------------------------------------------------- opportunities


def _segment_growth(series: dict[date, float], last: date, window: int) -> tuple[float, float, str] | None:
    """(recent mean, growth, against what) of a segment's weekly demand over `window` weeks ending at `last`."""
    recent = [series[w] for k in range(window) if (w := last - timedelta(weeks=k)) in series]
    if len(recent) < max(4, window // 2):
        return None
    recent_mean = sum(recent) / len(recent)
    for shift, label in ((52, "к тем же неделям прошлого года"), (window, f"к предыдущим {window} неделям")):
        before = [series[w] for k in range(window) if (w := last - timedelta(weeks=k + shift)) in series]
        if len(before) >= max(4, window // 2):
            base = sum(before) / len(before)
            if base > 0:
                return recent_mean, recent_mean / base - 1.0, label
            return None
    return None


def _niche_opportunity(name: str, demand: Demand, competition: Competition) -> Opportunity | None:
    growth = demand.growth if demand.growth is not None else demand.recent_growth
    if growth is None or growth <= 0:
        return None
    period = "к прошлому году" if demand.growth is not None else "к предыдущим 13 неделям"
    if competition.hhi is not None:
        weak, why = competition.hhi < OPEN_HHI, f"рынок не концентрирован (HHI {_num(competition.hhi)})"
    elif competition.top10_share is not None:
        weak, why = competition.top10_share < OPEN_TOP10, f"топ-10 держат {competition.top10_share * 100:.0f} % продаж"
    elif competition.sellers is not None:
        weak, why = competition.sellers <= FEW_SELLERS, f"всего {_sellers(competition.sellers)}"
    else:
        return None
    if not weak:
        return None
    return Opportunity(
        kind="niche",
        name=name,
        demand_growth=round(growth, 4),
        sellers=competition.sellers,
        reason=f"Спрос на нишу растёт ({_pct(growth)} {period}), а конкуренция слабая: {why}.",
    )


def find_opportunities(
    points: Sequence[TrendPoint],
    segments: Sequence[SegmentPoint],
    demand: Demand,
    competition: Competition,
    *,
    queries: Collection[str] = (),
    niche_name: str = "ниша целиком",
    window: int = 13,
) -> list[Opportunity]:
    """Segments/queries whose demand over the last `window` weeks rose by >= 10 % (against the same weeks a year
    earlier, else the previous `window` weeks) and whose competition is weak: sellers per unit of demand below the
    median of the segments, or at most 10 sellers. Segments named in `queries` are of kind "query". Without segments
    (or none with the history to judge) the niche itself is an opportunity when its demand grows and its competition
    is weak. Sorted by growth.
    `points` (the niche's own series) is part of the signature for callers; the segments carry their own weeks."""
    if not segments:
        found = _niche_opportunity(niche_name, demand, competition)
        return [found] if found is not None else []
    series: dict[str, dict[date, float]] = defaultdict(dict)
    sellers: dict[str, tuple[date, int]] = {}
    for s in segments:
        series[s.segment][s.week] = series[s.segment].get(s.week, 0.0) + s.demand
        if s.sellers is not None and (s.segment not in sellers or sellers[s.segment][0] <= s.week):
            sellers[s.segment] = (s.week, s.sellers)
    last = max(s.week for s in segments)
    rows = []
    for name in sorted(series):
        got = _segment_growth(series[name], last, window)
        if got is None or name not in sellers:
            continue
        recent_mean, growth, label = got
        count = sellers[name][1]
        rows.append((name, recent_mean, growth, label, count, count / recent_mean if recent_mean > 0 else math.inf))
    if not rows:  # no segment has the history to judge yet (a query niche's first weeks): judge the niche
        found_niche = _niche_opportunity(niche_name, demand, competition)
        return [found_niche] if found_niche is not None else []
    median = statistics.median(r[5] for r in rows)
    found: list[Opportunity] = []
    for name, recent_mean, growth, label, count, ratio in rows:
        if growth < RISING or not (ratio < median or count <= FEW_SELLERS):
            continue
        if count <= FEW_SELLERS:
            why = f"всего {_sellers(count)}"
        else:
            why = f"{_sellers(count)}, {ratio:.3f} на единицу спроса — меньше медианы по сегментам ({median:.3f})"
        found.append(
            Opportunity(
                kind="query" if name in queries else "segment",
                name=name,
                demand_growth=round(growth, 4),
                sellers=count,
                reason=(
                    f"Спрос растёт: {_pct(growth)} {label} (в среднем {_num(recent_mean)} в неделю), "
                    f"конкуренция слабая: {why}."
                ),
            )
        )
    return sorted(found, key=lambda o: (-(o.demand_growth or 0.0), o.name))
