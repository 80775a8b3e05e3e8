"""publications: one row per attempt round of putting a draft on a marketplace."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from adolf.db.repositories.base import Repository
from adolf.models.content import Marketplace, Publication

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

GET_RECENT_PUBLISHED = """
    SELECT * FROM publications
    WHERE status = 'published' AND published_at >= $1
    ORDER BY published_at
"""

# a draft already published (its status, and its latest publication done) gets no new publication: a second job of
# the draft that read it just before the first one finished must not push the card again
NOT_PUBLISHED = """NOT EXISTS (
        SELECT 1 FROM content_drafts d
        WHERE d.id = {draft} AND d.status = 'published'
          AND (SELECT p.status FROM publications p WHERE p.draft_id = d.id ORDER BY p.created_at DESC LIMIT 1)
              IN ('published', 'verified', 'mismatched')
    )"""

TAKE_PENDING_OR_OWN = """ON CONFLICT (draft_id) WHERE status IN ('pending', 'processing') DO UPDATE
        SET status = 'processing', job_ref = excluded.job_ref, updated_at = now()
        WHERE publications.status = 'pending' OR publications.job_ref = excluded.job_ref
    RETURNING *"""

# the draft's publication in flight, or a new one, as `processing` by this run; a row another run is processing is
# left alone (RETURNING nothing): only a `pending` row or the run's own may be taken
CLAIM = f"""
    INSERT INTO publications (draft_id, sku, marketplace, published_by, status, job_ref)
    SELECT $1::uuid, $2::text, $3::text, $4::uuid, 'processing', $5::text
    WHERE {NOT_PUBLISHED.format(draft="$1::uuid")}
    {TAKE_PENDING_OR_OWN}
"""

TAKE_OVER = """
    UPDATE publications SET job_ref = $3, updated_at = now()
    WHERE id = $1 AND status = 'processing' AND job_ref IS NOT DISTINCT FROM $2
    RETURNING *
"""

# a success clears what earlier tries of the run met
MARK_PUBLISHED = """
    UPDATE publications SET
        status = 'published', nm_id = $3, api_response = $4, published_at = $5,
        published_title = $6, published_description = $7, published_attributes = $8,
        error_code = NULL, error_message = NULL, updated_at = now()
    WHERE id = $1 AND status = 'processing' AND job_ref = $2
    RETURNING *
"""

MARK_FAILED = """
    UPDATE publications SET status = 'failed', error_code = $3, error_message = $4,
        api_response = COALESCE($5, api_response), updated_at = now()
    WHERE id = $1 AND status IN ('pending', 'processing') AND ($2::text IS NULL OR job_ref = $2)
    RETURNING *
"""

RECORD_TRY_ERROR = """
    UPDATE publications SET error_code = $3, error_message = $4, retry_count = $5, api_response = $6,
        updated_at = now()
    WHERE id = $1 AND status = 'processing' AND job_ref = $2
    RETURNING *
"""

MARK_REJECTED = """
    UPDATE publications SET status = 'failed', error_code = $2, error_message = $3, updated_at = now()
    WHERE id = $1 AND status = 'published'
    RETURNING *
"""

RESET_FOR_RETRY = """
    UPDATE publications
    SET status = 'pending', retry_count = 0, round = round + 1, updated_at = now()
    WHERE id = $1 AND status = 'failed'
    RETURNING *
"""

GET_STALE_PROCESSING = """
    SELECT * FROM publications
    WHERE status = 'processing' AND updated_at < $1
    ORDER BY updated_at
    LIMIT $2
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

    async def claim(
        self, *, draft_id: UUID, sku: str, marketplace: Marketplace, published_by: UUID, job_ref: str
    ) -> Publication | None:
        """The draft's publication in flight (or a new one) as `processing` by this run; None while another run is
        processing it."""
        return await self._one(CLAIM, draft_id, sku, marketplace, published_by, job_ref)

    async def take_over(self, publication_id: UUID, *, from_ref: str | None, job_ref: str) -> Publication | None:
        """Take a `processing` row from a run that no longer exists; None if it changed hands meanwhile."""
        return await self._one(TAKE_OVER, publication_id, from_ref, job_ref)

    async def mark_published(
        self,
        publication_id: UUID,
        *,
        job_ref: str,
        nm_id: str | None,
        api_response: Any,
        published_at: datetime,
        title: str,
        description: str,
        attributes: dict[str, Any] | None = None,
    ) -> Publication | None:
        """`published`, only by the run processing it (its earlier tries' errors cleared); None otherwise."""
        return await self._one(
            MARK_PUBLISHED, publication_id, job_ref, nm_id, api_response, published_at, title, description, attributes
        )

    async def mark_failed(
        self,
        publication_id: UUID,
        *,
        job_ref: str | None,
        error_code: str,
        error_message: str,
        api_response: Any = None,
    ) -> Publication | None:
        """`failed`, from in flight; only the run `job_ref` when given. None when it was not so. The marketplace's
        own account of the failure (`api_response`) replaces the stored one when given."""
        return await self._one(MARK_FAILED, publication_id, job_ref, error_code, error_message, api_response)

    async def mark_rejected(self, publication_id: UUID, *, error_code: str, error_message: str) -> Publication | None:
        """A `published` card the marketplace rejected after accepting it: `failed`. None when it was not published."""
        return await self._one(MARK_REJECTED, publication_id, error_code, error_message)

    async def record_try_error(
        self,
        publication_id: UUID,
        *,
        job_ref: str,
        error_code: str,
        error_message: str,
        retry_count: int,
        api_response: Any = None,
    ) -> Publication | None:
        """What this try's failure was, with the marketplace's own account of it (the run goes on being retried)."""
        return await self._one(
            RECORD_TRY_ERROR, publication_id, job_ref, error_code, error_message, retry_count, api_response
        )

    async def reset_for_retry(self, publication_id: UUID) -> Publication | None:
        """A `failed` publication back to `pending` in a new round, its retry count zeroed (a manual retry)."""
        return await self._one(RESET_FOR_RETRY, publication_id)

    async def get_stale_processing(self, *, threshold: datetime, limit: int = 1000) -> list[Publication]:
        """`processing` rows untouched since before `threshold` (their job may be gone)."""
        return await self._many(GET_STALE_PROCESSING, threshold, limit)

    async def get_recent_published(self, *, threshold: datetime) -> list[Publication]:
        """`published` publications with published_at at or after `threshold`."""
        return await self._many(GET_RECENT_PUBLISHED, threshold)

    async def mark_verified(self, publication_id: UUID, *, verified_at: datetime) -> Publication | None:
        return await self._one(MARK_VERIFIED, publication_id, verified_at)

    async def mark_mismatched(
        self, publication_id: UUID, *, mismatch: dict[str, Any], checked_at: datetime
    ) -> Publication | None:
        return await self._one(MARK_MISMATCHED, publication_id, mismatch, checked_at)
