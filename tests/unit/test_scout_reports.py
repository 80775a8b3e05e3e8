import csv
import io
import math
import re
from datetime import date, datetime, timedelta
from uuid import UUID, uuid4

import orjson
import pytest
from openpyxl import load_workbook

from adolf.models.content import Marketplace
from adolf.models.scout import (
    AnalysisResult,
    Backtest,
    Competition,
    Demand,
    Economics,
    Forecast,
    ForecastPoint,
    HistoryPoint,
    ModelAccuracy,
    Opportunity,
    OpportunityScore,
    ReportFormat,
    ScoreComponent,
)
from adolf.scout.reports import render_report, warm_up

NICHE = "<Кофе & чай> \"зерновой\" 'премиум'"
HISTORY_WEEKS = 104
HORIZON = 12


def make_result(history_weeks: int = HISTORY_WEEKS, horizon: int = HORIZON) -> AnalysisResult:
    first = date(2023, 1, 2)  # a Monday
    weeks = [first + timedelta(weeks=i) for i in range(history_weeks)]
    history = [
        HistoryPoint(week=w, demand=round(1000 + 4 * i + 250 * math.sin(2 * math.pi * i / 52), 1))
        for i, w in enumerate(weeks)
    ]
    forecast = []
    for h in range(1, horizon + 1):
        i = history_weeks - 1 + h
        mean = 1000 + 4 * i + 250 * math.sin(2 * math.pi * i / 52)
        spread = 40 * math.sqrt(h)
        forecast.append(
            ForecastPoint(
                week=weeks[-1] + timedelta(weeks=h),
                mean=mean,
                lo80=mean - spread,
                hi80=mean + spread,
                lo95=mean - 1.5 * spread,
                hi95=mean + 1.5 * spread,
            )
        )
    ets = ModelAccuracy(model="ets", mase=0.71, smape=9.4)
    theta = ModelAccuracy(model="theta", mase=0.83, smape=11.2)
    snaive = ModelAccuracy(model="seasonal_naive", mase=1.0, smape=14.8)
    components = [
        ScoreComponent(name="demand", value=78.0, weight=0.25, reason="Спрос высокий: 1 400 заказов в неделю"),
        ScoreComponent(name="growth", value=64.5, weight=0.2, reason="Рост +18 % год к году"),
        ScoreComponent(name="competition", value=41.0, weight=0.2, reason="Топ-10 продавцов держат 62 % <продаж>"),
        ScoreComponent(name="entry", value=55.0, weight=0.1, reason="Новые продавцы приходят & остаются"),
        ScoreComponent(name="margin", value=70.0, weight=0.15, reason="Маржинальность 31 %"),
        ScoreComponent(name="seasonality", value=35.0, weight=0.1, reason="Выраженный пик в декабре"),
    ]
    return AnalysisResult(
        niche_id=uuid4(),
        niche_name=NICHE,
        marketplace=Marketplace.WB,
        weeks=history_weeks,
        first_week=weeks[0],
        last_week=weeks[-1],
        warnings=["Пропущены 2 недели данных — заполнены интерполяцией"],
        history=history,
        demand=Demand(
            level=1420.5,
            measure="orders",
            growth=0.18,
            recent_growth=-0.04,
            seasonality_strength=0.62,
            peak_week_of_year=51,
        ),
        forecast=Forecast(model="ets", horizon=horizon, points=forecast),
        backtest=Backtest(folds=3, horizon=horizon, candidates=[ets, theta, snaive], chosen=ets, baseline=snaive),
        competition=Competition(
            sellers=312, hhi=820.0, top10_share=0.62, new_sellers=41, new_seller_rate=0.13, demand_per_seller=4.55
        ),
        economics=Economics(
            price=890.0, cost=350.0, commission=0.15, logistics=75.0, unit_margin=331.5, margin_rate=0.372
        ),
        score=OpportunityScore(value=61.3, components=components),
        opportunities=[
            Opportunity(
                kind="query",
                name="кофе в капсулах <nespresso>",
                demand_growth=0.42,
                sellers=58,
                reason="Запрос растёт быстрее ниши, продавцов мало",
            ),
            Opportunity(
                kind="segment",
                name="Чай улун",
                demand_growth=None,
                sellers=None,
                reason="Сегмент без явного лидера & с низким HHI",
            ),
        ],
    )


@pytest.fixture(scope="module")
def result() -> AnalysisResult:
    return make_result()


def render(result: AnalysisResult, fmt: ReportFormat, directory, name: str | None = None) -> tuple[bytes, UUID]:
    analysis_id = uuid4()
    path = directory / (name or f"report.{fmt.value}")
    size = render_report(result, analysis_id, fmt, path)
    data = path.read_bytes()
    assert size == len(data) == path.stat().st_size
    assert [p.name for p in directory.iterdir()] == [path.name], "no temp files left behind"
    return data, analysis_id


def test_json_is_the_whole_result_plus_id_and_time(result, tmp_path):
    data, analysis_id = render(result, ReportFormat.JSON, tmp_path)
    assert data.decode("utf-8")  # UTF-8, not \u-escaped only
    assert "Кофе".encode() in data
    loaded = orjson.loads(data)
    assert loaded.pop("analysis_id") == str(analysis_id)
    generated_at = datetime.fromisoformat(loaded.pop("generated_at"))
    assert generated_at.tzinfo is not None
    assert loaded == result.model_dump(mode="json")
    assert AnalysisResult.model_validate(loaded) == result
    assert b"\n  " in data  # indented


def read_csv(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM, for Excel"
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_csv_holds_history_forecast_score_and_backtest(result, tmp_path):
    data, analysis_id = render(result, ReportFormat.CSV, tmp_path)
    rows = read_csv(data)
    assert list(rows[0])[:4] == ["section", "week", "key", "value"]
    by_section: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_section.setdefault(row["section"], []).append(row)

    summary = {r["key"]: r["value"] for r in by_section["summary"]}
    assert summary["niche_name"] == NICHE
    assert summary["analysis_id"] == str(analysis_id)
    assert summary["marketplace"] == "wb"

    history = by_section["history"]
    assert [date.fromisoformat(r["week"]) for r in history] == [p.week for p in result.history]
    assert [float(r["value"]) for r in history] == [p.demand for p in result.history]

    forecast = by_section["forecast"]
    assert [date.fromisoformat(r["week"]) for r in forecast] == [p.week for p in result.forecast.points]
    for row, point in zip(forecast, result.forecast.points, strict=True):
        assert float(row["value"]) == pytest.approx(point.mean)
        for bound in ("lo80", "hi80", "lo95", "hi95"):
            assert float(row[bound]) == pytest.approx(getattr(point, bound))

    (total,) = by_section["score"]
    assert float(total["value"]) == result.score.value
    components = {r["key"]: r for r in by_section["score_component"]}
    assert set(components) == {c.name for c in result.score.components}
    for comp in result.score.components:
        assert float(components[comp.name]["value"]) == comp.value
        assert float(components[comp.name]["weight"]) == comp.weight
        assert components[comp.name]["note"] == comp.reason

    models = {r["key"]: r for r in by_section["backtest_model"]}
    assert set(models) == {"ets", "theta", "seasonal_naive"}
    assert models["ets"]["kind"] == "chosen"
    assert models["seasonal_naive"]["kind"] == "baseline"
    assert models["theta"]["kind"] == "candidate"
    assert float(models["ets"]["mase"]) == 0.71
    assert float(models["ets"]["smape"]) == 9.4

    assert [r["key"] for r in by_section["opportunity"]] == [o.name for o in result.opportunities]
    assert by_section["warning"][0]["note"] == result.warnings[0]


def test_xlsx_has_typed_sheets(result, tmp_path):
    data, _ = render(result, ReportFormat.XLSX, tmp_path)
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["Сводка", "История", "Прогноз", "Оценка", "Возможности", "Бэктест"]

    summary = {row[0]: row[1] for row in wb["Сводка"].iter_rows(min_row=2, values_only=True)}
    assert summary["Ниша"] == NICHE
    assert summary["Маркетплейс"] == "Wildberries"
    assert summary["Оценка возможности"] == result.score.value
    assert summary["Модель прогноза"] == "ets"
    assert summary["MASE выбранной модели"] == 0.71
    assert summary["MASE базовой модели (seasonal_naive)"] == 1.0
    assert summary["Предупреждение"] == result.warnings[0]
    assert wb["Сводка"]["A1"].font.bold

    history = wb["История"]
    assert history.max_row == 1 + HISTORY_WEEKS
    assert [c.value for c in history[1]] == ["Неделя", "Спрос"]
    assert history["A1"].font.bold
    week = history["A2"].value
    assert isinstance(week, datetime) and week.date() == result.history[0].week
    assert history["A2"].is_date
    assert isinstance(history["B2"].value, int | float) and history["B2"].value == result.history[0].demand
    assert history.column_dimensions["A"].width >= 10

    forecast = wb["Прогноз"]
    assert forecast.max_row == 1 + HORIZON
    last = [c.value for c in forecast[forecast.max_row]]
    point = result.forecast.points[-1]
    assert last[0].date() == point.week
    assert last[1:] == pytest.approx([point.mean, point.lo80, point.hi80, point.lo95, point.hi95])

    score = list(wb["Оценка"].iter_rows(min_row=2, values_only=True))
    assert len(score) == len(result.score.components) + 1  # and the total
    assert [r[1] for r in score[:-1]] == [c.name for c in result.score.components]
    assert score[0][2:4] == (78.0, 0.25) and score[0][5] == result.score.components[0].reason

    opportunities = list(wb["Возможности"].iter_rows(min_row=2, values_only=True))
    assert [r[1] for r in opportunities] == [o.name for o in result.opportunities]
    assert opportunities[0][2] == 0.42 and opportunities[1][2] is None

    backtest = list(wb["Бэктест"].iter_rows(min_row=2, max_row=4, values_only=True))
    assert [(r[0], r[1]) for r in backtest] == [("ets", 0.71), ("theta", 0.83), ("seasonal_naive", 1.0)]


def svg_of(page: str, figure_id: str) -> str:
    match = re.search(rf'<figure id="{figure_id}">(.*?)</figure>', page, re.S)
    assert match, figure_id
    return match.group(1)


def test_html_is_one_self_contained_page(result, tmp_path):
    data, analysis_id = render(result, ReportFormat.HTML, tmp_path)
    page = data.decode("utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="ru">' in page and '<meta charset="utf-8">' in page
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page

    # escaped everywhere: the raw name never appears, the escaped one does
    assert NICHE not in page
    assert "&lt;Кофе &amp; чай&gt;" in page
    assert "<Кофе" not in page and "<nespresso>" not in page and "<продаж>" not in page

    # no external resources
    assert not re.search(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert "<script" not in page.lower() and "<link" not in page.lower() and "<img" not in page.lower()
    assert "@import" not in page and not re.search(r"url\(\s*['\"]?(?!#)", page)  # only url(#local-id)

    demand_svg = svg_of(page, "demand-chart")
    assert demand_svg.lstrip().startswith("<svg")
    for series in ("demand-history", "demand-forecast", "demand-band80", "demand-band95"):
        assert re.search(rf'<g id="{series}">(?:(?!</g>).)*<path ', demand_svg, re.S), series
    score_svg = svg_of(page, "score-chart")
    assert score_svg.lstrip().startswith("<svg")
    for comp in result.score.components:
        assert f'id="score-bar-{comp.name}"' in score_svg
    assert "вес 25 %" in score_svg  # text stays text (svg.fonttype none), weight shown

    ids = re.findall(r'\bid="([^"]+)"', page)
    assert len(ids) == len(set(ids)), "ids are unique on the page"

    for text in ("Wildberries", "Рост +18 % год к году", "Сегмент без явного лидера &amp; с низким HHI", "theta"):
        assert text in page
    assert str(analysis_id) in page
    assert 'id="score-value">61<' in page  # the score in the header, rounded


def test_a_sparse_result_renders_in_every_format(tmp_path):
    bare = make_result(history_weeks=8, horizon=1).model_copy(
        update={
            "warnings": [],
            "opportunities": [],
            "demand": Demand(
                level=0.0, measure="search_volume", growth=None, recent_growth=None, seasonality_strength=None
            ),
            "competition": Competition(
                sellers=None, hhi=None, top10_share=None, new_sellers=None, new_seller_rate=None, demand_per_seller=None
            ),
            "economics": Economics(
                price=None, cost=None, commission=0.15, logistics=0.0, unit_margin=None, margin_rate=None
            ),
            "backtest": Backtest(
                folds=1,
                horizon=1,
                candidates=[ModelAccuracy(model="naive", mase=None, smape=None)],
                chosen=ModelAccuracy(model="naive", mase=None, smape=None),
                baseline=ModelAccuracy(model="naive", mase=None, smape=None),
            ),
        }
    )
    for fmt in ReportFormat:
        directory = tmp_path / fmt.value
        directory.mkdir()
        data, _ = render(bare, fmt, directory)
        assert data


def test_names_are_never_formulas(result, tmp_path):
    evil = result.model_copy(update={"niche_name": '=HYPERLINK("x";"y")'})
    data, _ = render(evil, ReportFormat.XLSX, tmp_path)
    cell = load_workbook(io.BytesIO(data))["Сводка"]["B2"]
    assert cell.value == evil.niche_name and cell.data_type == "s"
    data, _ = render(evil, ReportFormat.CSV, tmp_path, name="report.xlsx")  # replaces it
    rows = read_csv(data)
    assert next(r["value"] for r in rows if r["key"] == "niche_name") == "'" + evil.niche_name
    assert next(r["value"] for r in rows if r["key"] == "recent_growth") == "-0.04"  # numbers stay numbers


def test_replaces_an_existing_report(result, tmp_path):
    path = tmp_path / "r.json"
    path.write_bytes(b"old")
    size = render_report(result, uuid4(), ReportFormat.JSON, path)
    assert size == path.stat().st_size > 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_a_failed_write_leaves_no_temp_file(result, tmp_path):
    target = tmp_path / "a-directory"
    target.mkdir()
    (target / "x").write_text("not empty")
    with pytest.raises(OSError):
        render_report(result, uuid4(), ReportFormat.CSV, target)  # os.replace onto a non-empty directory fails
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-directory"]


def test_warm_up_is_harmless():
    warm_up()
