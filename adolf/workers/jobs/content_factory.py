"""Content Factory jobs (seed 000, section 7). Each validates nothing itself and calls one service."""

from __future__ import annotations

from typing import Any

from adolf.models.jobs import DeadLetterArgs
from adolf.workers.context import JobContext
from adolf.workers.failures import DeadLetter, store_dead_letter


async def handle_failed_task(job: JobContext, args: DeadLetterArgs) -> dict[str, Any]:
    """§7.9.3: store a finally failed job whose dead letter could not be written at once."""
    row = await store_dead_letter(job.resources.db, DeadLetter(**args.model_dump()))
    return {"stored": row is not None, "failed_job_id": None if row is None else row.id}
