"""publish_content (seed §7.4) and retry_publication (§7.5), point by point.

Re-running after a crash is safe: the publication in flight is reused (one row per draft and round), a run that
already reached its outcome returns that outcome again (matched by `job_ref`), status changes and their notification
commit in one transaction, and each notification has a dedup key.
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

from adolf.adapters import Adapters, CardContent, PublishResult
from adolf.db.repositories.drafts import DraftRepository
from adolf.db.repositories.publications import PublicationRepository
from adolf.errors import RECOVERABLE_CODES, MarketplaceError, RetryLater, is_infra_error
from adolf.logs import bind
from adolf.models.content import (
    ACTIVE_PUBLICATION,
    DeadLetter,
    Draft,
    DraftStatus,
    Publication,
    PublicationStatus,
)
from adolf.services.notifications import send_notification
from adolf.services.office import OfficeReporter

logger = logging.getLogger(__name__)

DONE = (PublicationStatus.PUBLISHED, PublicationStatus.VERIFIED, PublicationStatus.MISMATCHED)
UNEXPECTED = "UNEXPECTED_ERROR"


@dataclass(frozen=True)
class PublishRun:
    """Which run of the publish job this is."""

    job_ref: str
    attempt: int
    max_attempts: int
    soft_deadline: float  # event-loop time of the soft time limit


async def publish_content(
    draft_id: UUID,
    user_id: UUID,
    *,
    db: asyncpg.Pool,
    adapters: Adapters,
    reporter: OfficeReporter,
    run: PublishRun,
) -> dict[str, Any]:
    await reporter.report_working(f"Публикация черновика {str(draft_id)[:8]}...")
    draft = await DraftRepository(db).get_by_id(draft_id)
    if draft is None:
        logger.error("draft %s not found", draft_id)
        return {"success": False, "error": "DRAFT_NOT_FOUND"}
    if not draft.is_valid:
        logger.warning("draft %s is not valid", draft_id)
        return {"success": False, "error": "DRAFT_NOT_VALID"}
    bind(draft_id=str(draft.id), sku=draft.sku, marketplace=draft.marketplace.value)

    earlier = await _earlier_outcome(db, draft, run)
    if earlier is not None:
        return earlier
    publication = await _start(db, draft, user_id, run)
    if publication is None:  # another run finished it meanwhile
        return await _earlier_outcome(db, draft, run, any_run=True) or {"success": False, "error": "CONFLICT"}

    await reporter.report_working(f"Публикация {draft.sku} на {draft.marketplace.value}")
    result = await _push(adapters, draft, run)
    if result.success:
        return await _published(db, publication, draft, user_id, result, reporter, run)
    return await _failed(db, publication, draft, user_id, result, reporter, run)


async def _earlier_outcome(
    db: asyncpg.Pool, draft: Draft, run: PublishRun, *, any_run: bool = False
) -> dict[str, Any] | None:
    """The outcome this job run (or, for a published draft, any run) already recorded."""
    latest = await PublicationRepository(db).get_latest_for_draft(draft.id)
    if latest is None or latest.status in ACTIVE_PUBLICATION:
        return None
    if latest.status in DONE and (draft.status == DraftStatus.PUBLISHED or any_run or latest.job_ref == run.job_ref):
        logger.info("draft %s already published (publication %s)", draft.id, latest.id)
        return {"success": True, "publication_id": str(latest.id), "nm_id": latest.nm_id, "already_published": True}
    if latest.status == PublicationStatus.FAILED and latest.job_ref == run.job_ref:
        return _failure_result(latest)
    return None


async def _start(db: asyncpg.Pool, draft: Draft, user_id: UUID, run: PublishRun) -> Publication | None:
    """Reuse the publication in flight or create one, and mark it `processing` by this run."""
    async with db.acquire() as conn, conn.transaction():
        repo = PublicationRepository(conn)
        publication = await repo.get_pending_for_draft(draft.id) or await repo.create(
            draft_id=draft.id, sku=draft.sku, marketplace=draft.marketplace, published_by=user_id
        )
        return await repo.claim_for_run(publication.id, job_ref=run.job_ref)


def content_of(draft: Draft) -> CardContent:
    return CardContent(
        title=draft.title, description=draft.description, attributes=draft.attributes, seo_tags=draft.seo_tags
    )


async def _push(adapters: Adapters, draft: Draft, run: PublishRun) -> PublishResult:
    adapter = adapters.get_adapter(draft.marketplace)
    try:
        async with asyncio.timeout_at(run.soft_deadline):
            return await adapter.update_card(draft.sku, content_of(draft))
    except TimeoutError:
        return PublishResult(
            sku=draft.sku, success=False, error_code="TIMEOUT", error_message="soft time limit reached while publishing"
        )
    except MarketplaceError as error:
        return PublishResult.failed(draft.sku, error)
    except Exception as exc:
        if is_infra_error(exc):
            raise
        logger.exception("unexpected error publishing %s", draft.sku)
        return PublishResult(sku=draft.sku, success=False, error_code=UNEXPECTED, error_message=str(exc))


async def _published(
    db: asyncpg.Pool,
    publication: Publication,
    draft: Draft,
    user_id: UUID,
    result: PublishResult,
    reporter: OfficeReporter,
    run: PublishRun,
) -> dict[str, Any]:
    async with db.acquire() as conn, conn.transaction():
        published = await PublicationRepository(conn).update_status(
            publication.id,
            PublicationStatus.PUBLISHED,
            allowed_from=ACTIVE_PUBLICATION,
            nm_id=result.nm_id,
            api_response=result.raw_response,
            published_at=datetime.now(UTC),
            published_title=draft.title,
            published_description=draft.description,
        )
        if published is not None:
            await DraftRepository(conn).update_status(draft.id, DraftStatus.PUBLISHED)
            await send_notification(
                conn,
                user_id=user_id,
                event_type="content.published",
                data={"sku": draft.sku, "marketplace": draft.marketplace.value, "nm_id": result.nm_id},
                dedup_key=f"content.published:{publication.id}:{publication.round}",
            )
    if published is None:  # another run of this job (a lease taken over) recorded the outcome first
        logger.warning("publication %s was finished by another run", publication.id)
        return await _earlier_outcome(db, draft, run, any_run=True) or {"success": False, "error": "CONFLICT"}
    logger.info("publication completed", extra={"publication_id": str(publication.id), "nm_id": result.nm_id})
    await reporter.report_idle(metrics={"last_published_sku": draft.sku, "marketplace": draft.marketplace.value})
    return {"success": True, "publication_id": str(publication.id), "nm_id": result.nm_id}


async def _failed(
    db: asyncpg.Pool,
    publication: Publication,
    draft: Draft,
    user_id: UUID,
    result: PublishResult,
    reporter: OfficeReporter,
    run: PublishRun,
) -> dict[str, Any]:
    code, message = result.error_code or UNEXPECTED, result.error_message or ""
    logger.warning("publication error: %s - %s", code, message)
    await reporter.report_error(f"{code}: {message}")
    retryable = code in RECOVERABLE_CODES or code == UNEXPECTED
    if code != UNEXPECTED:
        await PublicationRepository(db).update_error(
            publication.id, error_code=code, error_message=message, retry_count=run.attempt - 1
        )
    if retryable and run.attempt < run.max_attempts:
        raise RetryLater(code, message, retry_after=result.retry_after)
    exhausted = retryable and code != UNEXPECTED
    shown = f"Превышено количество попыток. {message}" if exhausted else message
    failed = await _mark_failed(db, publication, user_id, code, message, shown)
    if failed is None:  # another run of this job moved it on meanwhile
        return await _earlier_outcome(db, draft, run, any_run=True) or {"success": False, "error": "CONFLICT"}
    if code == UNEXPECTED:
        return {"success": False, "error": message}
    return _failure_result(failed)


async def _mark_failed(
    db: asyncpg.Pool, publication: Publication, user_id: UUID, code: str, message: str, shown: str
) -> Publication | None:
    """`failed` plus one content.publish_error per round; None when the publication was no longer in flight."""
    async with db.acquire() as conn, conn.transaction():
        failed = await PublicationRepository(conn).update_status(
            publication.id,
            PublicationStatus.FAILED,
            allowed_from=ACTIVE_PUBLICATION,
            error_code=code,
            error_message=message,
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
    """The publish job finally failed outside its own error handling (hard time limit, database errors on the last
    try, tries used up by crashes): its publication must not stay `processing`."""
    arguments = {**dict(zip(("draft_id", "user_id"), letter.args, strict=False)), **letter.kwargs}
    try:
        draft_id, user_id = UUID(str(arguments["draft_id"])), UUID(str(arguments["user_id"]))
    except (KeyError, ValueError):
        return  # a malformed job never got as far as a publication
    publication = await PublicationRepository(db).get_pending_for_draft(draft_id)
    if publication is None:
        return
    code = letter.error_code or UNEXPECTED
    if await _mark_failed(db, publication, user_id, code, letter.exception, letter.exception):
        logger.warning("publication %s failed with its job: %s", publication.id, letter.exception)


def _failure_result(publication: Publication) -> dict[str, Any]:
    result: dict[str, Any] = {
        "success": False,
        "error_code": publication.error_code,
        "error_message": publication.error_message,
    }
    if publication.error_code in RECOVERABLE_CODES:
        result["retries_exhausted"] = True
    return result


async def retry_publication(
    publication_id: UUID,
    user_id: UUID,
    *,
    db: asyncpg.Pool,
    enqueue_publish: Callable[[UUID, UUID], Awaitable[str]],
) -> dict[str, Any]:
    """§7.5: only a `failed` publication is retried: retry count reset, status `pending`, publish enqueued.

    A `pending` one (a retry whose enqueue was cut off by a crash) is enqueued again; the publish job id is unique
    per draft, so this never runs two publish jobs for it."""
    async with db.acquire() as conn, conn.transaction():
        repo = PublicationRepository(conn)
        publication = await repo.lock(publication_id)  # a concurrent retry waits here, then sees `pending`
        if publication is None:
            return {"success": False, "error": "PUBLICATION_NOT_FOUND"}
        if publication.status == PublicationStatus.FAILED:
            await repo.reset_retry_count(publication_id)
            await repo.update_status(publication_id, PublicationStatus.PENDING, allowed_from=[PublicationStatus.FAILED])
        elif publication.status != PublicationStatus.PENDING:
            return {"success": False, "error": "PUBLICATION_NOT_FAILED"}
    job_id = await enqueue_publish(publication.draft_id, user_id)
    logger.info("scheduled publish for publication %s", publication_id, extra={"publish_job_id": job_id})
    return {"success": True, "message": "Publication retry scheduled", "job_id": job_id}
