"""The database side of publish runs, a batch at a time: the publish jobs of one process read their drafts, claim
their publications and record their cards' outcomes in shared round trips (adolf/group_commit.py), the way the
batcher shares update requests. Each job still gets its own rows back and its own answer; what changes is only how
many jobs one statement serves.

`published` records a card the marketplace accepted: the publication, its draft's status and its notification in
one statement (one transaction), only while the publication is still that run's. Once a card is accepted its run
keeps trying to record it while PostgreSQL is away (until `record_by`), so a database outage never makes a second
push of a card that was already taken.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import orjson

from adolf.db.repositories.publications import NOT_PUBLISHED, TAKE_PENDING_OR_OWN
from adolf.errors import is_infra_error
from adolf.group_commit import GroupCommit
from adolf.models.content import Draft, Marketplace, Publication

logger = logging.getLogger(__name__)

RECORD_RETRY = (0.2, 2.0)  # first and longest pause between tries to record an accepted card

GET_DRAFTS = "SELECT * FROM content_drafts WHERE id = ANY($1::uuid[])"

GET_LATEST = """
    SELECT DISTINCT ON (draft_id) * FROM publications
    WHERE draft_id = ANY($1::uuid[])
    ORDER BY draft_id, created_at DESC
"""

# PublicationRepository.CLAIM for many drafts at once (one row per draft: GroupCommit keys claims by draft)
CLAIM_MANY = f"""
    INSERT INTO publications (draft_id, sku, marketplace, published_by, status, job_ref)
    SELECT t.draft_id, t.sku, t.marketplace, t.published_by, 'processing', t.job_ref
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[]) AS t(draft_id, sku, marketplace,
                                                                                   published_by, job_ref)
    WHERE {NOT_PUBLISHED.format(draft="t.draft_id")}
    {TAKE_PENDING_OR_OWN}
"""

PUBLISHED_MANY = """
    WITH accepted AS (
        SELECT * FROM unnest(
            $1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[], $8::text[],
            $9::uuid[], $10::text[], $11::text[]
        ) AS t(id, job_ref, nm_id, api_response, published_at, title, description, attributes, user_id, note,
               dedup_key)
    ), published AS (
        UPDATE publications p SET
            status = 'published', nm_id = a.nm_id, api_response = a.api_response::jsonb,
            published_at = a.published_at, published_title = a.title, published_description = a.description,
            published_attributes = a.attributes::jsonb, error_code = NULL, error_message = NULL, updated_at = now()
        FROM accepted a
        WHERE p.id = a.id AND p.status = 'processing' AND p.job_ref = a.job_ref
        RETURNING p.*
    ), drafts AS (
        UPDATE content_drafts d SET status = 'published', updated_at = now()
        FROM published WHERE d.id = published.draft_id
    ), notes AS (
        INSERT INTO notifications (user_id, kind, event_type, data, dedup_key)
        SELECT a.user_id, 'notification', 'content.published', a.note::jsonb, a.dedup_key
        FROM accepted a JOIN published ON published.id = a.id
        ON CONFLICT (dedup_key) DO NOTHING
    )
    SELECT * FROM published
"""


@dataclass(frozen=True)
class Claim:
    draft: Draft
    user_id: UUID
    job_ref: str


@dataclass(frozen=True)
class Accepted:
    publication: Publication
    draft: Draft
    user_id: UUID
    job_ref: str
    nm_id: str | None
    api_response: Any
    attributes: dict[str, Any] | None
    published_at: datetime


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


class PublishRecords:
    def __init__(self, db: asyncpg.Pool) -> None:
        self.db = db
        self._open: GroupCommit[UUID, tuple[Draft | None, Publication | None]] = GroupCommit(self._open_many)
        self._claim: GroupCommit[Claim, Publication | None] = GroupCommit(self._claim_many, key=lambda c: c.draft.id)
        self._published: GroupCommit[Accepted, Publication | None] = GroupCommit(
            self._published_many, key=lambda a: a.publication.id
        )

    async def open(self, draft_id: UUID) -> tuple[Draft | None, Publication | None]:
        """The draft and its latest publication."""
        return await self._open.submit(draft_id)

    async def claim(self, draft: Draft, user_id: UUID, job_ref: str) -> Publication | None:
        """The draft's publication in flight (or a new one) as `processing` by this run; None while another run is
        processing it."""
        return await self._claim.submit(Claim(draft, user_id, job_ref))

    async def published(self, accepted: Accepted, *, record_by: float) -> Publication | None:
        """Record an accepted card; None when the publication is no longer this run's. While PostgreSQL is away it
        tries again until `record_by` (event-loop time)."""
        loop = asyncio.get_running_loop()
        pause, longest = RECORD_RETRY
        while True:
            try:
                return await self._published.submit(accepted)
            except Exception as exc:
                if not is_infra_error(exc) or loop.time() + pause > record_by:
                    raise
                logger.warning(
                    "publication %s accepted by the marketplace, not yet recorded (%s): trying again",
                    accepted.publication.id,
                    type(exc).__name__,
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, longest)

    async def _open_many(self, draft_ids: Sequence[UUID]) -> list[tuple[Draft | None, Publication | None]]:
        ids = list(dict.fromkeys(draft_ids))
        async with self.db.acquire() as conn:
            drafts = {r["id"]: Draft.model_validate(dict(r)) for r in await conn.fetch(GET_DRAFTS, ids)}
            latest = {r["draft_id"]: Publication.model_validate(dict(r)) for r in await conn.fetch(GET_LATEST, ids)}
        return [(drafts.get(i), latest.get(i)) for i in draft_ids]

    async def _claim_many(self, claims: Sequence[Claim]) -> list[Publication | None]:
        rows = await self.db.fetch(
            CLAIM_MANY,
            [c.draft.id for c in claims],
            [c.draft.sku for c in claims],
            [Marketplace(c.draft.marketplace).value for c in claims],
            [c.user_id for c in claims],
            [c.job_ref for c in claims],
        )
        by_draft = {r["draft_id"]: Publication.model_validate(dict(r)) for r in rows}
        return [by_draft.get(c.draft.id) for c in claims]

    async def _published_many(self, accepted: Sequence[Accepted]) -> list[Publication | None]:
        notes = [
            {"sku": a.draft.sku, "marketplace": Marketplace(a.draft.marketplace).value, "nm_id": a.nm_id}
            for a in accepted
        ]
        rows = await self.db.fetch(
            PUBLISHED_MANY,
            [a.publication.id for a in accepted],
            [a.job_ref for a in accepted],
            [a.nm_id for a in accepted],
            [_json(a.api_response) for a in accepted],
            [a.published_at for a in accepted],
            [a.draft.title for a in accepted],
            [a.draft.description for a in accepted],
            [_json(a.attributes) for a in accepted],
            [a.user_id for a in accepted],
            [_json(note) for note in notes],
            [f"content.published:{a.publication.id}:{a.publication.round}" for a in accepted],
        )
        by_id = {r["id"]: Publication.model_validate(dict(r)) for r in rows}
        return [by_id.get(a.publication.id) for a in accepted]
