"""`adolf scout import FILE.csv`: a niche's weekly history from an analytics service's export.

Columns: niche, marketplace, week (the ISO date of the week's Monday), orders; optional search_volume, revenue,
avg_price, sellers, new_sellers, top10_share, hhi. Comma- or semicolon-separated, UTF-8 (a BOM is fine); with
semicolons a decimal comma is accepted. The whole file is one transaction: the first bad row (its line number and
what is wrong) stops the file and nothing of it is written.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, TextIO
from uuid import UUID

import asyncpg
from pydantic import ValidationError

from adolf.db.repositories.scout import ScoutRepository, TrendColumns
from adolf.models.content import Marketplace
from adolf.models.scout import TrendPoint, last_complete_monday, today_utc

REQUIRED = ("niche", "marketplace", "week", "orders")
OPTIONAL = ("search_volume", "revenue", "avg_price", "sellers", "new_sellers", "top10_share", "hhi")
INTEGERS = {"orders", "search_volume", "sellers", "new_sellers"}
MAX_FILE_BYTES = 200 * 1024 * 1024


class CsvImportError(ValueError):
    """The file cannot be imported; `line` is the file's line number (1 = the header) when a row is at fault."""

    def __init__(self, message: str, line: int | None = None) -> None:
        self.line = line
        super().__init__(f"line {line}: {message}" if line is not None else message)


@dataclass
class ImportSummary:
    rows: int = 0
    niches: dict[tuple[str, str], UUID] = field(default_factory=dict)  # (name, marketplace) -> id
    created: int = 0
    changed: dict[UUID, int] = field(default_factory=dict)  # weeks changed per niche

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "niches": len(self.niches),
            "niches_created": self.created,
            "weeks_changed": sum(self.changed.values()),
            "niche_ids": {f"{mp}:{name}": str(niche_id) for (name, mp), niche_id in self.niches.items()},
        }


def _number(raw: str, column: str, decimal_comma: bool) -> int | float:
    text = raw.strip().replace("\u00a0", "").replace(" ", "")
    if decimal_comma:
        text = text.replace(",", ".")
    try:
        if column in INTEGERS:
            value = float(text)
            if not value.is_integer():
                raise ValueError
            return int(value)
        return float(text)
    except ValueError:
        kind = "a whole number" if column in INTEGERS else "a number"
        raise ValueError(f"column {column!r}: {raw!r} is not {kind}") from None


def _week(raw: str, latest: date) -> date:
    try:
        week = date.fromisoformat(raw.strip())
    except ValueError:
        raise ValueError(f"column 'week': {raw!r} is not an ISO date (YYYY-MM-DD)") from None
    if week.isoweekday() != 1:
        raise ValueError(f"column 'week': {week.isoformat()} is a {week.strftime('%A')}, not a Monday")
    if week > latest:
        raise ValueError(f"column 'week': {week.isoformat()} is after the last complete week ({latest.isoformat()})")
    return week


def _row(values: dict[str, str], decimal_comma: bool, latest: date) -> tuple[str, Marketplace, TrendPoint]:
    name = " ".join((values.get("niche") or "").split())
    if not name:
        raise ValueError("column 'niche' is empty")
    raw_mp = (values.get("marketplace") or "").strip().lower()
    try:
        marketplace = Marketplace(raw_mp)
    except ValueError:
        raise ValueError(f"column 'marketplace': {raw_mp!r} is not one of wb, ozon, ym") from None
    fields: dict[str, Any] = {"week": _week(values.get("week") or "", latest)}
    if not (values.get("orders") or "").strip():
        raise ValueError("column 'orders' is empty")
    for column in ("orders", *OPTIONAL):
        raw = values.get(column)
        if raw is not None and raw.strip():
            fields[column] = _number(raw, column, decimal_comma)
    try:
        point = TrendPoint(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        column = ".".join(str(part) for part in first["loc"]) or "row"
        raise ValueError(f"column {column!r}: {first['msg']}") from None
    return name, marketplace, point


Series = dict[tuple[str, Marketplace], TrendColumns]


def _header(first_line: str) -> tuple[str, list[str]]:
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    header = [h.strip().lower() for h in next(csv.reader([first_line], delimiter=delimiter))]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise CsvImportError(f"the header lacks the column(s) {', '.join(missing)}", line=1)
    unknown = [c for c in header if c not in REQUIRED and c not in OPTIONAL]
    if unknown:
        raise CsvImportError(
            f"unknown column(s) {', '.join(map(repr, unknown))}; known: {', '.join((*REQUIRED, *OPTIONAL))}", line=1
        )
    if len(set(header)) != len(header):
        raise CsvImportError("a column appears twice in the header", line=1)
    return delimiter, header


def parse_stream(stream: TextIO) -> Series:
    """The rows by niche (a niche's name compared without case and extra spaces), each niche's weeks as columns;
    CsvImportError at the first problem. Reads the stream once, line by line."""
    first_line = stream.readline().lstrip("\ufeff")
    if not first_line.strip():
        raise CsvImportError("the file is empty (expected a header: niche,marketplace,week,orders,...)")
    delimiter, header = _header(first_line)
    reader = csv.reader(stream, delimiter=delimiter, strict=True)
    latest = last_complete_monday(today_utc())
    series: Series = {}
    names: dict[tuple[str, Marketplace], tuple[str, Marketplace]] = {}
    seen: dict[tuple[str, Marketplace], dict[date, int]] = {}
    try:
        for fields in reader:
            line = reader.line_num + 1
            if not any(f.strip() for f in fields):
                continue
            if len(fields) != len(header):
                raise CsvImportError(f"expected {len(header)} fields, found {len(fields)}", line=line)
            try:
                name, marketplace, point = _row(dict(zip(header, fields, strict=True)), delimiter == ";", latest)
            except ValueError as exc:
                raise CsvImportError(str(exc), line=line) from None
            key = names.setdefault((name.lower(), marketplace), (name, marketplace))
            weeks = seen.setdefault(key, {})
            if point.week in weeks:
                raise CsvImportError(
                    f"{name} / {marketplace.value} / week {point.week} already given on line {weeks[point.week]}",
                    line=line,
                )
            weeks[point.week] = line
            series.setdefault(key, TrendColumns()).append(point)
    except csv.Error as exc:
        raise CsvImportError(f"not valid CSV: {exc}", line=reader.line_num + 1) from None
    if not series:
        raise CsvImportError("the file has a header but no rows")
    return series


def parse_csv(text: str) -> Series:
    return parse_stream(io.StringIO(text, newline=""))


def read_csv(path: Path) -> Series:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise CsvImportError(f"{path} is {size} bytes; the limit is {MAX_FILE_BYTES}")
        with path.open(encoding="utf-8-sig", newline="") as stream:
            return parse_stream(stream)
    except OSError as exc:
        raise CsvImportError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CsvImportError("not UTF-8 text (save the export as UTF-8)", line=_first_undecodable_line(path)) from None


def _first_undecodable_line(path: Path) -> int | None:
    with path.open("rb") as raw:
        for number, line in enumerate(raw, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return None


async def import_series(db: asyncpg.Pool, series: Series) -> ImportSummary:
    """Write every niche's rows in one transaction (niches are created by name when new)."""
    summary = ImportSummary()
    async with db.acquire() as conn, conn.transaction():
        repo = ScoutRepository(conn)
        for (name, marketplace), points in series.items():
            existing = await repo.find_niches(name, marketplace)
            niche_id = existing[0].id if existing else await repo.ensure_niche(name, marketplace)
            summary.created += not existing
            summary.niches[(name, marketplace.value)] = niche_id
            changed = await repo.upsert_columns(niche_id, points, source="csv")
            if changed:
                await repo.touch_trends(niche_id)
                summary.changed[niche_id] = changed
            summary.rows += len(points)
    return summary
