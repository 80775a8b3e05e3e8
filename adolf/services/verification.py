"""sync_publication_status (seed §7.7): did what we published actually land on the marketplace?

Publications published in the last 24 h are read back, per marketplace in pages (WB: a walk of the seller's catalog,
100 cards a request, or a search per card when there are few; Ozon: 1000 products a request; YM: 100 offers). What
was published is compared: title, description and the attributes as they were sent (by the marketplace's attribute
id). Equal -> `verified`. A card the marketplace is still processing (YM `*_PROCESSING`), or a WB card that differs
within WB's documented apply time (APPLY_TIME after publishing), is `pending`: it stays `published` and the next run
looks again. Otherwise `mismatched`, with expected and actual values. A card the marketplace cannot show, or a failed
read, counts as an error. Cards a marketplace accepted and later rejected (WB's error list, YM's
HAS_CARD_CAN_UPDATE_ERRORS) move to `failed` with its reason.
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
from adolf.models.results import SyncPublicationStatusResult
from adolf.services.notifications import send_notification
from adolf.services.office import OfficeReporter

logger = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)
APPLY_TIME = {"wb": timedelta(minutes=30)}  # research/marketplaces.md 1.2: syncing takes up to 30 minutes


async def sync_publication_status(
    *, db: asyncpg.Pool, adapters: Adapters, reporter: OfficeReporter, now: datetime
) -> dict[str, Any]:
    await reporter.report_working("Проверка опубликованного контента")
    publications = await PublicationRepository(db).get_recent_published(threshold=now - WINDOW)
    stats = {"checked": 0, "verified": 0, "mismatched": 0, "pending": 0, "errors": 0, "rejected": 0}
    rejected = await _rejections(adapters, publications)
    for publication in publications:
        if publication.id in rejected:
            stats["checked"] += 1
            stats["rejected"] += await _mark_rejected(db, publication, rejected[publication.id])
    remaining = [p for p in publications if p.id not in rejected]
    cards = await _read_back(adapters, remaining)
    for publication in remaining:
        card = cards.get(publication.id, _READ_FAILED)
        stats["checked"] += 1
        if isinstance(card, Card) and card.rejection is not None:
            stats["rejected"] += await _mark_rejected(db, publication, card.rejection)
        else:
            stats[await _check(db, publication, card, now)] += 1
    logger.info("sync completed", extra={"stats": stats})
    await reporter.report_idle(metrics={"last_sync": now.isoformat(), "last_sync_stats": stats})
    return SyncPublicationStatusResult(success=True, **stats).wire()


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
    if card.processing:
        return "pending"
    mismatch = differences(publication, card)
    if not mismatch:
        await repo.mark_verified(publication.id, verified_at=now)
        return "verified"
    apply_time = APPLY_TIME.get(publication.marketplace.value)
    if apply_time is not None and publication.published_at is not None and now - publication.published_at < apply_time:
        return "pending"
    logger.warning("content mismatch for %s on %s: %s", publication.sku, publication.marketplace, sorted(mismatch))
    await repo.mark_mismatched(publication.id, mismatch=mismatch, checked_at=now)
    return "mismatched"


def differences(publication: Publication, card: Card) -> dict[str, Any]:
    """What the card shows differently from what was published (empty when it shows it all)."""
    found: dict[str, Any] = {}
    if card.title != publication.published_title or card.description != publication.published_description:
        found.update(
            expected_title=publication.published_title,
            actual_title=card.title,
            expected_description=publication.published_description,
            actual_description=card.description,
        )
    expected, actual = {}, {}
    for attribute_id, value in (publication.published_attributes or {}).items():
        shown = card.attributes.get(attribute_id)
        if _normalized(value) != _normalized(shown):
            expected[attribute_id], actual[attribute_id] = value, shown
    if expected:
        found.update(expected_attributes=expected, actual_attributes=actual)
    return found


def _normalized(value: Any) -> list[str]:
    """An attribute's values compared as the marketplaces store them: order, case and 350 vs 350.0 do not matter."""
    if value is None:
        return []
    values = value if isinstance(value, list | tuple) else [value]
    return sorted(_text(v) for v in values)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip().casefold()
