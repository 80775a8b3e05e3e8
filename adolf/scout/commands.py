"""`adolf scout ...`: import a CSV history, add a niche, analyze a niche in this process."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import orjson
from pydantic import ValidationError

from adolf.db.repositories.scout import Niche, ScoutRepository
from adolf.errors import AdolfError
from adolf.models.content import Marketplace
from adolf.models.scout import AnalysisParams
from adolf.ops import OpsError as CommandError
from adolf.ops import connect_db
from adolf.scout.pool import AnalysisPool
from adolf.services import scout
from adolf.services.scout_import import CsvImportError, import_series, read_csv
from adolf.settings import Settings


def add_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    scout_parser = sub.add_parser("scout", help="Scout: import trend history, add niches, analyze a niche")
    scout_sub = scout_parser.add_subparsers(dest="scout", required=True)

    imports = scout_sub.add_parser("import", help="import weekly trend history from a CSV file (one transaction)")
    imports.add_argument("file", type=Path)
    imports.set_defaults(run=cmd_import)

    niche = scout_sub.add_parser("add-niche", help="add a niche (a category or search queries) for trend updates")
    niche.add_argument("name")
    niche.add_argument("--marketplace", required=True, choices=[m.value for m in Marketplace])
    niche.add_argument("--category", default=None, help="the marketplace's category (subject) id")
    niche.add_argument("--queries", default="", help="comma-separated search queries")
    niche.set_defaults(run=cmd_add_niche)

    niches = scout_sub.add_parser("niches", help="list the niches with their score and trend data")
    niches.set_defaults(run=cmd_niches)

    analyze = scout_sub.add_parser("analyze", help="analyze a niche now, in this process, and record the analysis")
    analyze.add_argument("niche", help="the niche's id, name, or marketplace:name")
    analyze.add_argument("--json", action="store_true", help="print the whole analysis as JSON")
    analyze.add_argument("--horizon", type=int, default=12, help="forecast horizon in weeks (default 12)")
    analyze.add_argument("--price", type=float, default=None, help="planned price (default: the niche's average)")
    analyze.add_argument("--cost", type=float, default=None, help="cost of goods per unit")
    analyze.add_argument("--commission", type=float, default=0.15, help="marketplace commission, fraction of price")
    analyze.add_argument("--logistics", type=float, default=0.0, help="logistics per unit")
    analyze.set_defaults(run=cmd_analyze)


def run_command(coro: Any) -> int:
    try:
        asyncio.run(coro)
    except (CommandError, CsvImportError, AdolfError) as exc:
        print(f"adolf scout: {exc}", file=sys.stderr)
        return 1
    except asyncpg.UndefinedTableError as exc:
        print(f"adolf scout: the database has no Scout tables ({exc}): run `adolf migrate` first", file=sys.stderr)
        return 1
    except (asyncpg.PostgresError, OSError) as exc:
        print(f"adolf scout: PostgreSQL failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    async def main() -> None:
        series = read_csv(args.file)  # a bad file stops here, before any connection
        db = await connect_db(settings)
        try:
            summary = await import_series(db, series)
        finally:
            await db.close()
        print(orjson.dumps(summary.as_dict(), option=orjson.OPT_INDENT_2).decode())

    return run_command(main())


def cmd_add_niche(settings: Settings, args: argparse.Namespace) -> int:
    queries = [q.strip() for q in args.queries.split(",") if q.strip()]

    async def main() -> None:
        if not args.name.strip():
            raise CommandError("the niche needs a name")
        db = await connect_db(settings)
        try:
            repo = ScoutRepository(db)
            niche_id = await repo.ensure_niche(
                args.name.strip(), args.marketplace, category_id=args.category, queries=queries
            )
            await repo.set_sources(niche_id, category_id=args.category, queries=queries)
        finally:
            await db.close()
        print(niche_id)

    return run_command(main())


def cmd_niches(settings: Settings, args: argparse.Namespace) -> int:
    async def main() -> None:
        db = await connect_db(settings)
        try:
            niches = await ScoutRepository(db).all_niches()
        finally:
            await db.close()
        print(f"{'id':36}  {'mp':4}  {'score':>5}  {'last week':10}  {'active':6}  name / source")
        for n in niches:
            score = "-" if n.opportunity_score is None else f"{n.opportunity_score:.1f}"
            source = n.category_id or ", ".join(n.queries) or "CSV only"
            last = n.last_week.isoformat() if n.last_week else "-"
            print(
                f"{n.id!s:36}  {n.marketplace:4}  {score:>5}  {last:10}  {'yes' if n.is_active else 'no':6}  "
                f"{n.name} / {source}"
            )

    return run_command(main())


async def find_niche(repo: ScoutRepository, text: str) -> Niche:
    try:
        niche = await repo.niche(UUID(text))
        if niche is None:
            raise CommandError(f"no niche with id {text}")
        return niche
    except ValueError:
        pass
    marketplace, _, name = text.partition(":")
    found = (
        await repo.find_niches(name, marketplace)
        if name and marketplace in {m.value for m in Marketplace}
        else await repo.find_niches(text)
    )
    if not found:
        raise CommandError(f"no niche named {text!r}")
    if len(found) > 1:
        choices = ", ".join(f"{n.marketplace}:{n.name}" for n in found)
        raise CommandError(f"{text!r} names {len(found)} niches; say which: {choices}")
    return found[0]


def cmd_analyze(settings: Settings, args: argparse.Namespace) -> int:
    try:
        params = AnalysisParams(
            horizon_weeks=args.horizon,
            price=args.price,
            cost=args.cost,
            commission=args.commission,
            logistics=args.logistics,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        option = "--" + str(first["loc"][0]).replace("_weeks", "").replace("_", "-") if first["loc"] else "params"
        print(f"adolf scout analyze: {option}: {first['msg']}", file=sys.stderr)
        return 2

    async def main() -> None:
        db = await connect_db(settings)
        pool = AnalysisPool(workers=1)
        analysis_id = uuid4()
        niche: Niche | None = None
        try:
            niche = await find_niche(ScoutRepository(db), args.niche)
            result = await scout.analyze_niche(
                db=db,
                pool=pool,
                reporter=None,
                niche_id=niche.id,
                params=params,
                analysis_id=analysis_id,
                tz=settings.tz,
            )
        except AdolfError as exc:
            if niche is not None:
                await ScoutRepository(db).fail_analysis(analysis_id, niche.id, f"{exc.code}: {exc}")
            raise
        finally:
            pool.shutdown()
            await db.close()
        if args.json:
            print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
        else:
            print(summary(result))

    return run_command(main())


def summary(result: dict[str, Any]) -> str:
    backtest, demand, score = result["backtest"], result["demand"], result["score"]
    lines = [
        f"{result['niche_name']} ({result['marketplace']}), {result['weeks']} weeks "
        f"{result['first_week']} .. {result['last_week']}; analysis {result['analysis_id']}",
        f"opportunity score {score['value']:.1f}/100",
    ]
    lines += [f"  {c['name']:<12} {c['value']:5.1f}  x{c['weight']:.2f}  {c['reason']}" for c in score["components"]]
    growth = demand["growth"]
    lines.append(
        f"demand {demand['level']:.0f}/week ({demand['measure']}), "
        f"growth {'n/a' if growth is None else f'{growth:+.0%}'}"
    )
    chosen, baseline = backtest["chosen"], backtest["baseline"]
    lines.append(
        f"forecast {result['forecast']['horizon']} weeks by {chosen['model']}: backtest MASE {_num(chosen['mase'])}, "
        f"sMAPE {_num(chosen['smape'])}% (seasonal naive: MASE {_num(baseline['mase'])}, "
        f"sMAPE {_num(baseline['smape'])}%)"
    )
    lines += [f"opportunity: {o['name']}: {o['reason']}" for o in result["opportunities"]]
    lines += [f"warning: {w}" for w in result["warnings"]]
    return "\n".join(lines)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
