"""Content Factory jobs (seed 000, section 7 and appendix B). Each takes what it needs from the process's
resources and calls one service."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from arq.jobs import JobStatus

from adolf.models.jobs import CleanupDraftsArgs, DeadLetterArgs, NoArgs, PublishContentArgs, RetryPublicationArgs
from adolf.services import cleanup, publishing, verification
from adolf.services.office import CONTENT_FACTORY_AGENTS
from adolf.workers.context import JobContext


async def publish_content(job: JobContext, args: PublishContentArgs) -> dict[str, Any]:
    resources = job.resources
    run = publishing.PublishRun(
        job_ref=job.ref,
        attempt=job.job_try,
        max_attempts=job.max_tries,
        soft_deadline=asyncio.get_running_loop().time() + resources.settings.publish_soft_timeout,
    )
    return await publishing.publish_content(
        args.draft_id,
        args.user_id,
        db=resources.db,
        adapters=resources.adapters,
        reporter=resources.office["content_descriptions"],
        run=run,
    )


async def retry_publication(job: JobContext, args: RetryPublicationArgs) -> dict[str, Any]:
    from adolf.client import AdolfClient

    client = AdolfClient(job.resources.redis)

    async def enqueue_publish(draft_id: UUID, user_id: UUID) -> str:
        publish = await client.publish_content(draft_id=draft_id, user_id=user_id)
        if await publish.status() == JobStatus.in_progress:
            # the run that failed this publication may still be finishing: let it end, then start a new one
            with contextlib.suppress(Exception):
                await publish.result(timeout=job.resources.settings.publish_hard_timeout + 10, poll_delay=0.2)
            publish = await client.publish_content(draft_id=draft_id, user_id=user_id)
        return publish.job_id

    return await publishing.retry_publication(
        args.publication_id, args.user_id, db=job.resources.db, enqueue_publish=enqueue_publish
    )


async def cleanup_old_drafts(job: JobContext, args: CleanupDraftsArgs) -> dict[str, int]:
    return await cleanup.cleanup_old_drafts(
        db=job.resources.db, archive_days=args.archive_days, delete_days=args.delete_days, now=datetime.now(UTC)
    )


async def sync_publication_status(job: JobContext, args: NoArgs) -> dict[str, int]:
    resources = job.resources
    return await verification.sync_publication_status(
        db=resources.db, adapters=resources.adapters, reporter=resources.office["content_seo"], now=datetime.now(UTC)
    )


async def office_heartbeat(job: JobContext, args: NoArgs) -> dict[str, Any]:
    """Appendix B.3: a heartbeat for both Content Factory agents."""
    for agent_id in CONTENT_FACTORY_AGENTS:
        await job.resources.office[agent_id].heartbeat()
    return {"success": True, "agents": len(CONTENT_FACTORY_AGENTS)}


async def handle_failed_task(job: JobContext, args: DeadLetterArgs) -> dict[str, Any]:
    """§7.9.3: store a finally failed job whose dead letter could not be written at once."""
    row = await job.resources.dead_letters.store(args)
    return {"stored": row is not None, "failed_job_id": None if row is None else row.id}
