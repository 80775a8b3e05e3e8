"""failed_jobs: the dead-letter store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adolf.db.repositories.base import Repository
from adolf.models.content import FailedJob

RECORD = """
    INSERT INTO failed_jobs (job_id, job_name, queue, args, kwargs, exception, error_code, tries, enqueued_at)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    ON CONFLICT (job_id, enqueued_at) DO NOTHING
    RETURNING *
"""

GET = "SELECT * FROM failed_jobs WHERE id = $1"

LIST_RECENT = """
    SELECT * FROM failed_jobs
    WHERE ($3::text IS NULL OR job_name = $3)
    ORDER BY failed_at DESC, id DESC
    LIMIT $1 OFFSET $2
"""

MARK_RETRIED = """
    UPDATE failed_jobs SET retried_at = now(), retry_job_id = $2
    WHERE id = $1
    RETURNING *
"""


class FailedJobRepository(Repository[FailedJob]):
    model = FailedJob

    async def record(
        self,
        *,
        job_id: str,
        job_name: str,
        queue: str,
        args: list[Any],
        kwargs: dict[str, Any],
        exception: str,
        error_code: str | None,
        tries: int,
        enqueued_at: datetime,
    ) -> FailedJob | None:
        """Store a finally failed job run; None when this run (job id + enqueue time) is already stored."""
        return await self._one(RECORD, job_id, job_name, queue, args, kwargs, exception, error_code, tries, enqueued_at)

    async def get(self, failed_job_id: int) -> FailedJob | None:
        return await self._one(GET, failed_job_id)

    async def list_recent(self, *, limit: int = 50, offset: int = 0, job_name: str | None = None) -> list[FailedJob]:
        return await self._many(LIST_RECENT, limit, offset, job_name)

    async def mark_retried(self, failed_job_id: int, *, retry_job_id: str) -> FailedJob | None:
        return await self._one(MARK_RETRIED, failed_job_id, retry_job_id)
