"""arq settings classes, one per lane, for the plain `arq` command:

    arq adolf.workers.ContentHigh          # run the content_high lane
    arq --check adolf.workers.ContentHigh  # exit 0 when a content_high worker recorded its health recently

The worker arq starts hands its lane to ADOLF's engine (adolf/workers/arq_seam.py), so a lane started this way
behaves exactly like `adolf worker --lanes <lane>`. Settings come from the environment (ADOLF_*) when this module is
imported. Importing it also makes uvloop the event loop of the process, since the arq command creates its loop.

Imported by the `arq` command, it also sets up ADOLF's logging (ADOLF_LOG_FORMAT, ADOLF_LOG_LEVEL; arq's own lines
go through it, structured) and checks Redis and PostgreSQL before arq connects: a server that does not answer ends
the command at once with one line naming the setting, e.g.
`arq adolf.workers.ContentHigh: cannot reach Redis at ADOLF_REDIS_URL=redis://127.0.0.1:6390/0 (connection refused)`.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sys

import uvloop

from adolf.lanes import LANES
from adolf.logs import setup_logging
from adolf.settings import Settings
from adolf.workers import arq_seam
from adolf.workers.catalog import REGISTRY
from adolf.workers.engine import lane_specs
from adolf.workers.registry import Registry

asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def class_name(lane: str) -> str:
    return "".join(part.capitalize() for part in lane.split("_"))


def configure_logging(settings: Settings) -> None:
    setup_logging(level=settings.log_level, fmt=settings.log_format, secrets=settings.secret_values())


async def _run_lane(lane: str, settings: Settings, registry: Registry, *, burst: bool) -> None:
    from adolf.workers.runner import run_lanes

    configure_logging(settings)  # again: the arq command configured its own logging after importing this module
    await run_lanes(settings, lanes=[lane], registry=registry, burst=burst, health_port=None)


def arq_command_target(argv: list[str] | None = None) -> str | None:
    """The settings class the `arq` command was started with, when this process is that command."""
    argv = sys.argv if argv is None else argv
    if not argv:
        return None
    program = argv[0].replace(os.sep, "/")
    if os.path.basename(program) != "arq" and not program.endswith("arq/__main__.py"):
        return None
    return next((arg for arg in argv[1:] if not arg.startswith("-")), "arq")


def fail_fast(settings: Settings, command: str) -> None:
    """Exit at once, with one line naming the setting, when Redis or PostgreSQL does not answer."""
    from adolf.workers.lifecycle import StartupError, check_servers

    loop = uvloop.new_event_loop()
    try:
        loop.run_until_complete(check_servers(settings))
    except StartupError as error:
        print(f"{command}: {error}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None
    finally:
        loop.close()


def arq_settings_class(lane: str, settings: Settings | None = None, registry: Registry = REGISTRY) -> type:
    settings = settings or Settings()
    names = [spec.name for spec in lane_specs(lane, registry)]
    names += [schedule.name for schedule in registry.crons_for_lane(lane)]
    return arq_seam.arq_settings_class(
        class_name(lane),
        queue=LANES[lane].queue,
        job_names=names,
        redis_settings_=arq_seam.redis_settings(settings),
        run_engine=functools.partial(_run_lane, lane, settings, registry),
        doc=f"arq settings of the {lane} lane: {LANES[lane].purpose}.",
    )


_settings = Settings()
if (_target := arq_command_target()) is not None:
    configure_logging(_settings)
    if "--check" not in sys.argv[1:]:
        fail_fast(_settings, f"arq {_target}")
ContentHigh = arq_settings_class("content_high", _settings)
ContentDefault = arq_settings_class("content_default", _settings)
ContentLow = arq_settings_class("content_low", _settings)
ScoutDefault = arq_settings_class("scout_default", _settings)
ScoutHeavy = arq_settings_class("scout_heavy", _settings)
ScoutExport = arq_settings_class("scout_export", _settings)
