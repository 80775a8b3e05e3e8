"""Content Factory jobs (seed 000, section 7 and appendix B). Each takes what it needs from the process's
resources and calls one service."""

from __future__ import annotations

import asyncio
import functools
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from adolf.errors import Deferred
from adolf.models.jobs import CleanupDraftsArgs, DeadLetterArgs, NoArgs, PublishContentArgs, RetryPublicationArgs
from adolf.models.results import HandleFailedTaskResult, OfficeHeartbeatResult
from adolf.services import cleanup, publishing, verification
from adolf.services.office import CONTENT_FACTORY_AGENTS
from adolf.workers.arq_seam import JobStatus, job_alive
from adolf.workers.context import JobContext

PUBLISH_RUNNING_DEFER = 5.0
PUBLISH_JOB = "content_factory.tasks.publish_content"
RECORD_MARGIN = 5.0


async def publish_content(job: JobContext, args: PublishContentArgs) -> dict[str, Any]:
    resources, settings = job.resources, job.resources.settings
    started = asyncio.get_running_loop().time()
    answer_by = started + settings.publish_soft_timeout
    run = publishing.PublishRun(
        job_ref=job.ref,
        attempt=job.job_try,
        # the card must leave early enough for its request to be answered within the soft limit
        send_by=answer_by - min(settings.http_timeout, settings.publish_soft_timeout / 3),
        answer_by=answer_by,
        # an accepted card is recorded through a database outage, up to just before the hard limit
        record_by=started + max(settings.publish_soft_timeout, settings.publish_hard_timeout - RECORD_MARGIN),
    )
    return await publishing.publish_content(
        args.draft_id,
        args.user_id,
        db=resources.db,
        adapters=resources.adapters,
        reporter=resources.office["content_descriptions"],
        run=run,
        job_alive=functools.partial(job_alive, resources.redis),
        records=resources.publish_records,
    )


async def publish_content_failed(job: JobContext, args: PublishContentArgs, error: Exception) -> dict[str, Any] | None:
    """publish_content's final failure: the failed publication, its notification and the seed's result."""
    return await publishing.fail_publication(args.draft_id, args.user_id, error, db=job.resources.db, job_ref=job.ref)


def _enqueue_publish(job: JobContext) -> publishing.EnqueuePublish:
    """Enqueue the draft's (unique) publish job; Deferred while that job is running, so no second one starts."""
    from adolf.client import AdolfClient, queue_for

    client = AdolfClient(job.resources.redis)

    async def enqueue(draft_id: UUID, user_id: UUID) -> str:
        # asked before enqueueing: a run that starts the moment it is enqueued is ours, not one still running
        spec = client.registry.job(PUBLISH_JOB)
        job_id = spec.job_id_for(PublishContentArgs(draft_id=draft_id, user_id=user_id))
        running = client.job(job_id or "", queue_for(PUBLISH_JOB))
        if await running.status() == JobStatus.in_progress:
            raise Deferred(f"the publish job of draft {draft_id} is still running", delay=PUBLISH_RUNNING_DEFER)
        return (await client.publish_content(draft_id=draft_id, user_id=user_id)).job_id

    return enqueue


async def retry_publication(job: JobContext, args: RetryPublicationArgs) -> dict[str, Any]:
    return await publishing.retry_publication(
        args.publication_id, args.user_id, db=job.resources.db, enqueue_publish=_enqueue_publish(job)
    )


async def reconcile_publications(job: JobContext, args: NoArgs) -> dict[str, Any]:
    """Publications left `processing` by a job that no longer exists are published again (or failed)."""
    settings = job.resources.settings
    stale_after = timedelta(seconds=settings.publish_hard_timeout + settings.job_lease_seconds)
    return await publishing.reconcile_publications(
        db=job.resources.db,
        job_alive=functools.partial(job_alive, job.resources.redis),
        enqueue_publish=_enqueue_publish(job),
        threshold=datetime.now(UTC) - stale_after,
    )


async def cleanup_old_drafts(job: JobContext, args: CleanupDraftsArgs) -> dict[str, Any]:
    return await cleanup.cleanup_old_drafts(
        db=job.resources.db, archive_days=args.archive_days, delete_days=args.delete_days, now=datetime.now(UTC)
    )


async def sync_publication_status(job: JobContext, args: NoArgs) -> dict[str, Any]:
    resources = job.resources
    return await verification.sync_publication_status(
        db=resources.db, adapters=resources.adapters, reporter=resources.office["content_seo"], now=datetime.now(UTC)
    )


async def office_heartbeat(job: JobContext, args: NoArgs) -> dict[str, Any]:
    """Appendix B.3: a heartbeat for both Content Factory agents."""
    for agent_id in CONTENT_FACTORY_AGENTS:
        await job.resources.office[agent_id].heartbeat()
    return OfficeHeartbeatResult(success=True, agents=len(CONTENT_FACTORY_AGENTS)).wire()


async def handle_failed_task(job: JobContext, args: DeadLetterArgs) -> dict[str, Any]:
    """§7.9.3: store a finally failed job whose dead letter could not be written at once."""
    row = await job.resources.dead_letters.store(args)
    return HandleFailedTaskResult(
        success=True, stored=row is not None, failed_job_id=None if row is None else row.id
    ).wire()
