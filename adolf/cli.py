"""`adolf <command>`: parse arguments, build Settings, call one function."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from typing import Any

import orjson
import uvloop

from adolf.lanes import LANES
from adolf.limits import YM_RESOURCE_LIMITS
from adolf.logs import setup_logging
from adolf.settings import Settings


def _lanes(value: str) -> list[str]:
    lanes = [lane.strip() for lane in value.split(",") if lane.strip()]
    unknown = [lane for lane in lanes if lane not in LANES]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown lanes {unknown}; lanes are {', '.join(LANES)}")
    return lanes


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    from adolf.workers.lifecycle import StartupError
    from adolf.workers.runner import run_lanes

    port = settings.health_port if args.health_port is None else args.health_port
    try:
        uvloop.run(run_lanes(settings, lanes=args.lanes, burst=args.burst, health_port=port or None))
    except StartupError as error:  # one line naming the setting, no traceback
        print(f"adolf worker: {error}", file=sys.stderr, flush=True)
        return 1
    return 0


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    from adolf.db.migrate import migrate

    applied = asyncio.run(migrate(settings.database_url))
    print(f"applied migrations: {applied}" if applied else "database is up to date")
    return 0


def cmd_check(settings: Settings, args: argparse.Namespace) -> int:
    """Like `arq --check`, for several lanes at once: exit 0 only if every lane recorded its health recently."""
    from adolf.workers.arq_seam import health_key
    from adolf.workers.runner import connect_redis

    async def check() -> dict[str, str | None]:
        redis = await connect_redis(settings)
        try:
            values = [await redis.get(health_key(LANES[lane].queue)) for lane in args.lanes]
        finally:
            await redis.aclose()
        return {lane: v.decode() if v else None for lane, v in zip(args.lanes, values, strict=True)}

    states = asyncio.run(check())
    for lane, state in states.items():
        print(f"{lane:16} {state or 'NO HEALTH RECORD'}")
    return 0 if all(states.values()) else 1


def _parse_value(raw: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw


def cmd_enqueue(settings: Settings, args: argparse.Namespace) -> int:
    from adolf.client import AdolfClient

    arguments = {}
    for pair in args.arguments:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"argument {pair!r} is not key=value")
        arguments[key] = _parse_value(value)

    async def enqueue() -> str:
        async with await AdolfClient.connect(settings) as client:
            return (await client.enqueue(args.job, **arguments)).job_id

    print(asyncio.run(enqueue()))
    return 0


def cmd_status(settings: Settings, args: argparse.Namespace) -> int:
    from adolf.client import AdolfClient

    async def status() -> dict[str, Any]:
        async with await AdolfClient.connect(settings) as client:
            return await client.job_info(args.job_id)

    print(orjson.dumps(asyncio.run(status()), option=orjson.OPT_INDENT_2, default=str).decode())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adolf", description="ADOLF background-processing engine")
    sub = parser.add_subparsers(dest="command", required=True)

    worker = sub.add_parser("worker", help="run worker lanes in one process (all lanes by default)")
    worker.add_argument("--lanes", type=_lanes, default=list(LANES), help="comma-separated lanes")
    worker.add_argument("--burst", action="store_true", help="exit once the lanes' queues are empty")
    worker.add_argument(
        "--health-port", type=int, default=None, help="HTTP probe port (default ADOLF_HEALTH_PORT, 8081; 0 = none)"
    )
    worker.set_defaults(run=cmd_worker)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(run=cmd_migrate)

    check = sub.add_parser("check", help="exit 0 if every lane has a live worker (like arq --check)")
    check.add_argument("--lanes", type=_lanes, default=list(LANES))
    check.set_defaults(run=cmd_check)

    enqueue = sub.add_parser("enqueue", help="enqueue a job by name: adolf enqueue NAME key=value ...")
    enqueue.add_argument("job")
    enqueue.add_argument("arguments", nargs="*", help="key=value (value parsed as JSON when it is JSON)")
    enqueue.set_defaults(run=cmd_enqueue)

    status = sub.add_parser("status", help="a job's status and result by id")
    status.add_argument("job_id")
    status.set_defaults(run=cmd_status)

    sub.add_parser("demo", help="seed the simulator and publish demo drafts (needs a running worker)").set_defaults(
        run=cmd_demo
    )

    bench = sub.add_parser("bench", help="benchmarks that print figures (needs the bench extra)")
    bench_sub = bench.add_subparsers(dest="bench", required=True)
    limits = bench_sub.add_parser(
        "publish-limits", help="publish 10,000 WB + 1,000 Ozon + 1,000 YM drafts at the documented limits"
    )
    limits.add_argument("--wb", type=_count, default=10_000, help="WB drafts (first run)")
    limits.add_argument("--ozon", type=_count, default=1_000, help="Ozon drafts (second run)")
    limits.add_argument("--ym", type=_count, default=1_000, help="YM drafts (second run, with Ozon)")
    limits.add_argument("--latency-ms", type=float, default=50.0, help="simulator latency per answer")
    limits.add_argument("--speed", type=float, default=1.0, help="run the documented limits on a faster clock")
    limits.add_argument("--redis-db", type=int, default=14, help="Redis database the bench may use (empty or its own)")
    limits.set_defaults(run=cmd_bench_publish_limits)
    for name, help_text in WORKER_CORE_BENCHES.items():
        scenario = bench_sub.add_parser(name, help=help_text)
        scenario.set_defaults(run=cmd_bench_scenario, scenario=name)

    from adolf.api.server import add_parsers as add_api_parsers
    from adolf.ops import add_parsers as add_ops_parsers
    from adolf.scout.commands import add_parser as add_scout_parser

    add_scout_parser(sub)
    add_ops_parsers(sub)
    add_api_parsers(sub)

    sandbox = sub.add_parser(
        "sandbox",
        help="run the marketplace simulator (WB, Ozon, YM APIs on one port); prints its URL, the ADOLF_* settings "
        "with its credentials, its control URL and how to seed a card",
    )
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8090)
    sandbox.add_argument("--latency-ms", type=float, default=0.0, help="added to every marketplace answer")
    sandbox.add_argument("--apply-delay", type=float, default=0.5, help="seconds until an accepted update applies")
    sandbox.add_argument(
        "--rate-limit",
        action="append",
        default=[],
        metavar="BUCKET=LIMIT/PERIOD:BURST",
        help="override a rate limit, e.g. wb.cards_update=600/60:10, or a YM window, e.g. ym.offer_mappings=100/60 "
        "(repeatable)",
    )
    sandbox.set_defaults(run=cmd_sandbox)
    return parser


def _count(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return number


def cmd_bench_publish_limits(settings: Settings, args: argparse.Namespace) -> int:
    try:
        from adolf.bench.publish_limits import BenchOptions, main
    except ImportError as error:
        raise SystemExit(
            f"adolf bench needs the bench extra ({error.name} is missing): pip install -e '.[bench]'"
        ) from None
    options = BenchOptions(
        wb=args.wb, ozon=args.ozon, ym=args.ym, latency_ms=args.latency_ms, speed=args.speed, redis_db=args.redis_db
    )
    return main(settings, options)


WORKER_CORE_BENCHES = {
    "throughput": "publish jobs/s of one worker process vs Celery prefork-4 running the same logic, CPU ms a job",
    "pickup": "enqueue-to-start latency on an idle worker, and its idle Redis commands, vs bare arq",
    "overhead": "no-op jobs through the whole job wrapper vs bare arq with the same poll settings",
    "recovery": "how long until a SIGKILLed worker's job runs again, vs bare arq",
    "memory": "peak RSS of the all-lanes worker with 10,000 queued and 500 running jobs",
    "loop-lag": "event-loop lag of a worker process while four niche analyses run in it (p99 target < 50 ms)",
}


def cmd_bench_scenario(settings: Settings, args: argparse.Namespace) -> int:
    try:
        from adolf.bench.worker_core import SCENARIOS
    except ImportError as error:
        raise SystemExit(
            f"adolf bench needs the bench extra ({error.name} is missing): pip install -e '.[bench]'"
        ) from None

    def say(text: str) -> None:
        print(f"[bench] {text}", file=sys.stderr, flush=True)

    result = asyncio.run(SCENARIOS[args.scenario](settings, say))
    print(orjson.dumps({"scenario": args.scenario, **result}).decode(), flush=True)
    return 0


def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from adolf.demo import run_demo

    return asyncio.run(run_demo(settings))


def cmd_sandbox(settings: Settings, args: argparse.Namespace) -> int:
    from adolf.sandbox import SandboxConfig, run_sandbox

    limits = dict(item.split("=", 1) for item in args.rate_limit)
    windows = {bucket: spec for bucket, spec in limits.items() if bucket in YM_RESOURCE_LIMITS}
    limits = {bucket: spec for bucket, spec in limits.items() if bucket not in windows}
    config = SandboxConfig(
        host=args.host,
        port=args.port,
        latency_ms=args.latency_ms,
        apply_delay_s=args.apply_delay,
        rate_limits=limits,
        ym_limits=windows,
    )
    run_sandbox(config)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    setup_logging(level=settings.log_level, fmt=settings.log_format, secrets=settings.secret_values())
    run: Callable[[Settings, argparse.Namespace], int] = args.run
    return run(settings, args)


if __name__ == "__main__":
    sys.exit(main())
