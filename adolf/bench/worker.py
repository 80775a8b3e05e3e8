"""`python -m adolf.bench.worker LANES [--no-cron]`: an ADOLF worker process with the bench jobs registered
(settings: ADOLF_*). With --no-cron the product's schedules are left out, so an idle worker's Redis traffic is the
engine's alone."""

from __future__ import annotations

import sys

import uvloop

from adolf.bench.jobs import BENCH_REGISTRY
from adolf.logs import setup_logging
from adolf.settings import Settings
from adolf.workers.registry import Registry
from adolf.workers.runner import run_lanes


def main() -> None:
    settings = Settings()
    setup_logging(level=settings.log_level, fmt="json", secrets=settings.secret_values())
    registry = BENCH_REGISTRY
    if "--no-cron" in sys.argv[2:]:
        registry = Registry(BENCH_REGISTRY.jobs.values())
    uvloop.run(run_lanes(settings, lanes=sys.argv[1].split(","), registry=registry, health_port=None))


if __name__ == "__main__":
    main()
