"""arq settings classes, one per lane, for the plain `arq` command:

    arq adolf.workers.ContentHigh          # run the content_high lane
    arq --check adolf.workers.ContentHigh  # exit 0 when a content_high worker recorded its health recently

Settings come from the environment (ADOLF_*) when this module is imported. Importing it also makes uvloop the event
loop of the process, since the arq command creates its loop itself.
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvloop

from adolf.lanes import LANES
from adolf.settings import Settings
from adolf.workers.catalog import REGISTRY
from adolf.workers.engine import worker_kwargs
from adolf.workers.lifecycle import shutdown, startup
from adolf.workers.registry import Registry
from adolf.workers.serialization import JobSerializer

asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def class_name(lane: str) -> str:
    return "".join(part.capitalize() for part in lane.split("_"))


def arq_settings_class(lane: str, settings: Settings | None = None, registry: Registry = REGISTRY) -> type:
    settings = settings or Settings()
    serializer = JobSerializer()
    attrs: dict[str, Any] = {
        **worker_kwargs(lane, settings, registry, serializer, plain_arq=True),
        "redis_settings": settings.redis_settings,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "ctx": {"settings": settings, "serializer": serializer, "registry": registry},
        "__doc__": f"arq settings of the {lane} lane: {LANES[lane].purpose}.",
    }
    return type(class_name(lane), (), attrs)


_settings = Settings()
ContentHigh = arq_settings_class("content_high", _settings)
ContentDefault = arq_settings_class("content_default", _settings)
ContentLow = arq_settings_class("content_low", _settings)
ScoutDefault = arq_settings_class("scout_default", _settings)
ScoutHeavy = arq_settings_class("scout_heavy", _settings)
ScoutExport = arq_settings_class("scout_export", _settings)
