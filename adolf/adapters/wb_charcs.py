"""A draft's attributes as WB characteristics (research/marketplaces.md 1.2).

A subject's characteristics come from GET /content/v2/object/charcs/{subjectId} (cached per process). A draft names
an attribute by characteristic id or by name; its value is sent as WB types it: charcType 1 takes an array of
strings (at most maxCount of them, 0 = any number), charcType 4 takes one number, charcType 0 is not used. An
attribute WB cannot take fails the card at once, naming the attribute; it is never dropped.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adolf.adapters.http import MarketplaceHttp
from adolf.adapters.shared_reads import SharedReads
from adolf.errors import ApiError, ValidationFailed

CHARCS = "/content/v2/object/charcs/{subject}"
BUCKET = "wb.cards_list"  # "all other Content methods" share the card list's limit
TEXT, NUMBER, UNUSED = 1, 4, 0
MAX_NUMBER = 2**53  # beyond it a JSON number is not exact


@dataclass(frozen=True)
class Charc:
    id: int
    name: str
    charc_type: int
    max_count: int


def _charc(wire: Mapping[str, Any]) -> Charc:
    return Charc(
        int(wire["charcID"]),
        str(wire.get("name") or ""),
        int(wire.get("charcType") or 0),
        int(wire.get("maxCount") or 0),
    )


class WbSubjects:
    """The characteristics of each subject this process has met, read once."""

    def __init__(self, http: MarketplaceHttp) -> None:
        self.http = http
        self._charcs: SharedReads[list[Charc]] = SharedReads()

    def charcs(self, subject_id: int) -> asyncio.Future[list[Charc]]:
        return self._charcs.get(subject_id, lambda: self._read(subject_id))

    async def _read(self, subject_id: int) -> list[Charc]:
        body = await self.http.get(CHARCS.format(subject=subject_id), bucket=BUCKET)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise ApiError(f"WB answered the characteristics of subject {subject_id} without data")
        return [_charc(c) for c in data if isinstance(c, dict) and "charcID" in c]


def characteristics(
    existing: list[dict[str, Any]], attributes: Mapping[str, Any], charcs: list[Charc], subject: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The card's characteristics with the draft's attributes set, and what was set, by characteristic id.

    ValidationFailed names the first attribute WB cannot take."""
    by_id = {c.id: c for c in charcs}
    by_name = {c.name.casefold(): c for c in charcs}
    chosen: dict[int, Any] = {}
    for key, value in attributes.items():
        name = str(key).strip()
        charc = by_id.get(int(name)) if name.isdecimal() else by_name.get(name.casefold())
        if charc is None:
            raise ValidationFailed(f"WB: attribute {name!r}: subject {subject} has no such characteristic")
        if charc.id in chosen:
            raise ValidationFailed(f"WB: attribute {charc.name!r} (characteristic {charc.id}) is named twice")
        chosen[charc.id] = typed_value(charc, value)
    kept = [{"id": c["id"], "value": c.get("value")} for c in existing if c.get("id") not in chosen]
    return kept + [{"id": i, "value": v} for i, v in chosen.items()], {str(i): v for i, v in chosen.items()}


def typed_value(charc: Charc, value: Any) -> Any:
    if charc.charc_type == NUMBER:
        return _number(charc, value)
    if charc.charc_type != TEXT:
        raise ValidationFailed(f"WB: attribute {charc.name!r} (characteristic {charc.id}) is not used any more")
    values = value if isinstance(value, list | tuple) else [value]
    if not values or not all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in values):
        raise ValidationFailed(f"WB: attribute {charc.name!r} takes text values, got {value!r}")
    if charc.max_count and len(values) > charc.max_count:
        raise ValidationFailed(
            f"WB: attribute {charc.name!r} takes at most {charc.max_count} value(s), got {len(values)}"
        )
    return [str(v) for v in values]


def _number(charc: Charc, value: Any) -> int | float:
    single = value[0] if isinstance(value, list | tuple) and len(value) == 1 else value
    if isinstance(single, str):
        try:
            single = float(single.strip().replace(",", "."))
        except ValueError:
            pass
    try:
        number = float(single) if isinstance(single, int | float) and not isinstance(single, bool) else math.nan
    except OverflowError:
        number = math.inf
    if not math.isfinite(number) or abs(number) > MAX_NUMBER:
        raise ValidationFailed(f"WB: attribute {charc.name!r} takes one number, got {str(value)[:50]}")
    return int(number) if number.is_integer() else number
