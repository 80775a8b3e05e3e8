"""arq settings classes, one per lane, for the plain `arq` command:

    arq adolf.workers.ContentHigh          # run the content_high lane
    arq --check adolf.workers.ContentHigh  # exit 0 when a content_high worker recorded its health recently

The worker arq starts hands its lane to ADOLF's engine (adolf/workers/arq_seam.py), so a lane started this way
behaves exactly like `adolf worker --lanes <lane>`. Settings come from the environment (ADOLF_*) when this module is
imported. Importing it also makes uvloop the event loop of the process, since the arq command creates its loop.
"""

from __future__ import annotations

import asyncio
import functools

import uvloop

from adolf.lanes import LANES
from adolf.settings import Settings
from adolf.workers import arq_seam
from adolf.workers.catalog import REGISTRY
from adolf.workers.engine import lane_specs
from adolf.workers.registry import Registry

asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def class_name(lane: str) -> str:
    return "".join(part.capitalize() for part in lane.split("_"))


async def _run_lane(lane: str, settings: Settings, registry: Registry, *, burst: bool) -> None:
    from adolf.workers.runner import run_lanes

    await run_lanes(settings, lanes=[lane], registry=registry, burst=burst, health_port=None)


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
ContentHigh = arq_settings_class("content_high", _settings)
ContentDefault = arq_settings_class("content_default", _settings)
ContentLow = arq_settings_class("content_low", _settings)
ScoutDefault = arq_settings_class("scout_default", _settings)
ScoutHeavy = arq_settings_class("scout_heavy", _settings)
ScoutExport = arq_settings_class("scout_export", _settings)
