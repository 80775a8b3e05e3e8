"""generations: the AI outputs drafts were made from."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from adolf.db.repositories.base import Repository
from adolf.models.content import Generation, Marketplace

INSERT = """
    INSERT INTO generations (draft_id, sku, marketplace, kind, model, prompt, output, tokens_used, created_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, coalesce($9, now()))
    RETURNING *
"""

CLEANUP_ORPHANED = """
    DELETE FROM generations
    WHERE draft_id IS NULL AND created_at < $1
"""


class GenerationRepository(Repository[Generation]):
    model = Generation

    async def create(
        self,
        *,
        sku: str,
        marketplace: Marketplace,
        draft_id: UUID | None = None,
        kind: str = "description",
        model: str = "",
        prompt: str = "",
        output: dict[str, Any] | None = None,
        tokens_used: int = 0,
        created_at: datetime | None = None,
    ) -> Generation:
        return await self._created(
            INSERT, draft_id, sku, marketplace, kind, model, prompt, output or {}, tokens_used, created_at
        )

    async def cleanup_orphaned(self, *, threshold: datetime) -> int:
        """Delete generations whose draft is gone, created before `threshold`; returns how many."""
        return await self._count(CLEANUP_ORPHANED, threshold)
