"""publications: one row per attempt round of putting a draft on a marketplace."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from adolf.db.repositories.base import Repository
from adolf.models.content import Marketplace, Publication, PublicationStatus

GET_BY_ID = "SELECT * FROM publications WHERE id = $1"

GET_BY_ID_FOR_UPDATE = "SELECT * FROM publications WHERE id = $1 FOR UPDATE"

GET_PENDING_FOR_DRAFT = """
    SELECT * FROM publications
    WHERE draft_id = $1 AND status IN ('pending', 'processing')
"""

GET_LATEST_FOR_DRAFT = """
    SELECT * FROM publications WHERE draft_id = $1
    ORDER BY created_at DESC LIMIT 1
"""

# the partial unique index publications_one_active_per_draft makes a concurrent second insert a no-op
CREATE = """
    INSERT INTO publications (draft_id, sku, marketplace, published_by)
    VALUES ($1, $2, $3, $4)
    ON CONFLICT (draft_id) WHERE status IN ('pending', 'processing') DO NOTHING
    RETURNING *
"""

# $3 IS NULL means "from any status"; optional fields keep their value when passed NULL
UPDATE_STATUS = """
    UPDATE publications SET
        status = $2,
        nm_id = coalesce($4, nm_id),
        api_response = coalesce($5, api_response),
        published_at = coalesce($6, published_at),
        published_title = coalesce($7, published_title),
        published_description = coalesce($8, published_description),
        error_code = coalesce($9, error_code),
        error_message = coalesce($10, error_message),
        updated_at = now()
    WHERE id = $1 AND ($3::text[] IS NULL OR status = ANY($3::text[]))
    RETURNING *
"""

UPDATE_ERROR = """
    UPDATE publications
    SET error_code = $2, error_message = $3, retry_count = $4, updated_at = now()
    WHERE id = $1
    RETURNING *
"""

RESET_RETRY_COUNT = """
    UPDATE publications
    SET retry_count = 0, round = round + 1, updated_at = now()
    WHERE id = $1
    RETURNING *
"""

GET_RECENT_PUBLISHED = """
    SELECT * FROM publications
    WHERE status = 'published' AND published_at >= $1
    ORDER BY published_at
"""

CLAIM_FOR_RUN = """
    UPDATE publications SET status = 'processing', job_ref = $2, updated_at = now()
    WHERE id = $1 AND status IN ('pending', 'processing')
    RETURNING *
"""

MARK_VERIFIED = """
    UPDATE publications
    SET status = 'verified', verified_at = $2, mismatch = NULL, updated_at = now()
    WHERE id = $1 AND status = 'published'
    RETURNING *
"""

MARK_MISMATCHED = """
    UPDATE publications
    SET status = 'mismatched', mismatch = $2, verified_at = $3, updated_at = now()
    WHERE id = $1 AND status = 'published'
    RETURNING *
"""


class PublicationRepository(Repository[Publication]):
    model = Publication

    async def get_by_id(self, publication_id: UUID) -> Publication | None:
        return await self._one(GET_BY_ID, publication_id)

    async def lock(self, publication_id: UUID) -> Publication | None:
        """The row, locked until the caller's transaction ends."""
        return await self._one(GET_BY_ID_FOR_UPDATE, publication_id)

    async def get_pending_for_draft(self, draft_id: UUID) -> Publication | None:
        """The draft's publication still in flight (`pending` or `processing`), if any."""
        return await self._one(GET_PENDING_FOR_DRAFT, draft_id)

    async def get_latest_for_draft(self, draft_id: UUID) -> Publication | None:
        return await self._one(GET_LATEST_FOR_DRAFT, draft_id)

    async def create(self, *, draft_id: UUID, sku: str, marketplace: Marketplace, published_by: UUID) -> Publication:
        """A new `pending` publication, or the one already in flight for this draft."""
        created = await self._one(CREATE, draft_id, sku, marketplace, published_by)
        if created is not None:
            return created
        existing = await self.get_pending_for_draft(draft_id)
        if existing is None:
            raise RuntimeError(f"publication for draft {draft_id} neither created nor found")
        return existing

    async def update_status(
        self,
        publication_id: UUID,
        status: PublicationStatus,
        *,
        allowed_from: Sequence[PublicationStatus] | None = None,
        nm_id: str | None = None,
        api_response: Any = None,
        published_at: datetime | None = None,
        published_title: str | None = None,
        published_description: str | None = None,
        error_code: str | None = None,
        error_message: str | None = None,
    ) -> Publication | None:
        """Move to `status` (only from `allowed_from`, when given); None when the row was not in such a state."""
        return await self._one(
            UPDATE_STATUS,
            publication_id,
            status,
            None if allowed_from is None else list(allowed_from),
            nm_id,
            api_response,
            published_at,
            published_title,
            published_description,
            error_code,
            error_message,
        )

    async def update_error(
        self, publication_id: UUID, *, error_code: str, error_message: str, retry_count: int
    ) -> Publication | None:
        return await self._one(UPDATE_ERROR, publication_id, error_code, error_message, retry_count)

    async def reset_retry_count(self, publication_id: UUID) -> Publication | None:
        """Zero the retry count and start a new round (a manual retry)."""
        return await self._one(RESET_RETRY_COUNT, publication_id)

    async def claim_for_run(self, publication_id: UUID, *, job_ref: str) -> Publication | None:
        """`processing`, owned by this job run; None when the publication is no longer in flight."""
        return await self._one(CLAIM_FOR_RUN, publication_id, job_ref)

    async def get_recent_published(self, *, threshold: datetime) -> list[Publication]:
        """`published` publications with published_at at or after `threshold`."""
        return await self._many(GET_RECENT_PUBLISHED, threshold)

    async def mark_verified(self, publication_id: UUID, *, verified_at: datetime) -> Publication | None:
        return await self._one(MARK_VERIFIED, publication_id, verified_at)

    async def mark_mismatched(
        self, publication_id: UUID, *, mismatch: dict[str, Any], checked_at: datetime
    ) -> Publication | None:
        return await self._one(MARK_MISMATCHED, publication_id, mismatch, checked_at)
