"""Scout's tables: niches, their weekly trends and segments, analyses and reports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

import orjson
from pydantic import BaseModel

from adolf.db.repositories.base import Repository, rowcount
from adolf.models.content import Marketplace
from adolf.models.scout import NicheRef, SegmentPoint, TrendPoint


class Niche(NicheRef):
    is_active: bool = True
    opportunity_score: float | None = None
    score_components: Any = None
    opportunities: Any = None
    score_updated_at: datetime | None = None
    trends_updated_at: datetime | None = None
    last_week: date | None = None


class Analysis(BaseModel):
    id: UUID
    niche_id: UUID
    requested_by: UUID | None = None
    params: dict[str, Any]
    status: str
    result: dict[str, Any] | None = None
    opportunity_score: float | None = None
    error: str | None = None
    created_at: datetime
    completed_at: datetime | None = None


class Report(BaseModel):
    id: UUID
    analysis_id: UUID
    format: str
    path: str
    size_bytes: int
    created_at: datetime


# every read of niches: by id, by name (and marketplace), the active ones, or all
SELECT_NICHES = """
    SELECT n.id, n.name, n.marketplace, n.category_id, n.queries, n.is_active, n.opportunity_score::float8,
           n.score_components, n.opportunities, n.score_updated_at, n.trends_updated_at,
           (SELECT max(t.week_start) FROM niche_trends t WHERE t.niche_id = n.id) AS last_week
    FROM niches n
    WHERE ($1::uuid IS NULL OR n.id = $1) AND ($2::text IS NULL OR lower(n.name) = lower($2))
      AND ($3::text IS NULL OR n.marketplace = $3) AND (NOT $4::bool OR n.is_active)
    ORDER BY n.marketplace, n.name
"""
SET_SOURCES = """
    UPDATE niches SET category_id = coalesce($2, category_id), queries = $3, is_active = true, updated_at = now()
    WHERE id = $1
"""
CREATE_NICHE = """
    INSERT INTO niches (name, marketplace, category_id, queries) VALUES ($1, $2, $3, $4)
    ON CONFLICT (marketplace, lower(name)) DO UPDATE SET updated_at = niches.updated_at
    RETURNING id
"""
TOUCH_TRENDS = "UPDATE niches SET trends_updated_at = now(), updated_at = now() WHERE id = $1"
STORE_SCORE = """
    UPDATE niches SET opportunity_score = $2, score_components = $3, opportunities = $4, score_updated_at = now(),
                      updated_at = now()
    WHERE id = $1
"""

TREND_FIELDS = ("search_volume", "orders", "revenue", "avg_price", "sellers", "new_sellers", "top10_share", "hhi")
# a value the source does not give (NULL) keeps what another source brought; unchanged rows are not rewritten
UPSERT_TRENDS = """
    INSERT INTO niche_trends AS t (niche_id, week_start, search_volume, orders, revenue, avg_price, sellers,
                                   new_sellers, top10_share, hhi, top_seller_shares, source)
    SELECT $1, w, sv, o, r, p, s, ns, t10, h, sh::jsonb, $12
    FROM unnest($2::date[], $3::int8[], $4::int8[], $5::float8[], $6::float8[], $7::int4[], $8::int4[],
                $9::float8[], $10::float8[], $11::text[]) AS u(w, sv, o, r, p, s, ns, t10, h, sh)
    ON CONFLICT (niche_id, week_start) DO UPDATE SET
        (search_volume, orders, revenue, avg_price, sellers, new_sellers, top10_share, hhi, top_seller_shares) = (
            COALESCE(EXCLUDED.search_volume, t.search_volume), COALESCE(EXCLUDED.orders, t.orders),
            COALESCE(EXCLUDED.revenue, t.revenue), COALESCE(EXCLUDED.avg_price, t.avg_price),
            COALESCE(EXCLUDED.sellers, t.sellers), COALESCE(EXCLUDED.new_sellers, t.new_sellers),
            COALESCE(EXCLUDED.top10_share, t.top10_share), COALESCE(EXCLUDED.hhi, t.hhi),
            COALESCE(EXCLUDED.top_seller_shares, t.top_seller_shares)
        ),
        source = EXCLUDED.source, updated_at = now()
    WHERE (
        COALESCE(EXCLUDED.search_volume, t.search_volume), COALESCE(EXCLUDED.orders, t.orders),
        COALESCE(EXCLUDED.revenue, t.revenue), COALESCE(EXCLUDED.avg_price, t.avg_price),
        COALESCE(EXCLUDED.sellers, t.sellers), COALESCE(EXCLUDED.new_sellers, t.new_sellers),
        COALESCE(EXCLUDED.top10_share, t.top10_share), COALESCE(EXCLUDED.hhi, t.hhi),
        COALESCE(EXCLUDED.top_seller_shares, t.top_seller_shares)
    ) IS DISTINCT FROM (
        t.search_volume, t.orders, t.revenue, t.avg_price, t.sellers, t.new_sellers, t.top10_share, t.hhi,
        t.top_seller_shares
    )
    RETURNING 1
"""
UPSERT_SEGMENTS = """
    INSERT INTO niche_segment_trends AS t (niche_id, segment, week_start, demand, sellers)
    SELECT $1, seg, w, d, s FROM unnest($2::text[], $3::date[], $4::int8[], $5::int4[]) AS u(seg, w, d, s)
    ON CONFLICT (niche_id, segment, week_start) DO UPDATE SET
        demand = EXCLUDED.demand, sellers = COALESCE(EXCLUDED.sellers, t.sellers), updated_at = now()
    WHERE (EXCLUDED.demand, COALESCE(EXCLUDED.sellers, t.sellers)) IS DISTINCT FROM (t.demand, t.sellers)
    RETURNING 1
"""
TRENDS = """
    SELECT week_start AS week, search_volume, orders, revenue::float8, avg_price::float8, sellers, new_sellers,
           top10_share::float8, hhi::float8, top_seller_shares
    FROM niche_trends WHERE niche_id = $1 ORDER BY week_start
"""
SEGMENTS = """
    SELECT segment, week_start AS week, demand, sellers FROM niche_segment_trends
    WHERE niche_id = $1 ORDER BY segment, week_start
"""

# every try of one job run writes the same row
OPEN_ANALYSIS = """
    INSERT INTO niche_analyses (id, niche_id, params, requested_by, status) VALUES ($1, $2, $3, $4, 'running')
    ON CONFLICT (id) DO UPDATE SET status = 'running', error = NULL, completed_at = NULL
    WHERE niche_analyses.niche_id = EXCLUDED.niche_id
    RETURNING id
"""
GET_ANALYSIS = """
    SELECT id, niche_id, requested_by, params, status, result, opportunity_score::float8, error, created_at,
           completed_at
    FROM niche_analyses WHERE id = $1
"""
LATEST_ANALYSIS = """
    SELECT id, niche_id, requested_by, params, status, result, opportunity_score::float8, error, created_at,
           completed_at
    FROM niche_analyses WHERE niche_id = $1 AND status = 'completed'
    ORDER BY completed_at DESC LIMIT 1
"""
COMPLETE_ANALYSIS = """
    UPDATE niche_analyses SET status = 'completed', result = $2, opportunity_score = $3, completed_at = now(),
                              error = NULL
    WHERE id = $1
"""
FAIL_ANALYSIS = """
    UPDATE niche_analyses SET status = 'failed', error = $2, completed_at = now()
    WHERE id = $1 AND niche_id = $3 AND status <> 'completed'
"""
ANALYZED_SINCE = "SELECT count(*) FROM niche_analyses WHERE status = 'completed' AND completed_at >= $1"

RECORD_REPORT = """
    INSERT INTO reports (analysis_id, format, path, size_bytes) VALUES ($1, $2, $3, $4)
    ON CONFLICT (analysis_id, format) DO UPDATE SET path = EXCLUDED.path, size_bytes = EXCLUDED.size_bytes,
                                                    created_at = now()
    RETURNING *
"""
GET_REPORT = "SELECT * FROM reports WHERE analysis_id = $1 AND format = $2"
OLD_ANALYSES = """
    SELECT a.id, coalesce(array_agg(r.path) FILTER (WHERE r.path IS NOT NULL), '{}') AS paths
    FROM niche_analyses a LEFT JOIN reports r ON r.analysis_id = a.id
    WHERE a.created_at < $1
    GROUP BY a.id
    ORDER BY a.id
    LIMIT $2
"""
DELETE_ANALYSES = "DELETE FROM niche_analyses WHERE id = ANY($1::uuid[])"


@dataclass
class TrendColumns:
    """A niche's weeks as one list per column: what the upsert sends, and a compact form for big imports."""

    week: list[date] = field(default_factory=list)
    search_volume: list[int | None] = field(default_factory=list)
    orders: list[int | None] = field(default_factory=list)
    revenue: list[float | None] = field(default_factory=list)
    avg_price: list[float | None] = field(default_factory=list)
    sellers: list[int | None] = field(default_factory=list)
    new_sellers: list[int | None] = field(default_factory=list)
    top10_share: list[float | None] = field(default_factory=list)
    hhi: list[float | None] = field(default_factory=list)
    shares: list[str | None] = field(default_factory=list)  # jsonb text of the top sellers' shares

    def append(self, point: TrendPoint) -> None:
        self.week.append(point.week)
        for name in TREND_FIELDS:
            getattr(self, name).append(getattr(point, name))
        shares = point.top_seller_shares
        self.shares.append(None if shares is None else orjson.dumps(shares).decode())

    def __len__(self) -> int:
        return len(self.week)

    @classmethod
    def of(cls, points: Sequence[TrendPoint]) -> TrendColumns:
        columns = cls()
        for point in points:
            columns.append(point)
        return columns


class ScoutRepository(Repository[Niche]):
    model = Niche

    # --- niches

    async def niche(self, niche_id: UUID) -> Niche | None:
        return await self._one(SELECT_NICHES, niche_id, None, None, False)

    async def find_niches(self, name: str, marketplace: Marketplace | str | None = None) -> list[Niche]:
        return await self._many(SELECT_NICHES, None, name, None if marketplace is None else str(marketplace), False)

    async def active_niches(self) -> list[Niche]:
        return await self._many(SELECT_NICHES, None, None, None, True)

    async def all_niches(self) -> list[Niche]:
        return await self._many(SELECT_NICHES, None, None, None, False)

    async def set_sources(self, niche_id: UUID, *, category_id: str | None, queries: Sequence[str]) -> None:
        """What update_trend_data reads the niche by (a category kept unless a new one is given); active again."""
        await self.db.execute(SET_SOURCES, niche_id, category_id, list(queries))

    async def ensure_niche(
        self, name: str, marketplace: Marketplace | str, *, category_id: str | None = None, queries: Sequence[str] = ()
    ) -> UUID:
        """The niche of that name on that marketplace, created when new."""
        return await self.db.fetchval(CREATE_NICHE, name, str(marketplace), category_id, list(queries))

    async def store_score(self, niche_id: UUID, score: float, components: Any, opportunities: Any) -> None:
        await self.db.execute(STORE_SCORE, niche_id, score, components, opportunities)

    # --- trends

    async def upsert_trends(self, niche_id: UUID, points: Sequence[TrendPoint], *, source: str) -> int:
        """Merge weeks into the niche's series; returns how many weeks changed."""
        return await self.upsert_columns(niche_id, TrendColumns.of(points), source=source)

    async def upsert_columns(self, niche_id: UUID, columns: TrendColumns, *, source: str) -> int:
        if not columns.week:
            return 0
        rows = await self.db.fetch(
            UPSERT_TRENDS,
            niche_id,
            columns.week,
            *(getattr(columns, f) for f in TREND_FIELDS),
            columns.shares,
            source,
        )
        return len(rows)

    async def upsert_segments(self, niche_id: UUID, segments: Sequence[SegmentPoint]) -> int:
        if not segments:
            return 0
        rows = await self.db.fetch(
            UPSERT_SEGMENTS,
            niche_id,
            [s.segment for s in segments],
            [s.week for s in segments],
            [s.demand for s in segments],
            [s.sellers for s in segments],
        )
        return len(rows)

    async def touch_trends(self, niche_id: UUID) -> None:
        await self.db.execute(TOUCH_TRENDS, niche_id)

    async def trends(self, niche_id: UUID) -> list[TrendPoint]:
        return [TrendPoint.model_validate(dict(row)) for row in await self.db.fetch(TRENDS, niche_id)]

    async def segments(self, niche_id: UUID) -> list[SegmentPoint]:
        return [SegmentPoint.model_validate(dict(row)) for row in await self.db.fetch(SEGMENTS, niche_id)]

    # --- analyses and reports

    async def open_analysis(
        self, analysis_id: UUID, niche_id: UUID, params: dict[str, Any], requested_by: UUID | None
    ) -> bool:
        """False: that analysis id is another niche's."""
        return await self.db.fetchval(OPEN_ANALYSIS, analysis_id, niche_id, params, requested_by) is not None

    async def analysis(self, analysis_id: UUID) -> Analysis | None:
        row = await self.db.fetchrow(GET_ANALYSIS, analysis_id)
        return None if row is None else Analysis.model_validate(dict(row))

    async def latest_analysis(self, niche_id: UUID) -> Analysis | None:
        row = await self.db.fetchrow(LATEST_ANALYSIS, niche_id)
        return None if row is None else Analysis.model_validate(dict(row))

    async def complete_analysis(self, analysis_id: UUID, result: dict[str, Any], score: float) -> bool:
        """False: the analysis is gone (its niche was deleted meanwhile)."""
        return rowcount(await self.db.execute(COMPLETE_ANALYSIS, analysis_id, result, score)) == 1

    async def fail_analysis(self, analysis_id: UUID, niche_id: UUID, error: str) -> None:
        await self.db.execute(FAIL_ANALYSIS, analysis_id, error[:2000], niche_id)

    async def analyzed_since(self, since: datetime) -> int:
        return int(await self.db.fetchval(ANALYZED_SINCE, since))

    async def record_report(self, analysis_id: UUID, fmt: str, path: str, size: int) -> Report:
        row = await self.db.fetchrow(RECORD_REPORT, analysis_id, fmt, path, size)
        return Report.model_validate(dict(row))

    async def report(self, analysis_id: UUID, fmt: str) -> Report | None:
        row = await self.db.fetchrow(GET_REPORT, analysis_id, fmt)
        return None if row is None else Report.model_validate(dict(row))

    async def old_analyses(self, before: datetime, limit: int) -> list[tuple[UUID, list[str]]]:
        return [(row["id"], list(row["paths"])) for row in await self.db.fetch(OLD_ANALYSES, before, limit)]

    async def delete_analyses(self, ids: Sequence[UUID]) -> int:
        return rowcount(await self.db.execute(DELETE_ANALYSES, list(ids)))
