"""Seed §7.4's last branch: an unexpected error (a bug, not a marketplace answer) is retried like the seed's
`except Exception: self.retry(...)`, and after the last try the publication fails with a notification.

The service is called directly with a crafted try number (STYLE habit 11); the broken component is an adapter with a
programming error, the database and Redis are real."""

import asyncio
from uuid import uuid4

import pytest

from adolf.adapters import Adapters, CardContent
from adolf.adapters.wb import WildberriesAdapter
from adolf.errors import RetryLater
from adolf.services.office import build_reporters
from adolf.services.publishing import PublishRun, publish_content
from tests.support.factories import USER_ID, make_draft


class BuggyAdapter(WildberriesAdapter):
    def __init__(self) -> None:
        pass

    async def update_card(self, sku: str, content: CardContent):
        raise ZeroDivisionError("division by zero in a card formatter")


@pytest.fixture
def buggy():
    return Adapters({"wb": BuggyAdapter()}, sessions=[])


def run(attempt: int) -> PublishRun:
    return PublishRun(
        job_ref=f"job-{uuid4()}", attempt=attempt, max_attempts=4, soft_deadline=asyncio.get_running_loop().time() + 30
    )


async def test_an_unexpected_error_asks_for_a_retry_while_tries_remain(db, redis, buggy, rows):
    draft = await make_draft(db)
    with pytest.raises(RetryLater) as retry:
        await publish_content(
            draft.id,
            USER_ID,
            db=db,
            adapters=buggy,
            reporter=build_reporters(redis)["content_descriptions"],
            run=run(1),
        )
    assert retry.value.cause_code == "UNEXPECTED_ERROR"
    [publication] = await rows.publications(draft.id)
    assert publication["status"] == "processing" and await rows.notifications() == []


async def test_an_unexpected_error_on_the_last_try_fails_the_publication_and_notifies(db, redis, buggy, rows):
    draft = await make_draft(db)
    result = await publish_content(
        draft.id, USER_ID, db=db, adapters=buggy, reporter=build_reporters(redis)["content_descriptions"], run=run(4)
    )
    assert result == {"success": False, "error": "division by zero in a card formatter"}
    [publication] = await rows.publications(draft.id)
    assert (publication["status"], publication["error_code"]) == ("failed", "UNEXPECTED_ERROR")
    [note] = await rows.notifications("content.publish_error")
    assert note["data"]["error_message"] == "division by zero in a card formatter"
