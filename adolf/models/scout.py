"""Scout's data (SPEC section 5): a niche's weekly trend series, what an analysis is asked for and what it finds.

These models are the contract between the trend adapters, the CSV import, the numeric analysis (which runs in a
process pool and so takes and returns plain, picklable models) and the report export.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adolf.models.content import Marketplace

SEASON_WEEKS = 52
MAX_COUNT = 10**15  # weekly orders or searches: far above any niche, far below bigint
MAX_INT4 = 2**31 - 1


class ReportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"
    JSON = "json"
    HTML = "html"


class AnalysisStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


def today_utc() -> date:
    return datetime.now(UTC).date()


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def last_complete_monday(today: date | None = None) -> date:
    """The Monday of the last ISO week that has ended."""
    return monday_of(today or today_utc()) - timedelta(weeks=1)


def concentration(shares: list[float]) -> tuple[float, float]:
    """(top-10 share 0..1, HHI 0..10000) of sellers' sales shares (fractions of the niche's sales)."""
    ordered = sorted((s for s in shares if s > 0), reverse=True)
    return min(1.0, sum(ordered[:10])), sum((100.0 * s) ** 2 for s in ordered)


class TrendPoint(BaseModel):
    """One week of a niche. `week` is the ISO week's Monday. A field the source does not give is None (and is then
    kept from another source by the upsert: a marketplace update never erases what a CSV import brought). The bounds
    are the database columns' (bigint, integer, numeric(16,2), numeric(12,2)); infinities and NaN are refused."""

    model_config = ConfigDict(frozen=True, allow_inf_nan=False)

    week: date
    orders: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    search_volume: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    revenue: float | None = Field(default=None, ge=0, lt=1e14)
    avg_price: float | None = Field(default=None, ge=0, lt=1e10)
    sellers: int | None = Field(default=None, ge=0, le=MAX_INT4)
    new_sellers: int | None = Field(default=None, ge=0, le=MAX_INT4)
    top_seller_shares: list[float] | None = None  # the top sellers' sales shares, fractions, largest first
    top10_share: float | None = Field(default=None, ge=0, le=1)
    hhi: float | None = Field(default=None, ge=0, le=10_000)

    @field_validator("week")
    @classmethod
    def _monday(cls, value: date) -> date:
        if value.isoweekday() != 1:
            raise ValueError(f"{value.isoformat()} is not a Monday (a week is given by its Monday)")
        return value

    @model_validator(mode="after")
    def _concentration_from_shares(self) -> TrendPoint:
        if self.top_seller_shares and (self.top10_share is None or self.hhi is None):
            top10, hhi = concentration(self.top_seller_shares)
            object.__setattr__(self, "top10_share", self.top10_share if self.top10_share is not None else top10)
            object.__setattr__(self, "hhi", self.hhi if self.hhi is not None else hhi)
        return self

    @property
    def demand(self) -> int | None:
        """Orders where known, else search volume (what Ozon's market-wide query analytics gives)."""
        return self.orders if self.orders is not None else self.search_volume


class SegmentPoint(BaseModel):
    """One week of a segment of a niche (a search query, a subcategory): its demand and its competition."""

    model_config = ConfigDict(frozen=True)

    segment: str
    week: date
    demand: int = Field(ge=0)
    sellers: int | None = Field(default=None, ge=0)


class NicheRef(BaseModel):
    """What a trend source needs to know of a niche."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    name: str
    marketplace: Marketplace
    category_id: str | None = None
    queries: list[str] = Field(default_factory=list)


class NicheTrends(BaseModel):
    """What a marketplace gave for one niche over a period."""

    points: list[TrendPoint] = Field(default_factory=list)
    segments: list[SegmentPoint] = Field(default_factory=list)


class AnalysisParams(BaseModel):
    """scout.tasks.analyze_niche's params. Money in the marketplace's currency (roubles); commission a fraction of
    the price. Without `cost` the margin is not scored (and the analysis says so)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    horizon_weeks: int = Field(default=12, ge=1, le=52)
    price: float | None = Field(default=None, gt=0)  # the seller's planned price; default: the niche's recent average
    cost: float | None = Field(default=None, ge=0)  # cost of goods per unit
    commission: float = Field(default=0.15, ge=0, lt=1)  # the marketplace's commission, fraction of the price
    logistics: float = Field(default=0.0, ge=0)  # logistics per unit
    backtest_folds: int = Field(default=3, ge=1, le=8)


# ---------------------------------------------------------------- what an analysis finds


class ModelAccuracy(BaseModel):
    model: str
    mase: float | None  # mean absolute scaled error, scaled by the in-sample seasonal-naive error (< 1: beats it)
    smape: float | None  # symmetric MAPE, percent (0..200)


class Backtest(BaseModel):
    """Rolling-origin backtest over the last folds x horizon weeks."""

    folds: int
    horizon: int
    candidates: list[ModelAccuracy]
    chosen: ModelAccuracy
    baseline: ModelAccuracy  # seasonal naive (period 52), or naive when the history is shorter than a season


class ForecastPoint(BaseModel):
    week: date
    mean: float
    lo80: float
    hi80: float
    lo95: float
    hi95: float


class Forecast(BaseModel):
    model: str
    horizon: int
    points: list[ForecastPoint]


class Demand(BaseModel):
    level: float  # mean weekly demand over the last 13 weeks
    measure: str  # "orders" or "search_volume"
    growth: float | None  # last 13 weeks against the same 13 weeks a year earlier, as a fraction (0.25 = +25 %)
    recent_growth: float | None  # last 13 weeks against the 13 before them
    seasonality_strength: float | None  # 0..1 (STL: 1 - var(remainder) / var(season + remainder))
    peak_week_of_year: int | None = None


class Competition(BaseModel):
    sellers: int | None
    hhi: float | None  # 0..10000
    top10_share: float | None  # 0..1
    new_sellers: int | None  # over the last 13 weeks
    new_seller_rate: float | None  # new sellers of the last 13 weeks per seller
    demand_per_seller: float | None


class Economics(BaseModel):
    price: float | None
    cost: float | None
    commission: float
    logistics: float
    unit_margin: float | None  # price - cost - commission - logistics
    margin_rate: float | None  # unit margin / price


class ScoreComponent(BaseModel):
    name: str  # demand, growth, competition, entry, margin, seasonality
    value: float  # 0..100
    weight: float  # the weights of the scored components sum to 1
    reason: str  # in Russian, the sellers' language


class OpportunityScore(BaseModel):
    value: float = Field(ge=0, le=100)
    components: list[ScoreComponent]


class Opportunity(BaseModel):
    kind: str  # "query", "segment" or "niche"
    name: str
    demand_growth: float | None
    sellers: int | None
    reason: str  # in Russian


class HistoryPoint(BaseModel):
    week: date
    demand: float


class AnalysisResult(BaseModel):
    niche_id: UUID
    niche_name: str
    marketplace: Marketplace
    weeks: int
    first_week: date
    last_week: date
    warnings: list[str] = Field(default_factory=list)  # data quality, in Russian
    history: list[HistoryPoint]
    demand: Demand
    forecast: Forecast
    backtest: Backtest
    competition: Competition
    economics: Economics
    score: OpportunityScore
    opportunities: list[Opportunity]
