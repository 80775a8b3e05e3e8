"""The arq edge of ADOLF. `adolf.workers.<Lane>` (ContentHigh, ContentDefault, ContentLow, ScoutDefault, ScoutHeavy,
ScoutExport) are arq settings classes for the plain `arq` command; they are built on first access."""

from __future__ import annotations

from typing import Any

LANE_CLASSES = ("ContentHigh", "ContentDefault", "ContentLow", "ScoutDefault", "ScoutHeavy", "ScoutExport")


def __getattr__(name: str) -> Any:
    if name in LANE_CLASSES:
        from adolf.workers import lanes

        return getattr(lanes, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
