"""publish_content end to end: client -> Redis -> real arq worker -> simulator over HTTP -> PostgreSQL."""

from uuid import uuid4

import pytest

from adolf.models.results import PublishContentResult
from tests.conftest import make_settings
from tests.content.conftest import office_state
from tests.support.factories import USER_ID, make_draft
from tests.support.waiting import eventually

MARKETPLACES = ["wb", "ozon", "ym"]
UPDATE_PATH = {"wb": "cards/update", "ozon": "product/import", "ym": "offer-mappings/update"}


async def publish(client, draft):
    return await client.publish_content(draft_id=draft.id, user_id=USER_ID)


@pytest.mark.parametrize("mp", MARKETPLACES)
async def test_success_publishes_records_notifies_and_reports(mp, db, redis, marketplace, client, burst, rows):
    seeded = (await marketplace.seed(mp, {"sku": "SKU-1", "title": "Old", "description": "Old"}))[0]
    draft = await make_draft(db, marketplace=mp, sku="SKU-1")

    job = await publish(client, draft)
    group = await burst(["content_high"])

    result = (await job.result_info()).result
    [publication] = await rows.publications(draft.id)
    assert (
        result
        == PublishContentResult(success=True, publication_id=publication["id"], nm_id=publication["nm_id"]).wire()
    )
    if mp != "ym":  # YM's update answer carries no market SKU
        assert publication["nm_id"] == str(seeded["id"])
    assert publication["status"] == "published" and publication["published_at"] is not None
    assert (publication["published_title"], publication["published_description"]) == (draft.title, draft.description)
    assert publication["api_response"] and "sandbox" not in str(publication["api_response"])
    assert publication["job_ref"].startswith(job.job_id)
    assert await rows.draft_status(draft.id) == "published"
    [note] = await rows.notifications("content.published")
    assert (note["user_id"], note["data"]) == (USER_ID, {"sku": "SKU-1", "marketplace": mp, "nm_id": result["nm_id"]})
    office = await office_state(redis, "content_descriptions")
    assert office["status"] == "idle" and office["metrics"] == {"last_published_sku": "SKU-1", "marketplace": mp}
    assert group.workers["content_high"].jobs_complete == 1

    async def applied():
        return (await marketplace.card(mp, "SKU-1"))["title"] == draft.title

    await eventually(applied, what="the marketplace applied the card")


async def test_draft_not_found(db, client, burst, rows):
    job = await client.publish_content(draft_id=uuid4(), user_id=USER_ID)
    await burst(["content_high"])
    assert (await job.result_info()).result == {
        "success": False,
        "error_code": "DRAFT_NOT_FOUND",
        "error_message": "Draft not found",
        "publication_id": None,
        "nm_id": None,
        "already_published": False,
        "retries_exhausted": False,
    }
    assert await rows.publications() == []


async def test_draft_not_valid(db, client, burst, rows, marketplace):
    draft = await make_draft(db, is_valid=False, validation_errors=["title too long"])
    job = await publish(client, draft)
    await burst(["content_high"])
    assert (await job.result_info()).result == PublishContentResult.failure(
        "DRAFT_NOT_VALID", "Draft has validation errors"
    ).wire()
    assert await rows.publications() == [] and await marketplace.control("GET", "/requests") == []


@pytest.mark.parametrize("mp", MARKETPLACES)
async def test_recoverable_errors_are_retried_then_succeed(mp, db, marketplace, client, burst, rows):
    await marketplace.seed(mp, {"sku": "R-1", "title": "Old", "description": "Old"})
    await marketplace.fault(kind="server_error", marketplace=mp, path_contains=UPDATE_PATH[mp], times=2)
    draft = await make_draft(db, marketplace=mp, sku="R-1")

    job = await publish(client, draft)
    group = await burst(["content_high"])

    info = await job.result_info()
    assert info.result["success"] is True and info.job_try == 3
    assert group.workers["content_high"].jobs_retried == 2
    [publication] = await rows.publications(draft.id)
    # the success clears what the earlier tries met
    assert (publication["status"], publication["retry_count"]) == ("published", 1)
    assert (publication["error_code"], publication["error_message"]) == (None, None)
    assert len(await rows.notifications("content.published")) == 1
    assert await rows.notifications("content.publish_error") == []


@pytest.mark.parametrize("mp", MARKETPLACES)
async def test_retries_exhausted_fail_the_publication_and_notify(mp, db, marketplace, client, burst, rows):
    await marketplace.seed(mp, {"sku": "X-1", "title": "Old", "description": "Old"})
    await marketplace.fault(kind="rate_limit", marketplace=mp, path_contains=UPDATE_PATH[mp], times=0)
    draft = await make_draft(db, marketplace=mp, sku="X-1")

    job = await publish(client, draft)
    await burst(["content_high"], settings_=_fast_limits())

    info = await job.result_info()
    assert info.job_try == 4
    assert info.result["retries_exhausted"] is True and info.result["error_code"] == "RATE_LIMIT"
    [publication] = await rows.publications(draft.id)
    assert (publication["status"], publication["retry_count"], publication["error_code"]) == ("failed", 3, "RATE_LIMIT")
    [note] = await rows.notifications("content.publish_error")
    assert note["data"]["error_code"] == "RATE_LIMIT"
    assert note["data"]["error_message"].startswith("Превышено количество попыток.")
    assert await rows.draft_status(draft.id) == "approved"


def _fast_limits():
    # a limit answer puts the card back within its run until the run's deadline; only a marketplace that keeps
    # answering so until then spends a try. A short soft limit lets four such runs play out in seconds
    return make_settings(_fast_limits.url, retry_delays=(0.05,), publish_soft_timeout=1.5)


@pytest.fixture(autouse=True)
def _remember_url(sandbox_server):
    _fast_limits.url = sandbox_server.url


@pytest.mark.parametrize(
    ("mp", "kind", "code"),
    [
        ("wb", "validation", "VALIDATION_ERROR"),
        ("ozon", "auth", "AUTH_ERROR"),
        ("ym", "validation", "VALIDATION_ERROR"),
    ],
)
async def test_a_permanent_error_fails_at_once(mp, kind, code, db, marketplace, client, burst, rows):
    await marketplace.seed(mp, {"sku": "P-1", "title": "Old", "description": "Old"})
    await marketplace.fault(kind=kind, marketplace=mp, path_contains=UPDATE_PATH[mp], times=0)
    draft = await make_draft(db, marketplace=mp, sku="P-1")

    job = await publish(client, draft)
    group = await burst(["content_high"])

    info = await job.result_info()
    assert info.job_try == 1 and group.workers["content_high"].jobs_retried == 0
    assert info.result["success"] is False and info.result["error_code"] == code
    assert info.result["retries_exhausted"] is False and info.result["error_message"]
    [publication] = await rows.publications(draft.id)
    assert (publication["status"], publication["error_code"]) == ("failed", code)
    assert publication["api_response"], "the marketplace's own account of the failure is kept"
    [note] = await rows.notifications("content.publish_error")
    assert note["data"]["error_code"] == code


async def test_the_soft_time_limit_turns_a_slow_marketplace_into_a_retried_timeout(
    db, marketplace, client, burst, rows, sandbox_server, caplog
):
    await marketplace.seed("wb", {"sku": "S-1", "title": "Old", "description": "Old"})
    await marketplace.fault(kind="timeout", marketplace="wb", path_contains="cards/update", times=1, delay_s=3)
    draft = await make_draft(db, marketplace="wb", sku="S-1")

    job = await publish(client, draft)
    settings = make_settings(sandbox_server.url, publish_soft_timeout=0.5, http_timeout=10)
    group = await burst(["content_high"], settings_=settings)

    info = await job.result_info()
    assert info.result["success"] is True and info.job_try == 2
    assert group.workers["content_high"].jobs_retried == 1
    [publication] = await rows.publications(draft.id)
    assert (publication["status"], publication["retry_count"], publication["error_code"]) == ("published", 0, None)
    assert "TIMEOUT - soft time limit reached" in caplog.text  # what the first try met, cleared by the success


async def test_one_publish_job_per_draft_at_a_time(db, client, redis):
    draft = await make_draft(db)
    first = await publish(client, draft)
    second = await publish(client, draft)
    assert first.job_id == second.job_id == f"content_factory.tasks.publish_content:{draft.id}"
    assert await redis.zcard("adolf:queue:content_high") == 1


async def test_publishing_an_already_published_draft_changes_nothing(db, marketplace, client, burst, rows):
    await marketplace.seed("wb", {"sku": "D-1", "title": "Old", "description": "Old"})
    draft = await make_draft(db, marketplace="wb", sku="D-1")
    await publish(client, draft)
    await burst(["content_high"])
    again = await publish(client, draft)  # the finished run's id is reused for a new run
    await burst(["content_high"])
    assert (await again.result_info()).result["already_published"] is True
    assert len(await rows.publications(draft.id)) == 1
    assert len(await rows.notifications("content.published")) == 1
    updates = await marketplace.control("GET", "/requests?path_contains=cards/update")
    assert len(updates) == 1, updates


async def test_the_hard_time_limit_fails_the_publication_instead_of_leaving_it_processing(
    db, marketplace, client, burst, rows, sandbox_server
):
    await marketplace.seed("wb", {"sku": "H-1", "title": "Old", "description": "Old"})
    await marketplace.fault(kind="timeout", marketplace="wb", path_contains="cards/update", times=1, delay_s=3)
    draft = await make_draft(db, marketplace="wb", sku="H-1")

    job = await publish(client, draft)
    settings = make_settings(sandbox_server.url, publish_hard_timeout=0.5, publish_soft_timeout=10, http_timeout=10)
    await burst(["content_high"], settings_=settings)

    info = await job.result_info()
    assert info.success is False and info.result.type_name == "JobTimedOut"
    [publication] = await rows.publications(draft.id)
    assert (publication["status"], publication["error_code"]) == ("failed", "TIMEOUT")
    [note] = await rows.notifications("content.publish_error")
    assert note["data"]["error_code"] == "TIMEOUT" and "hard time limit" in note["data"]["error_message"]
    [dead] = await db.fetch("SELECT job_name, error_code FROM failed_jobs")
    assert tuple(dead) == ("content_factory.tasks.publish_content", "TIMEOUT")
