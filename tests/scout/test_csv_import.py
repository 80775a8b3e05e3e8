"""`adolf scout import`: good files land whole, a bad row stops the file and nothing is written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

from adolf.services.scout_import import CsvImportError, import_series, parse_csv, read_csv

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "scout_trends.csv"
HEADER = "niche,marketplace,week,orders,search_volume,revenue,avg_price,sellers,new_sellers,top10_share,hhi\n"


async def _counts(db: asyncpg.Pool) -> tuple[int, int]:
    return await db.fetchval("SELECT count(*) FROM niches"), await db.fetchval("SELECT count(*) FROM niche_trends")


async def test_example_file_imports_every_row(db: asyncpg.Pool) -> None:
    summary = await import_series(db, read_csv(EXAMPLE))
    rows = EXAMPLE.read_text(encoding="utf-8").count("\n") - 1
    assert summary.rows == rows
    assert summary.created == 3
    assert await _counts(db) == (3, rows)
    coffee = await db.fetchrow(
        "SELECT t.orders, t.hhi::float8, t.top10_share::float8, t.source FROM niche_trends t "
        "JOIN niches n ON n.id = t.niche_id WHERE n.name = 'Кофе в зёрнах' ORDER BY week_start LIMIT 1"
    )
    first = EXAMPLE.read_text(encoding="utf-8").splitlines()[1].split(",")
    assert coffee["orders"] == int(first[3])
    assert coffee["hhi"] == pytest.approx(float(first[10]))
    assert coffee["source"] == "csv"


async def test_reimport_changes_nothing_and_merges_new_values(db: asyncpg.Pool) -> None:
    await import_series(db, read_csv(EXAMPLE))
    again = await import_series(db, read_csv(EXAMPLE))
    assert again.created == 0 and again.changed == {}
    text = HEADER.split(",")[:4]
    update = ",".join(text) + "\nКофе в зёрнах,ozon,2024-06-03,99\n"
    changed = await import_series(db, parse_csv(update))
    assert sum(changed.changed.values()) == 1
    row = await db.fetchrow(
        "SELECT orders, sellers FROM niche_trends t JOIN niches n ON n.id = t.niche_id "
        "WHERE n.name = 'Кофе в зёрнах' AND week_start = '2024-06-03'"
    )
    assert row["orders"] == 99
    assert row["sellers"] is not None  # a column the second file lacks keeps the first file's value


BAD_ROWS = [
    ("Кофе,ozon,2024-06-04,10", 3, "not a Monday"),
    ("Кофе,ozon,2024-13-03,10", 3, "not an ISO date"),
    ("Кофе,amazon,2024-06-10,10", 3, "not one of wb, ozon, ym"),
    ("Кофе,ozon,2024-06-10,-5", 3, "orders"),
    ("Кофе,ozon,2024-06-10,12.5", 3, "not a whole number"),
    ("Кофе,ozon,2024-06-10,", 3, "'orders' is empty"),
    (",ozon,2024-06-10,10", 3, "'niche' is empty"),
    ("Кофе,ozon,2024-06-03,11", 3, "already given on line 2"),
]


@pytest.mark.parametrize(("bad", "line", "message"), BAD_ROWS)
async def test_a_bad_row_stops_the_whole_file(db: asyncpg.Pool, bad: str, line: int, message: str) -> None:
    text = "niche,marketplace,week,orders\nКофе,ozon,2024-06-03,10\n" + bad + "\nКофе,ozon,2024-06-17,10\n"
    with pytest.raises(CsvImportError) as caught:
        parse_csv(text)
    assert caught.value.line == line
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"line {line}: ")
    assert await _counts(db) == (0, 0)


def test_bad_headers_and_shapes_are_clear() -> None:
    with pytest.raises(CsvImportError, match="lacks the column"):
        parse_csv("niche,marketplace,week\nx,ozon,2024-06-03\n")
    with pytest.raises(CsvImportError, match="unknown column"):
        parse_csv("niche,marketplace,week,orders,colour\nx,ozon,2024-06-03,1,red\n")
    with pytest.raises(CsvImportError, match="expected 4 fields"):
        parse_csv("niche,marketplace,week,orders\nx,ozon,2024-06-03,1,extra\n")
    with pytest.raises(CsvImportError, match="no rows"):
        parse_csv("niche,marketplace,week,orders\n")
    with pytest.raises(CsvImportError, match="empty"):
        parse_csv("")
    with pytest.raises(CsvImportError, match="top10_share"):
        parse_csv("niche,marketplace,week,orders,top10_share\nx,ozon,2024-06-03,1,1.5\n")


def test_semicolons_and_decimal_commas_from_russian_excel() -> None:
    series = parse_csv("niche;marketplace;week;orders;avg_price\nКофе;ozon;2024-06-03;10;1 190,50\n")
    (columns,) = series.values()
    assert columns.avg_price[0] == pytest.approx(1190.5)


async def test_a_failure_while_writing_rolls_back_the_whole_file(db: asyncpg.Pool) -> None:
    series = parse_csv("niche,marketplace,week,orders\nA,ozon,2024-06-03,1\nB,wb,2024-06-03,2\n")
    await db.execute("ALTER TABLE niche_trends ADD CONSTRAINT test_no_wb CHECK (orders <> 2)")
    try:
        with pytest.raises(asyncpg.CheckViolationError):
            await import_series(db, series)
        assert await _counts(db) == (0, 0)
    finally:
        await db.execute("ALTER TABLE niche_trends DROP CONSTRAINT test_no_wb")


def test_cli_prints_one_line_for_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("niche,marketplace,week,orders\nКофе,ozon,2024-06-04,10\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "adolf", "scout", "import", str(bad)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "adolf scout: line 2: column 'week': 2024-06-04 is a Tuesday, not a Monday"
    ]
    missing = subprocess.run(
        [sys.executable, "-m", "adolf", "scout", "import", str(tmp_path / "none.csv")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1 and "cannot read" in missing.stderr and "Traceback" not in missing.stderr


def test_a_file_that_is_not_utf8_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "cp1251.csv"
    path.write_bytes(
        b"niche,marketplace,week,orders\nA,ozon,2024-06-03,1\n" + "Кофе,ozon,2024-06-10,2\n".encode("cp1251")
    )
    with pytest.raises(CsvImportError, match="not UTF-8") as caught:
        read_csv(path)
    assert caught.value.line == 3


def test_classic_mac_line_endings_import_like_any_other() -> None:
    series = parse_csv("niche,marketplace,week,orders\rКофе,ozon,2024-06-03,5\rКофе,ozon,2024-06-10,6\r")
    (columns,) = series.values()
    assert columns.orders == [5, 6]
