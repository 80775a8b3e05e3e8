"""content_drafts."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from adolf.db.repositories.base import Repository
from adolf.models.content import Draft, DraftStatus, Marketplace

GET_BY_ID = "SELECT * FROM content_drafts WHERE id = $1"

INSERT = """
    INSERT INTO content_drafts (user_id, sku, marketplace, title, description, attributes, seo_tags, status,
                                is_valid, validation_errors)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
    RETURNING *
"""

UPDATE_STATUS = """
    UPDATE content_drafts SET status = $2, updated_at = now()
    WHERE id = $1
    RETURNING *
"""

ARCHIVE_OLD_REJECTED = """
    UPDATE content_drafts
    SET status = 'archived', updated_at = now()
    WHERE status = 'rejected' AND updated_at < $1
"""

DELETE_OLD_ARCHIVED = """
    DELETE FROM content_drafts
    WHERE status = 'archived' AND updated_at < $1
"""


class DraftRepository(Repository[Draft]):
    model = Draft

    async def get_by_id(self, draft_id: UUID) -> Draft | None:
        return await self._one(GET_BY_ID, draft_id)

    async def create(
        self,
        *,
        user_id: UUID,
        sku: str,
        marketplace: Marketplace,
        title: str,
        description: str,
        attributes: dict[str, Any] | None = None,
        seo_tags: list[str] | None = None,
        status: DraftStatus = DraftStatus.APPROVED,
        is_valid: bool = True,
        validation_errors: list[Any] | None = None,
    ) -> Draft:
        return await self._created(
            INSERT,
            user_id,
            sku,
            marketplace,
            title,
            description,
            attributes or {},
            seo_tags or [],
            status,
            is_valid,
            validation_errors or [],
        )

    async def update_status(self, draft_id: UUID, status: DraftStatus) -> Draft | None:
        return await self._one(UPDATE_STATUS, draft_id, status)

    async def archive_old_rejected(self, *, threshold: datetime) -> int:
        """Archive `rejected` drafts last touched before `threshold`; returns how many."""
        return await self._count(ARCHIVE_OLD_REJECTED, threshold)

    async def delete_old_archived(self, *, threshold: datetime) -> int:
        """Delete `archived` drafts last touched before `threshold`; returns how many."""
        return await self._count(DELETE_OLD_ARCHIVED, threshold)
