"""Point 5 of the batching issue: no two runs push the same card, and nothing is left `processing` without a job.

Each case was first reproduced against the code before the fix (see the commit that adds this file)."""

from datetime import UTC, datetime, timedelta

from adolf.client import queue_for
from adolf.db.repositories.publications import PublicationRepository
from adolf.models.content import PublicationStatus
from adolf.models.results import RetryPublicationResult
from adolf.services.publish_records import PublishRecords
from adolf.workers.registry import Registry
from tests.support.factories import USER_ID, make_draft, make_publication
from tests.support.jobs import TEST_REGISTRY
from tests.support.waiting import eventually

PUBLISH = "content_factory.tasks.publish_content"


async def _updates_for(marketplace, sku):
    log = await marketplace.control("GET", "/requests?path_contains=cards/update")
    return [entry for entry in log if sku in entry["skus"] and entry["status"] == 200]


async def test_a_second_publish_job_enqueued_without_a_job_id_does_not_push_the_card_again(
    db, redis, marketplace, client, lane_group, rows
):
    await marketplace.seed("wb", {"sku": "DUP-1", "title": "Old", "description": "Old"})
    draft = await make_draft(db, marketplace="wb", sku="DUP-1")
    await marketplace.control("PUT", "/config", {"latency_ms": 1500})

    first = await client.publish_content(draft_id=draft.id, user_id=USER_ID)
    second = await redis.enqueue_job(
        PUBLISH, draft_id=str(draft.id), user_id=str(USER_ID), _queue_name=queue_for(PUBLISH)
    )
    assert second.job_id != first.job_id
    await lane_group(["content_high"])

    results = [await job.result(timeout=30) for job in (first, second)]
    [publication] = await rows.publications(draft.id)
    assert publication["status"] == "published"
    assert [r["success"] for r in results] == [True, True]
    assert {r["publication_id"] for r in results} == {str(publication["id"])}
    assert len(await _updates_for(marketplace, "DUP-1")) == 1
    assert len(await rows.notifications("content.published")) == 1


async def test_retry_publication_neither_waits_for_nor_doubles_a_publication_in_flight(
    db, marketplace, client, lane_group, rows
):
    await marketplace.seed("wb", {"sku": "RTY-1", "title": "Old", "description": "Old"})
    draft = await make_draft(db, marketplace="wb", sku="RTY-1")
    failed = await make_publication(db, draft, status=PublicationStatus.FAILED, error_code="API_ERROR")
    await marketplace.fault(kind="timeout", marketplace="wb", path_contains="cards/update", times=1, delay_s=4)
    publish = await client.publish_content(draft_id=draft.id, user_id=USER_ID)
    await lane_group(["content_high"])

    async def publishing():
        return await db.fetchval("SELECT count(*) FROM publications WHERE status = 'processing'")

    await eventually(publishing, what="the new publication in flight")
    retry = await client.retry_publication(publication_id=failed.id, user_id=USER_ID)

    answer = await retry.result(timeout=10)
    assert (await publish.status()).value == "in_progress"  # answered without waiting for the publish job
    in_flight = await db.fetchval("SELECT id FROM publications WHERE status = 'processing'")
    assert (
        answer
        == RetryPublicationResult.failure(
            "PUBLICATION_IN_PROGRESS", "another publication of this draft is in progress", publication_id=in_flight
        ).wire()
    )
    await publish.result(timeout=30)
    statuses = {p["id"]: p["status"] for p in await rows.publications(draft.id)}
    assert statuses[failed.id] == "failed" and sorted(statuses.values()) == ["failed", "published"]


async def test_a_malformed_job_naming_a_draft_does_not_fail_the_real_jobs_publication(
    db, redis, marketplace, client, lane_group, rows
):
    await marketplace.seed("wb", {"sku": "HOOK-1", "title": "Old", "description": "Old"})
    draft = await make_draft(db, marketplace="wb", sku="HOOK-1")
    await marketplace.control("PUT", "/config", {"latency_ms": 1500})
    real = await client.publish_content(draft_id=draft.id, user_id=USER_ID)
    await lane_group(["content_high"])

    async def in_flight():
        return await db.fetchval("SELECT count(*) FROM publications WHERE status = 'processing'")

    await eventually(in_flight, what="the real publication in flight")
    await redis.enqueue_job(  # names the draft and user correctly, but carries an argument the job does not take
        PUBLISH, draft_id=str(draft.id), user_id=str(USER_ID), priority="high", _queue_name=queue_for(PUBLISH)
    )
    await eventually(lambda: db.fetchval("SELECT count(*) FROM failed_jobs"), what="the malformed job dead-lettered")

    assert (await real.result(timeout=30))["success"] is True
    [publication] = await rows.publications(draft.id)
    assert (publication["status"], publication["error_code"]) == ("published", None)
    assert await rows.notifications("content.publish_error") == []


async def test_the_reconciler_republishes_a_publication_whose_job_is_gone(db, marketplace, client, lane_group, rows):
    await marketplace.seed("wb", {"sku": "ORPHAN-1", "title": "Old", "description": "Old"})
    draft = await make_draft(db, marketplace="wb", sku="ORPHAN-1")
    orphan = await make_publication(db, draft, status=PublicationStatus.PROCESSING)
    stale = datetime.now(UTC) - timedelta(hours=1)
    await db.execute(
        "UPDATE publications SET job_ref = $2, updated_at = $3 WHERE id = $1",
        orphan.id,
        f"{PUBLISH}:lost-in-a-redis-restart@1700000000000",
        stale,
    )
    # without the schedules: the reconciler's own cron slot (every five minutes) must not take this run's work
    await lane_group(["content_high", "content_low"], registry=Registry(TEST_REGISTRY.jobs.values()))

    job = await client.enqueue("content_factory.tasks.reconcile_publications")
    assert (await job.result(timeout=20))["requeued"] == 1

    async def published():
        return (await rows.publications(draft.id))[0]["status"] == "published"

    await eventually(published, timeout=20, what="the orphaned publication published")
    [alert] = [n for n in await rows.notifications("publications.requeued")]
    assert alert["kind"] == "alert" and alert["data"]["count"] == 1


async def test_a_claim_for_a_draft_already_published_is_refused(db, marketplace, burst, client):
    """Review of issue 8: a second publish job of a draft (enqueued without the client's job id) that read the draft
    just before the first job recorded it published then inserted a new publication and pushed the card again."""
    await marketplace.seed("wb", {"sku": "TWICE", "title": "Old", "description": "Old"})
    draft = await make_draft(db, marketplace="wb", sku="TWICE")
    await client.publish_content(draft_id=draft.id, user_id=USER_ID)
    await burst(["content_high"])
    assert await db.fetchval("SELECT status FROM publications WHERE draft_id = $1", draft.id) == "published"

    # what the second job read a moment before the first one finished: an approved draft
    assert await PublishRecords(db).claim(draft, USER_ID, "second-job@1") is None
    assert (
        await PublicationRepository(db).claim(
            draft_id=draft.id,
            sku=draft.sku,
            marketplace=draft.marketplace,
            published_by=USER_ID,
            job_ref="second-job@1",
        )
        is None
    )
    assert await db.fetchval("SELECT count(*) FROM publications WHERE draft_id = $1", draft.id) == 1
