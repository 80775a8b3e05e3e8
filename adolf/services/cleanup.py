"""cleanup_old_drafts (seed §7.6)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from adolf.db.repositories.drafts import DraftRepository
from adolf.db.repositories.generations import GenerationRepository
from adolf.models.results import CleanupDraftsResult

logger = logging.getLogger(__name__)


async def cleanup_old_drafts(*, db: asyncpg.Pool, archive_days: int, delete_days: int, now: datetime) -> dict[str, Any]:
    """Archive `rejected` drafts older than archive_days, delete `archived` ones older than delete_days, delete
    generations left without a draft older than delete_days. Returns the three counts."""
    archive_threshold = now - timedelta(days=archive_days)
    delete_threshold = now - timedelta(days=delete_days)
    async with db.acquire() as conn, conn.transaction():
        stats = {
            "archived_drafts": await DraftRepository(conn).archive_old_rejected(threshold=archive_threshold),
            "deleted_drafts": await DraftRepository(conn).delete_old_archived(threshold=delete_threshold),
            "deleted_generations": await GenerationRepository(conn).cleanup_orphaned(threshold=delete_threshold),
        }
    logger.info("cleanup completed", extra={"stats": stats})
    return CleanupDraftsResult(success=True, **stats).wire()
