"""A worker process for tests: `python -m tests.support.worker_main LANES [--cron]`, settings from ADOLF_* env."""

from __future__ import annotations

import argparse

import uvloop

from adolf.logs import setup_logging
from adolf.settings import Settings
from adolf.workers.runner import run_lanes
from tests.support.jobs import CRON_REGISTRY, TEST_REGISTRY


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("lanes")
    parser.add_argument("--cron", action="store_true", help="also run the every-second test cron job")
    args = parser.parse_args()
    settings = Settings()
    setup_logging(level="INFO", fmt="json", secrets=settings.secret_values())
    registry = CRON_REGISTRY if args.cron else TEST_REGISTRY
    uvloop.run(run_lanes(settings, lanes=args.lanes.split(","), registry=registry))


if __name__ == "__main__":
    main()
