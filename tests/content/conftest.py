from collections.abc import Callable

import pytest

from adolf.services.office import OfficeReporter


@pytest.fixture
def rows(db) -> Callable:
    """Small readers of the tables the jobs write."""

    class Rows:
        async def publications(self, draft_id=None):
            query = "SELECT * FROM publications" + (" WHERE draft_id = $1" if draft_id else "") + " ORDER BY created_at"
            return [dict(r) for r in await db.fetch(query, *([draft_id] if draft_id else []))]

        async def notifications(self, event_type=None):
            query = "SELECT * FROM notifications" + (" WHERE event_type = $1" if event_type else "") + " ORDER BY id"
            return [dict(r) for r in await db.fetch(query, *([event_type] if event_type else []))]

        async def draft_status(self, draft_id):
            return await db.fetchval("SELECT status FROM content_drafts WHERE id = $1", draft_id)

    return Rows()


async def office_state(redis, agent_id):
    return await OfficeReporter(
        agent_id=agent_id, department="", name="", salary_equivalent=0, fte_coefficient=0, redis=redis
    ).state()
