"""Jobs every lane has."""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

from adolf.models.jobs import CleanupHistoryArgs, PingArgs
from adolf.models.results import CleanupHistoryResult, PingResult
from adolf.workers.context import JobContext
from adolf.workers.history import delete_old_runs


async def ping(job: JobContext, args: PingArgs) -> dict[str, Any]:
    """A no-op that proves a lane is picking up jobs end to end."""
    return PingResult(success=True, pong=args.payload, lane=job.lane, host=socket.gethostname(), pid=os.getpid()).wire()


async def cleanup_job_history(job: JobContext, args: CleanupHistoryArgs) -> dict[str, Any]:
    """Delete job_runs older than keep_days (default ADOLF_JOB_HISTORY_DAYS)."""
    keep_days = args.keep_days or job.resources.settings.job_history_days
    before = datetime.now(UTC) - timedelta(days=keep_days)
    deleted = await delete_old_runs(job.resources.db, before)
    return CleanupHistoryResult(success=True, deleted=deleted, keep_days=keep_days).wire()
