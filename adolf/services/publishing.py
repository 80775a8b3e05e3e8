"""publish_content (seed §7.4), retry_publication (§7.5) and the reconciler of publications left in flight.

A publish run hands its card to the batcher of its marketplace (adolf/adapters/batching.py), so the cards of many
runs share one update request, and gets its card's own outcome back. It then either records the publication as
published, or records this try's error and raises the typed error: whether that error is retried or final is the job
wrapper's decision alone; `fail_publication` is how a final failure ends (the seed's `failed` row, notification and
result).

No two runs push the same card: a run takes a publication only when it is `pending` or already its own (`job_ref`),
or when the run holding it no longer exists. Re-running after a crash is safe: the run recognises its own row and its
own recorded outcome, status changes and their notification commit together, and each notification has a dedup key.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg

from adolf.adapters import Adapters, CardContent, CardUpdate, PublishResult
from adolf.db.repositories.drafts import DraftRepository
from adolf.db.repositories.publications import PublicationRepository
from adolf.errors import (
    AdolfError,
    Deferred,
    InvalidJobArgs,
    JobTimedOut,
    error_code_of,
    is_infra_error,
    is_recoverable,
    marketplace_error,
)
from adolf.logs import bind
from adolf.models.content import ACTIVE_PUBLICATION, DeadLetter, Draft, DraftStatus, Publication, PublicationStatus
from adolf.models.results import PublishContentResult, ReconcilePublicationsResult, RetryPublicationResult
from adolf.services.notifications import send_alert, send_notification
from adolf.services.office import OfficeReporter
from adolf.services.publish_records import Accepted, PublishRecords

logger = logging.getLogger(__name__)

DONE = (PublicationStatus.PUBLISHED, PublicationStatus.VERIFIED, PublicationStatus.MISMATCHED)
UNEXPECTED = "UNEXPECTED_ERROR"
EXHAUSTED = "Превышено количество попыток."
IN_PROGRESS = "another publication of this draft is in progress"
OTHER_RUN_POLL = (0.25, 2.0)  # first and longest pause while another run publishes the same draft
OTHER_RUN_DEFER = 15.0

JobAlive = Callable[[str], Awaitable[bool]]
EnqueuePublish = Callable[[UUID, UUID], Awaitable[str]]


@dataclass(frozen=True)
class PublishRun:
    """Which run of the publish job this is, and its deadlines in event-loop time: its card must be on its way by
    `send_by` (or the run is deferred, costing no try) and answered by `answer_by` (the soft time limit)."""

    job_ref: str
    attempt: int
    send_by: float
    answer_by: float
    record_by: float = 0.0  # an accepted card's outcome is recorded, PostgreSQL willing, by then


async def publish_content(
    draft_id: UUID,
    user_id: UUID,
    *,
    db: asyncpg.Pool,
    adapters: Adapters,
    reporter: OfficeReporter,
    run: PublishRun,
    job_alive: JobAlive,
    records: PublishRecords | None = None,
) -> dict[str, Any]:
    """`records` is the process's PublishRecords, so its publish jobs share database round trips."""
    await reporter.report_working(f"Публикация черновика {str(draft_id)[:8]}...")
    records = records or PublishRecords(db)
    draft, latest = await records.open(draft_id)
    if draft is None:
        logger.error("draft %s not found", draft_id)
        return PublishContentResult.failure("DRAFT_NOT_FOUND", "Draft not found").wire()
    if not draft.is_valid:
        logger.warning("draft %s is not valid", draft_id)
        return PublishContentResult.failure("DRAFT_NOT_VALID", "Draft has validation errors").wire()
    bind(draft_id=str(draft.id), sku=draft.sku, marketplace=draft.marketplace.value)

    earlier = _earlier_outcome_of(latest, draft, run)
    if earlier is not None:
        return earlier
    claimed = await records.claim(draft, user_id, run.job_ref)
    if claimed is None:
        claimed = await _take_over_if_orphaned(db, draft, run, job_alive)
    if claimed is None:
        claimed = await _after_other_run(db, draft, user_id, run, job_alive)
    if isinstance(claimed, dict):
        return claimed

    await reporter.report_working(f"Публикация {draft.sku} на {draft.marketplace.value}")
    update = CardUpdate(sku=draft.sku, content=content_of(draft))
    result = await adapters.batcher(draft.marketplace).publish(update, send_by=run.send_by, answer_by=run.answer_by)
    if result.success:
        return await _published(db, records, claimed, draft, user_id, result, reporter, run)
    return await _try_failed(db, claimed, result, reporter, run)


def content_of(draft: Draft) -> CardContent:
    return CardContent(
        title=draft.title, description=draft.description, attributes=draft.attributes, seo_tags=draft.seo_tags
    )


async def _earlier_outcome(
    db: asyncpg.Pool, draft: Draft, run: PublishRun, *, any_run: bool = False
) -> dict[str, Any] | None:
    """The outcome this job run (or, for a published draft or with `any_run`, any run) already recorded."""
    latest = await PublicationRepository(db).get_latest_for_draft(draft.id)
    return _earlier_outcome_of(latest, draft, run, any_run=any_run)


def _earlier_outcome_of(
    latest: Publication | None, draft: Draft, run: PublishRun, *, any_run: bool = False
) -> dict[str, Any] | None:
    if latest is None or latest.status in ACTIVE_PUBLICATION:
        return None
    if latest.status in DONE and (draft.status == DraftStatus.PUBLISHED or any_run or latest.job_ref == run.job_ref):
        logger.info("draft %s already published (publication %s)", draft.id, latest.id)
        return PublishContentResult(
            success=True, publication_id=latest.id, nm_id=latest.nm_id, already_published=True
        ).wire()
    if latest.status == PublicationStatus.FAILED and (any_run or latest.job_ref == run.job_ref):
        return failure_result(latest)
    return None


async def _claim(
    db: asyncpg.Pool, draft: Draft, user_id: UUID, run: PublishRun, job_alive: JobAlive
) -> Publication | None:
    """The draft's publication as `processing` by this run, unless a live run is processing it."""
    repo = PublicationRepository(db)
    claimed = await repo.claim(
        draft_id=draft.id, sku=draft.sku, marketplace=draft.marketplace, published_by=user_id, job_ref=run.job_ref
    )
    if claimed is not None:
        return claimed
    return await _take_over_if_orphaned(db, draft, run, job_alive)


async def _take_over_if_orphaned(
    db: asyncpg.Pool, draft: Draft, run: PublishRun, job_alive: JobAlive
) -> Publication | None:
    """The draft's publication in flight, taken over when the run holding it no longer exists."""
    repo = PublicationRepository(db)
    holder = await repo.get_pending_for_draft(draft.id)
    if holder is None or (holder.job_ref is not None and await job_alive(holder.job_ref)):
        return None
    logger.warning(
        "publication %s was left by run %s, which no longer exists: taking it over", holder.id, holder.job_ref
    )
    return await repo.take_over(holder.id, from_ref=holder.job_ref, job_ref=run.job_ref)


async def _after_other_run(
    db: asyncpg.Pool, draft: Draft, user_id: UUID, run: PublishRun, job_alive: JobAlive
) -> Publication | dict[str, Any]:
    """Another run is publishing this draft: wait for its outcome (or for the row to become ours), never push the
    card a second time; deferred (no try spent) if that run outlasts this one's deadline."""
    loop = asyncio.get_running_loop()
    pause, longest = OTHER_RUN_POLL
    while True:
        if await PublicationRepository(db).get_pending_for_draft(draft.id) is None:
            outcome = await _earlier_outcome(db, draft, run, any_run=True)
            if outcome is not None:
                return outcome
        claimed = await _claim(db, draft, user_id, run, job_alive)
        if claimed is not None:
            return claimed
        if loop.time() + pause > run.send_by:
            raise Deferred(f"another run is publishing draft {draft.id}", delay=OTHER_RUN_DEFER)
        await asyncio.sleep(pause)
        pause = min(pause * 2, longest)


async def _published(
    db: asyncpg.Pool,
    records: PublishRecords,
    publication: Publication,
    draft: Draft,
    user_id: UUID,
    result: PublishResult,
    reporter: OfficeReporter,
    run: PublishRun,
) -> dict[str, Any]:
    accepted = Accepted(
        publication=publication,
        draft=draft,
        user_id=user_id,
        job_ref=run.job_ref,
        nm_id=result.nm_id,
        api_response=result.raw_response,
        attributes=result.attributes,
        published_at=datetime.now(UTC),
    )
    published = await records.published(accepted, record_by=run.record_by)
    if published is None:  # the row is no longer this run's: a run that outlived its lease was taken over
        logger.warning("publication %s was finished by another run", publication.id)
        return (
            await _earlier_outcome(db, draft, run, any_run=True)
            or PublishContentResult.failure("CONFLICT", "the publication was finished by another run").wire()
        )
    logger.info("publication completed", extra={"publication_id": str(publication.id), "nm_id": result.nm_id})
    await reporter.report_idle(metrics={"last_published_sku": draft.sku, "marketplace": draft.marketplace.value})
    return PublishContentResult(success=True, publication_id=publication.id, nm_id=result.nm_id).wire()


async def _try_failed(
    db: asyncpg.Pool, publication: Publication, result: PublishResult, reporter: OfficeReporter, run: PublishRun
) -> dict[str, Any]:
    """Record what this try met and raise it as its typed error: the job wrapper retries it or ends it."""
    code, message = result.error_code or UNEXPECTED, result.error_message or ""
    logger.warning("publication error: %s - %s", code, message)
    await reporter.report_error(f"{code}: {message}")
    await PublicationRepository(db).record_try_error(
        publication.id,
        job_ref=run.job_ref,
        error_code=code,
        error_message=message,
        retry_count=run.attempt - 1,
        api_response=result.raw_response,
    )
    raise marketplace_error(code, message, retry_after=result.retry_after)


async def fail_publication(
    draft_id: UUID, user_id: UUID, error: Exception, *, db: asyncpg.Pool, job_ref: str
) -> dict[str, Any] | None:
    """How a publish run's final failure ends (seed §7.4): its publication `failed` with one content.publish_error
    (the message says the tries are used up when the error was recoverable), and the seed's result. None leaves the
    failure to the dead-letter path (invalid arguments, the hard time limit, the database away)."""
    if isinstance(error, InvalidJobArgs | JobTimedOut) or is_infra_error(error):
        return None
    unexpected = not isinstance(error, AdolfError)
    code = UNEXPECTED if unexpected else (error_code_of(error) or UNEXPECTED)
    message = str(error) if unexpected else error.message  # type: ignore[attr-defined]
    exhausted = not unexpected and is_recoverable(code)
    shown = f"{EXHAUSTED} {message}" if exhausted else message
    repo = PublicationRepository(db)
    holder = await repo.get_pending_for_draft(draft_id)
    failed = None
    if holder is not None and holder.job_ref == job_ref:
        failed = await mark_failed(db, holder, user_id, code, message, shown, job_ref=job_ref)
    if unexpected:
        return PublishContentResult.failure(code, message).wire()
    latest = failed or await repo.get_latest_for_draft(draft_id)
    if latest is not None and latest.job_ref == job_ref and latest.status == PublicationStatus.FAILED:
        return failure_result(latest)
    return PublishContentResult.failure(code, message, retries_exhausted=exhausted).wire()


async def mark_failed(
    db: asyncpg.Pool,
    publication: Publication,
    user_id: UUID,
    code: str,
    message: str,
    shown: str,
    *,
    job_ref: str | None,
) -> Publication | None:
    """`failed` plus one content.publish_error per round; None when the publication was no longer in flight (or,
    with `job_ref`, no longer that run's)."""
    async with db.acquire() as conn, conn.transaction():
        failed = await PublicationRepository(conn).mark_failed(
            publication.id, job_ref=job_ref, error_code=code, error_message=message
        )
        if failed is None:
            return None
        await send_notification(
            conn,
            user_id=user_id,
            event_type="content.publish_error",
            data={
                "sku": publication.sku,
                "marketplace": publication.marketplace.value,
                "error_code": code,
                "error_message": shown,
            },
            dedup_key=f"content.publish_error:{publication.id}:{publication.round}",
        )
    return failed


async def fail_after_job_failure(db: asyncpg.Pool, letter: DeadLetter) -> None:
    """A publish run finally failed outside its own handling (hard time limit, database errors on the last try,
    tries used up by crashes): the publication *that run* was processing must not stay `processing`. A malformed
    job that merely names a draft owns no publication and touches none."""
    arguments = {**dict(zip(("draft_id", "user_id"), letter.args, strict=False)), **letter.kwargs}
    try:
        draft_id, user_id = UUID(str(arguments["draft_id"])), UUID(str(arguments["user_id"]))
    except (KeyError, ValueError):
        return
    ref = f"{letter.job_id}@{int(letter.enqueued_at.timestamp() * 1000)}"
    publication = await PublicationRepository(db).get_pending_for_draft(draft_id)
    if publication is None or publication.job_ref != ref:
        return
    code = letter.error_code or UNEXPECTED
    if await mark_failed(db, publication, user_id, code, letter.exception, letter.exception, job_ref=ref):
        logger.warning("publication %s failed with its job: %s", publication.id, letter.exception)


def failure_result(publication: Publication) -> dict[str, Any]:
    """The publish result of a `failed` publication."""
    return PublishContentResult.failure(
        publication.error_code or UNEXPECTED,
        publication.error_message,
        retries_exhausted=is_recoverable(publication.error_code),
    ).wire()


async def retry_publication(
    publication_id: UUID, user_id: UUID, *, db: asyncpg.Pool, enqueue_publish: EnqueuePublish
) -> dict[str, Any]:
    """§7.5: only a `failed` publication is retried: retry count reset, status `pending`, publish enqueued.

    A `pending` one (a retry whose enqueue was cut off by a crash) is enqueued again; the publish job id is unique
    per draft, so this never runs two publish jobs for it. While another publication of the draft is in flight,
    nothing is retried. `enqueue_publish` defers this job (no try spent) while the draft's publish job still runs."""
    async with db.acquire() as conn, conn.transaction():
        repo = PublicationRepository(conn)
        publication = await repo.lock(publication_id)  # a concurrent retry waits here, then sees `pending`
        if publication is None:
            return RetryPublicationResult.failure("PUBLICATION_NOT_FOUND", "Publication not found").wire()
        if publication.status == PublicationStatus.FAILED:
            other = await repo.get_pending_for_draft(publication.draft_id)
            if other is not None:
                return RetryPublicationResult.failure(
                    "PUBLICATION_IN_PROGRESS", IN_PROGRESS, publication_id=other.id
                ).wire()
            try:
                async with conn.transaction():
                    await repo.reset_for_retry(publication_id)
            except asyncpg.UniqueViolationError:  # a publish run created a new one meanwhile
                return RetryPublicationResult.failure("PUBLICATION_IN_PROGRESS", IN_PROGRESS).wire()
        elif publication.status != PublicationStatus.PENDING:
            return RetryPublicationResult.failure(
                "PUBLICATION_NOT_FAILED", f"only a failed publication is retried; this one is {publication.status}"
            ).wire()
    job_id = await enqueue_publish(publication.draft_id, user_id)
    logger.info("scheduled publish for publication %s", publication_id, extra={"publish_job_id": job_id})
    return RetryPublicationResult(success=True, message="Publication retry scheduled", job_id=job_id).wire()


async def reconcile_publications(
    *,
    db: asyncpg.Pool,
    job_alive: JobAlive,
    enqueue_publish: EnqueuePublish,
    threshold: datetime,
) -> dict[str, Any]:
    """Publications `processing` since before `threshold` whose run no longer exists (a Redis restart lost the queue,
    a dead letter could not run its hook): published again by a new run, or failed with a notification when their
    draft can no longer be published. One operator alert says how many."""
    stale = await PublicationRepository(db).get_stale_processing(threshold=threshold)
    requeued: list[Publication] = []
    failed = 0
    for publication in stale:
        if publication.job_ref is not None and await job_alive(publication.job_ref):
            continue
        draft = await DraftRepository(db).get_by_id(publication.draft_id)
        if draft is None or not draft.is_valid:
            code = "DRAFT_NOT_VALID" if draft is not None else "DRAFT_NOT_FOUND"
            message = "the draft can no longer be published; its publish job was lost"
            failed += bool(
                await mark_failed(
                    db, publication, publication.published_by, code, message, message, job_ref=publication.job_ref
                )
            )
            continue
        try:
            await enqueue_publish(publication.draft_id, publication.published_by)
        except Deferred:
            continue  # its publish job is running right now and will take the row over
        requeued.append(publication)
    if requeued:
        ids = [str(p.id) for p in requeued]
        logger.warning(
            "re-enqueued %d publication(s) whose job was lost", len(ids), extra={"publication_ids": ids[:50]}
        )
        await send_alert(
            db,
            event_type="publications.requeued",
            message=f"{len(ids)} publication(s) were left processing by a lost job and have been published again",
            data={"count": len(ids), "publication_ids": ids[:50]},
        )
    return ReconcilePublicationsResult(success=True, checked=len(stale), requeued=len(requeued), failed=failed).wire()
