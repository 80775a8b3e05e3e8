"""Seed §7.4's last branch: an unexpected error (a bug, not a marketplace answer) is retried like the seed's
`except Exception: self.retry(...)`, and after the last try the publication fails with a notification.

The service is called directly (STYLE habit 11); the broken component is an adapter with a programming error, the
database and Redis are real. Whether a failure is retried is the job wrapper's decision (tests/unit/test_retry.py);
here the service raises the error as it is and `fail_publication` ends it."""

import asyncio
from uuid import uuid4

import pytest

from adolf.adapters import Adapters
from adolf.adapters.wb import WildberriesAdapter
from adolf.models.results import PublishContentResult
from adolf.services.office import build_reporters
from adolf.services.publishing import PublishRun, fail_publication, publish_content
from tests.support.factories import USER_ID, make_draft


class BuggyAdapter(WildberriesAdapter):
    def __init__(self) -> None:
        self.account = "buggy"

    async def prepare(self, cards, ready):
        raise ZeroDivisionError("division by zero in a card formatter")

    async def close(self):
        pass


@pytest.fixture
async def buggy():
    adapters = Adapters({"wb": BuggyAdapter()}, sessions=[], batch_window=0)
    yield adapters
    await adapters.close()


def run() -> PublishRun:
    now = asyncio.get_running_loop().time()
    return PublishRun(job_ref=f"job-{uuid4()}@1", attempt=1, send_by=now + 20, answer_by=now + 30)


async def _never_alive(ref):
    return False


async def _publish_raising(db, redis, adapters, draft, this_run):
    with pytest.raises(ZeroDivisionError) as raised:
        await publish_content(
            draft.id,
            USER_ID,
            db=db,
            adapters=adapters,
            reporter=build_reporters(redis)["content_descriptions"],
            run=this_run,
            job_alive=_never_alive,
        )
    return raised.value


async def test_an_unexpected_error_reaches_the_job_as_it_is_and_leaves_the_publication_in_flight(
    db, redis, buggy, rows
):
    draft = await make_draft(db)
    await _publish_raising(db, redis, buggy, draft, run())
    [publication] = await rows.publications(draft.id)
    assert publication["status"] == "processing" and await rows.notifications() == []


async def test_the_final_unexpected_error_fails_the_publication_and_notifies(db, redis, buggy, rows):
    draft = await make_draft(db)
    this_run = run()
    error = await _publish_raising(db, redis, buggy, draft, this_run)
    result = await fail_publication(draft.id, USER_ID, error, db=db, job_ref=this_run.job_ref)
    assert result == PublishContentResult.failure("UNEXPECTED_ERROR", "division by zero in a card formatter").wire()
    [publication] = await rows.publications(draft.id)
    assert (publication["status"], publication["error_code"]) == ("failed", "UNEXPECTED_ERROR")
    [note] = await rows.notifications("content.publish_error")
    assert note["data"]["error_message"] == "division by zero in a card formatter"


async def test_a_final_failure_of_another_run_touches_nothing(db, redis, buggy, rows):
    draft = await make_draft(db)
    error = await _publish_raising(db, redis, buggy, draft, run())
    await fail_publication(draft.id, USER_ID, error, db=db, job_ref="someone-else@2")
    [publication] = await rows.publications(draft.id)
    assert publication["status"] == "processing" and await rows.notifications() == []
