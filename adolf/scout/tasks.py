"""What the analysis pool's processes run: plain functions of picklable models (adolf/scout/pool.py).

This module stays light (the worker imports it); the numeric libraries are imported inside the functions, which
only ever run in the pool, whose initializer has imported them already.
"""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from adolf.models.scout import (
    AnalysisParams,
    AnalysisResult,
    NicheRef,
    Opportunity,
    OpportunityScore,
    ReportFormat,
    SegmentPoint,
    TrendPoint,
)


class InsufficientData(ValueError):
    """Too little history for the numbers asked for (raised in the pool, re-raised in the worker)."""


def analyze(
    niche: NicheRef, points: list[TrendPoint], segments: list[SegmentPoint], params: AnalysisParams
) -> AnalysisResult:
    from adolf.scout import analysis

    try:
        return analysis.analyze(niche, points, segments, params)
    except analysis.InsufficientData as exc:
        raise InsufficientData(str(exc)) from None


def score(
    points: list[TrendPoint], segments: list[SegmentPoint], params: AnalysisParams | None, niche: NicheRef | None
) -> tuple[OpportunityScore, list[Opportunity]]:
    from adolf.scout import analysis

    try:
        return analysis.score_with_opportunities(points, segments, params, niche)
    except analysis.InsufficientData as exc:
        raise InsufficientData(str(exc)) from None


def render(result: AnalysisResult, analysis_id: UUID, fmt: ReportFormat, path: Path) -> int:
    from adolf.scout.reports import render_report

    return render_report(result, analysis_id, fmt, path)
