"""Scout's report export (SPEC section 5): one analysis result as a CSV, XLSX, JSON or self-contained HTML file.

`render_report` is plain synchronous CPU work: it runs in the Scout process pool, never on an event loop. matplotlib
and openpyxl are imported here at module level, so a pool initializer that imports this module (and may call
`warm_up`) takes the import and font-loading cost once, not the first report. Charts are drawn on
`matplotlib.figure.Figure` objects with the SVG canvas directly: no pyplot, no global figure registry, no leaks.
"""

from __future__ import annotations

import csv
import html
import io
import os
import re
import secrets
import warnings
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import matplotlib
import matplotlib.dates as mdates
import orjson
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from openpyxl import Workbook
from openpyxl.chart import Reference, ScatterChart, Series
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from adolf.models.scout import AnalysisResult, ModelAccuracy, ReportFormat

__all__ = ["render_report", "warm_up"]

# ---------------------------------------------------------------- labels (Russian, the sellers' language)

MARKETPLACES = {"wb": "Wildberries", "ozon": "Ozon", "ym": "Яндекс Маркет"}
COMPONENTS = {
    "demand": "Спрос",
    "growth": "Рост",
    "competition": "Конкуренция",
    "entry": "Порог входа",
    "margin": "Маржа",
    "seasonality": "Сезонность",
}
MEASURES = {"orders": "заказы в неделю", "search_volume": "поисковые запросы в неделю"}
OPPORTUNITY_KINDS = {"query": "запрос", "segment": "сегмент", "niche": "ниша"}
MONTHS = ("янв", "фев", "мар", "апр", "май", "июн", "июл", "авг", "сен", "окт", "ноя", "дек")
NO_DATA = "нет данных"

# DejaVu Sans ships with matplotlib and covers Cyrillic; text stays text in the SVG (smaller, selectable).
_RC = {
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans"],
    "svg.fonttype": "none",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 12,
    "font.size": 9,
}
# No <metadata> block: it carries dc/cc namespace links and a "Matplotlib v..., https://matplotlib.org/" creator.
_SVG_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}

C_HISTORY = "#1f5fa8"
C_FORECAST = "#d9622b"


def render_report(result: AnalysisResult, analysis_id: UUID, fmt: ReportFormat, path: Path) -> int:
    """Write `result` as a `fmt` report to `path` atomically (a temp file in the same directory, then os.replace)
    and return the file's size in bytes."""
    generated_at = datetime.now(UTC).replace(microsecond=0)
    renderer = _RENDERERS[ReportFormat(fmt)]
    data = renderer(result, analysis_id, generated_at)
    return _write_atomically(Path(path), data)


def warm_up() -> None:
    """Load fonts and the SVG backend once (for a process pool initializer), so the first report is as fast as the
    rest."""
    with _chart_context():
        fig = Figure(figsize=(2, 1))
        ax = fig.add_subplot()
        ax.plot([date(2025, 1, 6), date(2025, 1, 13)], [1.0, 2.0])
        ax.set_title("Спрос")
        _svg(fig)


def _write_atomically(path: Path, data: bytes) -> int:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path.stat().st_size


# ---------------------------------------------------------------- JSON


def _render_json(result: AnalysisResult, analysis_id: UUID, generated_at: datetime) -> bytes:
    document = {
        "analysis_id": str(analysis_id),
        "generated_at": generated_at.isoformat(),
        **result.model_dump(mode="json"),
    }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)


# ---------------------------------------------------------------- CSV

CSV_COLUMNS = (
    "section",
    "week",
    "key",
    "value",
    "lo80",
    "hi80",
    "lo95",
    "hi95",
    "weight",
    "mase",
    "smape",
    "sellers",
    "kind",
    "note",
)


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value  # a niche's or query's name is not a formula for the spreadsheet to run
    return str(value)


def _csv_rows(result: AnalysisResult, analysis_id: UUID, generated_at: datetime) -> Iterator[dict[str, Any]]:
    """One tidy table: a `section` column says what a row is; filter on it in a spreadsheet."""
    summary = {
        "analysis_id": analysis_id,
        "generated_at": generated_at,
        "niche_id": result.niche_id,
        "niche_name": result.niche_name,
        "marketplace": result.marketplace.value,
        "weeks": result.weeks,
        "first_week": result.first_week,
        "last_week": result.last_week,
    }
    for key, value in summary.items():
        yield {"section": "summary", "key": key, "value": value}
    for prefix, model in (("demand", result.demand), ("competition", result.competition)):
        for key, value in model.model_dump().items():
            yield {"section": prefix, "key": key, "value": value}
    for key, value in result.economics.model_dump().items():
        yield {"section": "economics", "key": key, "value": value}
    for warning in result.warnings:
        yield {"section": "warning", "note": warning}
    for point in result.history:
        yield {"section": "history", "week": point.week, "key": "demand", "value": point.demand}
    for fp in result.forecast.points:
        bounds = {"lo80": fp.lo80, "hi80": fp.hi80, "lo95": fp.lo95, "hi95": fp.hi95}
        yield {"section": "forecast", "week": fp.week, "key": result.forecast.model, "value": fp.mean, **bounds}
    yield {"section": "score", "key": "total", "value": result.score.value}
    for comp in result.score.components:
        yield {
            "section": "score_component",
            "key": comp.name,
            "value": comp.value,
            "weight": comp.weight,
            "note": comp.reason,
        }
    yield from _csv_backtest(result)
    for opp in result.opportunities:
        yield {
            "section": "opportunity",
            "key": opp.name,
            "value": opp.demand_growth,
            "sellers": opp.sellers,
            "kind": opp.kind,
            "note": opp.reason,
        }


def _csv_backtest(result: AnalysisResult) -> Iterator[dict[str, Any]]:
    bt = result.backtest
    yield {"section": "backtest", "key": "folds", "value": bt.folds}
    yield {"section": "backtest", "key": "horizon", "value": bt.horizon}
    for accuracy, kind in _backtest_models(result):
        yield {
            "section": "backtest_model",
            "key": accuracy.model,
            "mase": accuracy.mase,
            "smape": accuracy.smape,
            "kind": kind,
        }


def _render_csv(result: AnalysisResult, analysis_id: UUID, generated_at: datetime) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in _csv_rows(result, analysis_id, generated_at):
        writer.writerow({column: _csv_cell(row.get(column)) for column in CSV_COLUMNS})
    return buf.getvalue().encode("utf-8-sig")


# ---------------------------------------------------------------- shared helpers


def _backtest_models(result: AnalysisResult) -> list[tuple[ModelAccuracy, str]]:
    """Every model of the backtest with its role: "chosen", "baseline", "candidate" (or "chosen;baseline")."""
    bt = result.backtest
    rows: list[tuple[ModelAccuracy, str]] = []
    seen: set[str] = set()
    for accuracy in [*bt.candidates, bt.chosen, bt.baseline]:
        if accuracy.model in seen:
            continue
        seen.add(accuracy.model)
        roles = [r for r, m in (("chosen", bt.chosen), ("baseline", bt.baseline)) if m.model == accuracy.model]
        rows.append((accuracy, ";".join(roles) or "candidate"))
    return rows


def _component_label(name: str) -> str:
    return COMPONENTS.get(name, name)


def _num(value: float | int | None, digits: int = 0) -> str:
    """Russian number formatting: 12 345,6 (a narrow no-break space between thousands, a decimal comma)."""
    if value is None:
        return NO_DATA
    text = f"{value:,.{digits}f}"
    return text.replace(",", "\u202f").replace(".", ",")


def _pct(value: float | None, digits: int = 1, signed: bool = False) -> str:
    if value is None:
        return NO_DATA
    text = _num(abs(value) * 100, digits)
    sign = ("+" if value > 0 else "−" if value < 0 else "") if signed else ("−" if value < 0 else "")
    return f"{sign}{text}\u00a0%"


def _money(value: float | None) -> str:
    return NO_DATA if value is None else f"{_num(value, 2)}\u00a0₽"


def _model_verdict(result: AnalysisResult) -> str:
    chosen, baseline = result.backtest.chosen, result.backtest.baseline
    if chosen.mase is None or baseline.mase is None:
        return "сравнение с базовой моделью недоступно"
    if chosen.model == baseline.model:
        return "выбрана базовая сезонная наивная модель"
    if chosen.mase < baseline.mase:
        return f"точнее базовой модели ({_num(chosen.mase, 2)} против {_num(baseline.mase, 2)} MASE)"
    return f"не точнее базовой модели ({_num(chosen.mase, 2)} против {_num(baseline.mase, 2)} MASE)"


# ---------------------------------------------------------------- XLSX

BOLD = Font(bold=True)
HEADER_FILL = PatternFill("solid", fgColor="DDE6F2")
DATE_FORMAT = "DD.MM.YYYY"
DATETIME_FORMAT = "DD.MM.YYYY HH:MM"
PCT_FORMAT = "0.0%"
NUM_FORMAT = "#,##0.0"
INT_FORMAT = "#,##0"
MONEY_FORMAT = "#,##0.00"
RATIO_FORMAT = "0.00"

SummaryRow = tuple[str, Any, str | None, str | None]  # label, value, number format, comment


def _summary_rows(result: AnalysisResult, analysis_id: UUID, generated_at: datetime) -> list[SummaryRow]:
    d, c, e, bt = result.demand, result.competition, result.economics, result.backtest
    return [
        ("Ниша", result.niche_name, None, None),
        ("Маркетплейс", MARKETPLACES.get(result.marketplace.value, result.marketplace.value), None, None),
        ("Оценка возможности", result.score.value, "0.0", "из 100"),
        ("Период данных с", result.first_week, DATE_FORMAT, None),
        ("Период данных по", result.last_week, DATE_FORMAT, None),
        ("Недель данных", result.weeks, INT_FORMAT, None),
        ("Спрос (среднее за 13 недель)", d.level, NUM_FORMAT, MEASURES.get(d.measure, d.measure)),
        ("Рост год к году", d.growth, PCT_FORMAT, "13 недель против тех же недель год назад"),
        ("Рост за последние 13 недель", d.recent_growth, PCT_FORMAT, "против 13 недель до них"),
        ("Сила сезонности", d.seasonality_strength, RATIO_FORMAT, "0 — нет сезонности, 1 — только сезонность"),
        ("Пиковая неделя года", d.peak_week_of_year, "0", None),
        ("Продавцов", c.sellers, INT_FORMAT, None),
        ("Индекс HHI", c.hhi, INT_FORMAT, "0–10 000; выше 2 500 — высокая концентрация"),
        ("Доля топ-10 продавцов", c.top10_share, PCT_FORMAT, None),
        ("Новых продавцов за 13 недель", c.new_sellers, INT_FORMAT, None),
        ("Доля новых продавцов", c.new_seller_rate, PCT_FORMAT, None),
        ("Спрос на продавца", c.demand_per_seller, NUM_FORMAT, None),
        ("Цена", e.price, MONEY_FORMAT, "₽"),
        ("Себестоимость", e.cost, MONEY_FORMAT, "₽"),
        ("Комиссия маркетплейса", e.commission, PCT_FORMAT, "от цены"),
        ("Логистика", e.logistics, MONEY_FORMAT, "₽ за единицу"),
        ("Маржа на единицу", e.unit_margin, MONEY_FORMAT, "₽"),
        ("Маржинальность", e.margin_rate, PCT_FORMAT, "маржа / цена"),
        ("Модель прогноза", bt.chosen.model, None, _model_verdict(result)),
        ("MASE выбранной модели", bt.chosen.mase, RATIO_FORMAT, "меньше 1 — лучше сезонной наивной модели"),
        (f"MASE базовой модели ({bt.baseline.model})", bt.baseline.mase, RATIO_FORMAT, None),
        ("sMAPE выбранной модели", _frac(bt.chosen.smape), PCT_FORMAT, None),
        ("sMAPE базовой модели", _frac(bt.baseline.smape), PCT_FORMAT, None),
        ("Горизонт прогноза, недель", result.forecast.horizon, "0", None),
        ("ID анализа", str(analysis_id), None, None),
        ("Сформирован (UTC)", generated_at.replace(tzinfo=None), DATETIME_FORMAT, None),
    ]


def _frac(percent: float | None) -> float | None:
    return None if percent is None else percent / 100


def _header(ws: Worksheet, titles: Iterable[str]) -> None:
    ws.append(list(titles))
    for cell in ws[1]:
        cell.font = BOLD
        cell.fill = HEADER_FILL
    ws.freeze_panes = "A2"


def _set_formats(ws: Worksheet, formats: dict[int, str]) -> None:
    for column, number_format in formats.items():
        for (cell,) in ws.iter_rows(min_row=2, min_col=column, max_col=column):
            cell.number_format = number_format


def _autowidth(ws: Worksheet, limits: dict[int, int] | None = None) -> None:
    widths: dict[int, int] = {}
    for row in ws.iter_rows():
        for cell in row:
            if cell.value is None:
                continue
            if isinstance(cell.value, date | datetime):
                length = 11
            elif isinstance(cell.value, float):
                length = len(f"{cell.value:,.2f}")
            else:
                length = len(str(cell.value))
            widths[cell.column] = max(widths.get(cell.column, 0), length)
    for column, width in widths.items():
        cap = (limits or {}).get(column, 60)
        ws.column_dimensions[get_column_letter(column)].width = min(cap, max(8, width + 2))


def _sheet_summary(ws: Worksheet, result: AnalysisResult, analysis_id: UUID, generated_at: datetime) -> None:
    _header(ws, ("Показатель", "Значение", "Комментарий"))
    for label, value, number_format, comment in _summary_rows(result, analysis_id, generated_at):
        ws.append([label, value, comment if value is not None else NO_DATA])
        cell = ws.cell(row=ws.max_row, column=2)
        if number_format and value is not None:
            cell.number_format = number_format
        cell.alignment = Alignment(horizontal="left")
    for warning in result.warnings:
        ws.append(["Предупреждение", warning, None])
        ws.cell(row=ws.max_row, column=1).font = Font(bold=True, color="B03A2E")
    ws.cell(row=4, column=2).font = Font(bold=True, size=14)
    _autowidth(ws, {2: 45, 3: 60})


def _sheet_history(ws: Worksheet, result: AnalysisResult) -> None:
    _header(ws, ("Неделя", "Спрос"))
    for point in result.history:
        ws.append([point.week, point.demand])
    _set_formats(ws, {1: DATE_FORMAT, 2: NUM_FORMAT})
    _autowidth(ws)


def _sheet_forecast(ws: Worksheet, result: AnalysisResult) -> None:
    _header(ws, ("Неделя", "Прогноз", "Нижняя 80 %", "Верхняя 80 %", "Нижняя 95 %", "Верхняя 95 %"))
    for fp in result.forecast.points:
        ws.append([fp.week, fp.mean, fp.lo80, fp.hi80, fp.lo95, fp.hi95])
    _set_formats(ws, {1: DATE_FORMAT, **dict.fromkeys(range(2, 7), NUM_FORMAT)})
    _autowidth(ws)


def _sheet_score(ws: Worksheet, result: AnalysisResult) -> None:
    _header(ws, ("Компонент", "Код", "Значение", "Вес", "Вклад", "Причина"))
    for comp in result.score.components:
        label = _component_label(comp.name)
        ws.append([label, comp.name, comp.value, comp.weight, comp.value * comp.weight, comp.reason])
    ws.append(["Итого", "total", result.score.value, sum(c.weight for c in result.score.components), None, None])
    for cell in ws[ws.max_row]:
        cell.font = BOLD
    _set_formats(ws, {3: "0.0", 4: "0%", 5: "0.0"})
    _autowidth(ws, {6: 90})
    for (cell,) in ws.iter_rows(min_row=2, min_col=6, max_col=6):
        cell.alignment = Alignment(wrap_text=True, vertical="top")


def _sheet_opportunities(ws: Worksheet, result: AnalysisResult) -> None:
    _header(ws, ("Тип", "Название", "Рост спроса", "Продавцов", "Почему"))
    for opp in result.opportunities:
        ws.append([OPPORTUNITY_KINDS.get(opp.kind, opp.kind), opp.name, opp.demand_growth, opp.sellers, opp.reason])
    _set_formats(ws, {3: PCT_FORMAT, 4: INT_FORMAT})
    _autowidth(ws, {5: 90})
    for (cell,) in ws.iter_rows(min_row=2, min_col=5, max_col=5):
        cell.alignment = Alignment(wrap_text=True, vertical="top")


def _sheet_backtest(ws: Worksheet, result: AnalysisResult) -> None:
    _header(ws, ("Модель", "MASE", "sMAPE", "Роль"))
    roles = {"chosen": "выбрана", "baseline": "базовая", "candidate": "кандидат"}
    for accuracy, kind in _backtest_models(result):
        role = ", ".join(roles[k] for k in kind.split(";"))
        ws.append([accuracy.model, accuracy.mase, _frac(accuracy.smape), role])
        if "chosen" in kind:
            for cell in ws[ws.max_row]:
                cell.font = BOLD
    ws.append([])
    ws.append(["Фолдов", result.backtest.folds])
    ws.append(["Горизонт, недель", result.backtest.horizon])
    _set_formats(ws, {2: RATIO_FORMAT, 3: PCT_FORMAT})
    _autowidth(ws)


def _xlsx_chart(result: AnalysisResult, history: Worksheet, forecast: Worksheet) -> ScatterChart:
    """History and forecast (with its 95 % band) on one date axis: a scatter chart lets each series have its own
    x range, so no helper sheet is needed."""
    chart = ScatterChart()
    chart.title = "Спрос: история и прогноз"
    chart.style = 2
    chart.height, chart.width = 9, 22
    chart.x_axis.number_format = "mmm yyyy"
    chart.x_axis.title = "Неделя"
    chart.y_axis.title = MEASURES.get(result.demand.measure, result.demand.measure)
    chart.x_axis.delete = False  # openpyxl 3.1 hides axes by default
    chart.y_axis.delete = False
    n_hist, n_fc = len(result.history), len(result.forecast.points)
    plots = [
        (history, 2, n_hist, "История", C_HISTORY, None),
        (forecast, 2, n_fc, "Прогноз", C_FORECAST, None),
        (forecast, 5, n_fc, "Нижняя 95 %", "E8A87C", "dash"),
        (forecast, 6, n_fc, "Верхняя 95 %", "E8A87C", "dash"),
    ]
    for ws, column, rows, title, color, dash in plots:
        if rows == 0:
            continue
        xs = Reference(ws, min_col=1, min_row=2, max_row=rows + 1)
        ys = Reference(ws, min_col=column, min_row=2, max_row=rows + 1)
        series = Series(ys, xs, title=title)
        series.marker.symbol = "none"
        series.smooth = False
        series.graphicalProperties.line.solidFill = color.lstrip("#")
        series.graphicalProperties.line.width = 19050
        if dash:
            series.graphicalProperties.line.dashStyle = dash
        chart.series.append(series)
    return chart


def _no_formulas(wb: Workbook) -> None:
    """openpyxl stores a string that starts with "=" as a formula; nothing here is one (a niche named "=1+1")."""
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":
                    cell.data_type = "s"


def _render_xlsx(result: AnalysisResult, analysis_id: UUID, generated_at: datetime) -> bytes:
    wb = Workbook()
    summary = wb.active
    assert summary is not None
    summary.title = "Сводка"
    history, forecast = wb.create_sheet("История"), wb.create_sheet("Прогноз")
    _sheet_summary(summary, result, analysis_id, generated_at)
    _sheet_history(history, result)
    _sheet_forecast(forecast, result)
    _sheet_score(wb.create_sheet("Оценка"), result)
    _sheet_opportunities(wb.create_sheet("Возможности"), result)
    _sheet_backtest(wb.create_sheet("Бэктест"), result)
    if result.history or result.forecast.points:
        summary.add_chart(_xlsx_chart(result, history, forecast), "E2")
    _no_formulas(wb)
    wb.properties.title = f"Scout: {result.niche_name}"
    wb.properties.creator = "ADOLF Scout"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# ---------------------------------------------------------------- charts (matplotlib, SVG)


def _chart_context() -> Any:
    return matplotlib.rc_context(_RC)


_SVG_ID_REF = re.compile(r'(\bid="|url\(#|href="#)([^")]+)')


def _svg(fig: Figure, prefix: str = "chart") -> str:
    """The figure as an inline <svg>: no XML prolog, no DOCTYPE, and every id (matplotlib's own `figure_1`,
    `axes_1`, ... repeat in each chart) prefixed so that two charts on one page keep the page's ids unique."""
    buf = io.StringIO()
    FigureCanvasSVG(fig).print_svg(buf, metadata=_SVG_METADATA)
    text = buf.getvalue()
    text = text[text.index("<svg") :].strip()
    own = f"{prefix}-"
    return _SVG_ID_REF.sub(lambda m: m[0] if m[2].startswith(own) else f"{m[1]}{own}{m[2]}", text)


def _margins(fig: Figure, *, left: float, right: float, bottom: float, top: float) -> None:
    """Margins in inches."""
    width, height = fig.get_size_inches()
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height)


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _month_label(x: float, _pos: int) -> str:
    d = mdates.num2date(x)
    return f"{MONTHS[d.month - 1]} {d.year}"


def _demand_chart(result: AnalysisResult) -> str:
    fig = Figure(figsize=(9, 3.6))
    ax = fig.add_subplot()
    _margins(fig, left=0.85, right=0.2, bottom=0.45, top=0.4)  # no layout engine: fixed margins are 2x faster
    fc = result.forecast.points
    if fc:
        weeks = [p.week for p in fc]
        ax.fill_between(
            weeks,
            [p.lo95 for p in fc],
            [p.hi95 for p in fc],
            color=C_FORECAST,
            alpha=0.15,
            linewidth=0,
            label="95 % интервал",
            gid="demand-band95",
        )
        ax.fill_between(
            weeks,
            [p.lo80 for p in fc],
            [p.hi80 for p in fc],
            color=C_FORECAST,
            alpha=0.3,
            linewidth=0,
            label="80 % интервал",
            gid="demand-band80",
        )
        ax.plot(
            weeks,
            [p.mean for p in fc],
            color=C_FORECAST,
            linewidth=1.8,
            linestyle="--",
            label=f"Прогноз ({result.forecast.model})",
            gid="demand-forecast",
        )
    if result.history:
        ax.plot(
            [p.week for p in result.history],
            [p.demand for p in result.history],
            color=C_HISTORY,
            linewidth=1.5,
            label="История",
            gid="demand-history",
        )
    if result.history and fc:
        ax.axvline(result.history[-1].week, color="#888888", linewidth=0.8, linestyle=":")
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=4, maxticks=10))
    ax.xaxis.set_major_formatter(FuncFormatter(_month_label))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _pos: _num(y)))
    ax.set_ylabel(MEASURES.get(result.demand.measure, result.demand.measure).capitalize())
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", color="#e5e5e5", linewidth=0.6)
    ax.set_title("Спрос: история и прогноз", loc="left")
    if result.history or fc:
        ax.legend(loc="upper left", frameon=False, ncols=4, fontsize=8)
    return _svg(fig, "demand")


def _score_color(value: float) -> str:
    return "#c0392b" if value < 40 else "#e0a800" if value < 65 else "#27ae60"


def _score_chart(result: AnalysisResult) -> str:
    comps = list(reversed(result.score.components))
    fig = Figure(figsize=(9, 0.45 * max(len(comps), 1) + 1.1))
    ax = fig.add_subplot()
    _margins(fig, left=2.1, right=0.2, bottom=0.5, top=0.4)
    labels = [f"{_shorten(_component_label(c.name), 22)} · вес {_num(c.weight * 100)} %" for c in comps]
    values = [c.value for c in comps]
    colors = [_score_color(c.value) if c.weight > 0 else "#bbbbbb" for c in comps]
    bars = ax.barh(range(len(comps)), values, color=colors, height=0.6)
    for bar, comp, value in zip(bars, comps, values, strict=True):
        bar.set_gid(f"score-bar-{comp.name}")
        ax.text(bar.get_width() + 1, bar.get_y() + bar.get_height() / 2, _num(value), va="center", fontsize=8)
    ax.set_yticks(range(len(comps)), labels)
    ax.set_xlim(0, 105)
    ax.axvline(result.score.value, color="#333333", linewidth=1, linestyle="--", gid="score-total")
    ax.set_xlabel("Баллы (0–100); пунктир — итоговая оценка")
    ax.set_title(f"Оценка возможности: {_num(result.score.value)} из 100", loc="left")
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)
    return _svg(fig, "score")


def _charts(result: AnalysisResult) -> tuple[str, str]:
    with _chart_context(), warnings.catch_warnings():
        # a niche's own words (a component or model name) may have a character DejaVu Sans lacks: not a failure
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font", category=UserWarning)
        return _demand_chart(result), _score_chart(result)


# ---------------------------------------------------------------- HTML

CSS = """
body{font-family:"DejaVu Sans",system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#222;
 margin:0;background:#f6f7f9;line-height:1.45}
main{max-width:1040px;margin:0 auto;padding:24px}
header{background:#fff;border-radius:10px;padding:20px 24px;display:flex;justify-content:space-between;
 align-items:center;gap:16px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
header h1{margin:0 0 4px;font-size:24px}
header .meta{color:#666;font-size:14px}
.score{font-size:44px;font-weight:700;border-radius:10px;padding:6px 18px;color:#fff;text-align:center}
.score small{display:block;font-size:12px;font-weight:400}
.low{background:#c0392b}.mid{background:#e0a800}.high{background:#27ae60}
section{background:#fff;border-radius:10px;padding:16px 24px;margin-top:16px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
h2{font-size:18px;margin:4px 0 12px}
figure{margin:0}figure svg{width:100%;height:auto}
figcaption{color:#666;font-size:13px}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{text-align:left;padding:6px 8px;border-bottom:1px solid #eee;vertical-align:top}
th{background:#f0f3f7;font-weight:600}
td.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:16px}
.warn{background:#fff4e5;border-left:4px solid #e0a800;padding:8px 12px;margin:6px 0}
tr.chosen td{font-weight:700}
details summary{cursor:pointer;color:#1f5fa8}
footer{color:#888;font-size:12px;text-align:center;padding:16px}
""".strip()

Cell = tuple[str, bool]  # html-escaped text, numeric (right-aligned)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _table(
    headers: Iterable[str], rows: Iterable[Iterable[Cell]], row_class: Callable[[int], str] | None = None
) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = []
    for index, row in enumerate(rows):
        cls = row_class(index) if row_class else ""
        attr = f' class="{cls}"' if cls else ""
        cells = "".join(f'<td class="n">{text}</td>' if numeric else f"<td>{text}</td>" for text, numeric in row)
        body.append(f"<tr{attr}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _kv_table(pairs: Iterable[tuple[str, str]]) -> str:
    return _table(("Показатель", "Значение"), (((_e(k), False), (_e(v), True)) for k, v in pairs))


def _html_facts(result: AnalysisResult) -> str:
    d, c, e = result.demand, result.competition, result.economics
    demand = _kv_table(
        [
            (f"Спрос, {MEASURES.get(d.measure, d.measure)} (13 недель)", _num(d.level)),
            ("Рост год к году", _pct(d.growth, signed=True)),
            ("Рост за последние 13 недель", _pct(d.recent_growth, signed=True)),
            (
                "Сила сезонности (0–1)",
                _num(d.seasonality_strength, 2) if d.seasonality_strength is not None else NO_DATA,
            ),
            ("Пиковая неделя года", NO_DATA if d.peak_week_of_year is None else str(d.peak_week_of_year)),
        ]
    )
    competition = _kv_table(
        [
            ("Продавцов", _num(c.sellers)),
            ("Индекс HHI (0–10 000)", _num(c.hhi)),
            ("Доля топ-10 продавцов", _pct(c.top10_share)),
            ("Новых продавцов за 13 недель", _num(c.new_sellers)),
            ("Доля новых продавцов", _pct(c.new_seller_rate)),
            ("Спрос на продавца", _num(c.demand_per_seller, 1)),
        ]
    )
    economics = _kv_table(
        [
            ("Цена", _money(e.price)),
            ("Себестоимость", _money(e.cost)),
            ("Комиссия маркетплейса", _pct(e.commission)),
            ("Логистика за единицу", _money(e.logistics)),
            ("Маржа на единицу", _money(e.unit_margin)),
            ("Маржинальность", _pct(e.margin_rate)),
        ]
    )
    return (
        '<div class="grid">'
        f'<section id="demand"><h2>Спрос</h2>{demand}</section>'
        f'<section id="competition"><h2>Конкуренция</h2>{competition}</section>'
        f'<section id="economics"><h2>Экономика</h2>{economics}</section>'
        "</div>"
    )


def _html_score(result: AnalysisResult, chart: str) -> str:
    rows = [
        (
            (_e(_component_label(comp.name)), False),
            (_e(_num(comp.value)), True),
            (_e(_pct(comp.weight, 0)), True),
            (_e(_num(comp.value * comp.weight, 1)), True),
            (_e(comp.reason), False),
        )
        for comp in result.score.components
    ]
    table = _table(("Компонент", "Баллы", "Вес", "Вклад", "Почему"), rows)
    return (
        '<section id="score"><h2>Из чего складывается оценка</h2>'
        f'<figure id="score-chart">{chart}<figcaption>Баллы компонентов (0–100) и их веса в итоговой оценке'
        f"</figcaption></figure>{table}</section>"
    )


def _html_forecast(result: AnalysisResult, chart: str) -> str:
    fc_rows = [
        (
            (_e(p.week.strftime("%d.%m.%Y")), False),
            *((_e(_num(v, 1)), True) for v in (p.mean, p.lo80, p.hi80, p.lo95, p.hi95)),
        )
        for p in result.forecast.points
    ]
    fc_table = _table(("Неделя", "Прогноз", "Нижняя 80 %", "Верхняя 80 %", "Нижняя 95 %", "Верхняя 95 %"), fc_rows)
    hist_rows = [((_e(p.week.strftime("%d.%m.%Y")), False), (_e(_num(p.demand, 1)), True)) for p in result.history]
    hist_table = _table(("Неделя", "Спрос"), hist_rows)
    caption = (
        f"История — {len(result.history)} недель, прогноз модели «{result.forecast.model}» на "
        f"{result.forecast.horizon} недель с интервалами 80 % и 95 %"
    )
    return (
        '<section id="forecast"><h2>Спрос и прогноз</h2>'
        f'<figure id="demand-chart">{chart}<figcaption>{_e(caption)}</figcaption></figure>'
        f"<details><summary>Прогноз по неделям</summary>{fc_table}</details>"
        f"<details><summary>История по неделям</summary>{hist_table}</details></section>"
    )


def _html_backtest(result: AnalysisResult) -> str:
    roles = {"chosen": "выбрана", "baseline": "базовая (сезонная наивная)", "candidate": "кандидат"}
    models = _backtest_models(result)
    rows = [
        (
            (_e(acc.model), False),
            (_e(_num(acc.mase, 2) if acc.mase is not None else NO_DATA), True),
            (_e(_num(acc.smape, 1) + " %" if acc.smape is not None else NO_DATA), True),
            (_e(", ".join(roles[k] for k in kind.split(";"))), False),
        )
        for acc, kind in models
    ]
    table = _table(("Модель", "MASE", "sMAPE", "Роль"), rows, lambda i: "chosen" if "chosen" in models[i][1] else "")
    bt = result.backtest
    note = (
        f"Скользящий бэктест: {bt.folds} фолд(а) по {bt.horizon} недель. Выбранная модель «{bt.chosen.model}» "
        f"{_model_verdict(result)}. MASE меньше 1 — точнее сезонной наивной модели."
    )
    return f'<section id="backtest"><h2>Точность прогноза (бэктест)</h2><p>{_e(note)}</p>{table}</section>'


def _html_opportunities(result: AnalysisResult) -> str:
    if not result.opportunities:
        return '<section id="opportunities"><h2>Возможности</h2><p>Отдельных возможностей не найдено.</p></section>'
    rows = [
        (
            (_e(OPPORTUNITY_KINDS.get(o.kind, o.kind)), False),
            (_e(o.name), False),
            (_e(_pct(o.demand_growth, signed=True)), True),
            (_e(_num(o.sellers)), True),
            (_e(o.reason), False),
        )
        for o in result.opportunities
    ]
    table = _table(("Тип", "Название", "Рост спроса", "Продавцов", "Почему"), rows)
    return f'<section id="opportunities"><h2>Возможности</h2>{table}</section>'


def _render_html(result: AnalysisResult, analysis_id: UUID, generated_at: datetime) -> bytes:
    demand_svg, score_svg = _charts(result)
    score = result.score.value
    level = "low" if score < 40 else "mid" if score < 65 else "high"
    marketplace = MARKETPLACES.get(result.marketplace.value, result.marketplace.value)
    period = f"{result.first_week.strftime('%d.%m.%Y')} — {result.last_week.strftime('%d.%m.%Y')}"
    warnings_html = "".join(f'<div class="warn">{_e(w)}</div>' for w in result.warnings)
    warnings_section = (
        f'<section id="warnings"><h2>Предупреждения</h2>{warnings_html}</section>' if warnings_html else ""
    )
    title = f"Анализ ниши «{result.niche_name}» — {marketplace}"
    page = f"""<!DOCTYPE html>
<html lang="ru">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>{CSS}</style>
</head>
<body>
<main>
<header>
<div><h1>{_e(result.niche_name)}</h1>
<div class="meta">{_e(marketplace)} · данные за {_e(period)} ({result.weeks} нед.)</div></div>
<div class="score {level}" id="score-value">{_e(_num(score))}<small>оценка из 100</small></div>
</header>
{warnings_section}
{_html_forecast(result, demand_svg)}
{_html_score(result, score_svg)}
{_html_facts(result)}
{_html_backtest(result)}
{_html_opportunities(result)}
<footer>ADOLF Scout · анализ {_e(analysis_id)} · сформирован {_e(generated_at.strftime("%d.%m.%Y %H:%M"))} UTC</footer>
</main>
</body>
</html>
"""
    return page.encode("utf-8")


_RENDERERS: dict[ReportFormat, Callable[[AnalysisResult, UUID, datetime], bytes]] = {
    ReportFormat.JSON: _render_json,
    ReportFormat.CSV: _render_csv,
    ReportFormat.XLSX: _render_xlsx,
    ReportFormat.HTML: _render_html,
}
