"""Jobs every lane has."""

from __future__ import annotations

import os
import socket
from typing import Any

from adolf.models.jobs import PingArgs
from adolf.workers.context import JobContext

PING = "adolf.ping"


async def ping(job: JobContext, args: PingArgs) -> dict[str, Any]:
    """A no-op that proves a lane is picking up jobs end to end."""
    return {"pong": args.payload, "lane": job.lane, "host": socket.gethostname(), "pid": os.getpid()}
