"""sync_publication_status (seed §7.7): did what we published actually land on the marketplace?

Publications published in the last 24 h are read back: title and description equal -> `verified`, otherwise
`mismatched` with expected and actual values; a card the marketplace cannot show, or an adapter error, counts as an
error. First, cards a marketplace accepted and later rejected (WB's error list) move to `failed` with its reason.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from adolf.adapters import Adapters
from adolf.db.repositories.publications import PublicationRepository
from adolf.errors import MarketplaceError, is_infra_error
from adolf.models.content import Publication, PublicationStatus
from adolf.services.notifications import send_notification
from adolf.services.office import OfficeReporter

logger = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)
READ_CONCURRENCY = 10


async def sync_publication_status(
    *, db: asyncpg.Pool, adapters: Adapters, reporter: OfficeReporter, now: datetime
) -> dict[str, int]:
    await reporter.report_working("Проверка опубликованного контента")
    publications = await PublicationRepository(db).get_recent_published(threshold=now - WINDOW)
    stats = {"checked": 0, "verified": 0, "mismatched": 0, "errors": 0, "rejected": 0}
    rejected = await _rejections(adapters, publications)
    for publication in publications:
        if publication.id in rejected:
            stats["checked"] += 1
            stats["rejected"] += await _mark_rejected(db, publication, rejected[publication.id])
    remaining = [p for p in publications if p.id not in rejected]
    gate = asyncio.Semaphore(READ_CONCURRENCY)
    try:
        async with asyncio.TaskGroup() as group:
            checks = [group.create_task(_check(db, adapters, p, gate, now)) for p in remaining]
    except ExceptionGroup as failed:  # an infrastructure error stops every check; the job is retried
        raise failed.exceptions[0] from None
    for outcome in (check.result() for check in checks):
        stats["checked"] += 1
        stats[outcome] += 1
    logger.info("sync completed", extra={"stats": stats})
    await reporter.report_idle(metrics={"last_sync": now.isoformat(), "last_sync_stats": stats})
    return stats


async def _rejections(adapters: Adapters, publications: list[Publication]) -> dict[Any, str]:
    by_marketplace: dict[str, list[Publication]] = defaultdict(list)
    for publication in publications:
        by_marketplace[publication.marketplace].append(publication)
    found: dict[Any, str] = {}
    for marketplace, group in by_marketplace.items():
        try:
            reasons = await adapters.get_adapter(marketplace).rejected_cards([p.sku for p in group])
        except MarketplaceError as error:
            logger.warning("could not read %s rejections: %s", marketplace, error)
            continue
        found.update({p.id: reasons[p.sku] for p in group if p.sku in reasons})
    return found


async def _mark_rejected(db: asyncpg.Pool, publication: Publication, reason: str) -> int:
    async with db.acquire() as conn, conn.transaction():
        failed = await PublicationRepository(conn).update_status(
            publication.id,
            PublicationStatus.FAILED,
            allowed_from=[PublicationStatus.PUBLISHED],
            error_code="VALIDATION_ERROR",
            error_message=reason,
        )
        if failed is None:
            return 0
        await send_notification(
            conn,
            user_id=publication.published_by,
            event_type="content.publish_error",
            data={
                "sku": publication.sku,
                "marketplace": publication.marketplace.value,
                "error_code": "VALIDATION_ERROR",
                "error_message": reason,
            },
            dedup_key=f"content.publish_error:{publication.id}:{publication.round}",
        )
    logger.warning("card %s rejected by %s after acceptance: %s", publication.sku, publication.marketplace, reason)
    return 1


async def _check(
    db: asyncpg.Pool, adapters: Adapters, publication: Publication, gate: asyncio.Semaphore, now: datetime
) -> str:
    repo = PublicationRepository(db)
    try:
        async with gate:
            card = await adapters.get_adapter(publication.marketplace).get_card(publication.sku)
    except Exception as exc:
        if is_infra_error(exc):
            raise
        logger.error("error checking %s: %s", publication.sku, exc)
        return "errors"
    if card is None:
        logger.warning("card %s not found on %s", publication.sku, publication.marketplace)
        return "errors"
    if card.title == publication.published_title and card.description == publication.published_description:
        await repo.mark_verified(publication.id, verified_at=now)
        return "verified"
    logger.warning(
        "content mismatch for %s: expected title=%r..., actual=%r...",
        publication.sku,
        (publication.published_title or "")[:50],
        card.title[:50],
    )
    mismatch = {
        "expected_title": publication.published_title,
        "actual_title": card.title,
        "expected_description": publication.published_description,
        "actual_description": card.description,
    }
    await repo.mark_mismatched(publication.id, mismatch=mismatch, checked_at=now)
    return "mismatched"
