"""Rows with sensible defaults and keyword overrides."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg

from adolf.db.repositories.drafts import DraftRepository
from adolf.db.repositories.publications import PublicationRepository
from adolf.models.content import Draft, DraftStatus, Marketplace, Publication, PublicationStatus

USER_ID = UUID("00000000-0000-4000-8000-000000000001")
# a colour each marketplace's simulated category knows, by the name it gives it
DRAFT_ATTRIBUTES = {"wb": {"Цвет": "белый"}, "ozon": {"Цвет товара": "белый"}, "ym": {"Цвет товара": "белый"}}


async def make_draft(
    db: asyncpg.Connection | asyncpg.Pool, *, updated_at: datetime | None = None, **overrides: Any
) -> Draft:
    values: dict[str, Any] = {
        "user_id": USER_ID,
        "sku": f"SKU-{uuid4().hex[:8]}",
        "marketplace": Marketplace.WB,
        "title": "Кружка керамическая 350 мл",
        "description": "Керамическая кружка для чая и кофе. Подходит для посудомоечной машины.",
        "attributes": DRAFT_ATTRIBUTES[str(overrides.get("marketplace", Marketplace.WB))],
        "seo_tags": ["кружка", "керамика"],
        "status": DraftStatus.APPROVED,
        "is_valid": True,
    }
    values.update(overrides)
    draft = await DraftRepository(db).create(**values)
    if updated_at is not None:
        await db.execute("UPDATE content_drafts SET updated_at = $2 WHERE id = $1", draft.id, updated_at)
        draft = await DraftRepository(db).get_by_id(draft.id)
    return draft  # type: ignore[return-value]


async def make_publication(
    db: asyncpg.Connection | asyncpg.Pool,
    draft: Draft,
    *,
    status: PublicationStatus = PublicationStatus.PENDING,
    published_at: datetime | None = None,
    **fields: Any,
) -> Publication:
    """A publication of `draft` put straight into `status` (with `fields`), as if jobs had brought it there."""
    repo = PublicationRepository(db)
    publication = await repo.create(
        draft_id=draft.id, sku=draft.sku, marketplace=draft.marketplace, published_by=draft.user_id
    )
    values = {
        "status": status,
        "published_at": published_at,
        "published_title": draft.title if published_at else None,
        "published_description": draft.description if published_at else None,
        **fields,
    }
    assignments = ", ".join(f"{column} = ${index}" for index, column in enumerate(values, start=2))
    await db.execute(f"UPDATE publications SET {assignments} WHERE id = $1", publication.id, *values.values())
    return await repo.get_by_id(publication.id)  # type: ignore[return-value]
