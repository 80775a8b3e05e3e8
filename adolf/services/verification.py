"""sync_publication_status (seed §7.7): did what we published actually land on the marketplace?

Publications published in the last 24 h are read back, per marketplace in pages (WB: a walk of the seller's catalog,
100 cards a request, or a search per card when there are few; Ozon: 1000 products a request; YM: 100 offers): title
and description equal -> `verified`, otherwise `mismatched` with expected and actual values; a card the marketplace
cannot show, or a failed read, counts as an error. First, cards a marketplace accepted and later rejected (WB's error
list) move to `failed` with its reason.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from adolf.adapters import Adapters, Card
from adolf.db.repositories.publications import PublicationRepository
from adolf.errors import MarketplaceError
from adolf.models.content import Publication
from adolf.services.notifications import send_notification
from adolf.services.office import OfficeReporter

logger = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)


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
    cards = await _read_back(adapters, remaining)
    for publication in remaining:
        outcome = await _check(db, publication, cards.get(publication.id, _READ_FAILED), now)
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
        failed = await PublicationRepository(conn).mark_rejected(
            publication.id, error_code="VALIDATION_ERROR", error_message=reason
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


_READ_FAILED = object()


async def _read_back(adapters: Adapters, publications: list[Publication]) -> dict[Any, Card | object | None]:
    """Each publication's card as the marketplace shows it now, read per marketplace in pages; a marketplace whose
    read failed leaves its publications as errors."""
    by_marketplace: dict[str, list[Publication]] = defaultdict(list)
    for publication in publications:
        by_marketplace[publication.marketplace].append(publication)
    found: dict[Any, Card | object | None] = {}
    for marketplace, group in by_marketplace.items():
        try:
            cards = await adapters.get_adapter(marketplace).get_cards([p.sku for p in group])
        except MarketplaceError as error:
            logger.error("could not read %d %s card(s) back: %s", len(group), marketplace, error)
            continue
        found.update({p.id: cards.get(p.sku) for p in group})
    return found


async def _check(db: asyncpg.Pool, publication: Publication, card: Card | object | None, now: datetime) -> str:
    repo = PublicationRepository(db)
    if card is _READ_FAILED:
        return "errors"
    if not isinstance(card, Card):
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
