"""Every repository query against real rows, each age threshold at its boundary."""

from datetime import timedelta
from uuid import uuid4

import pytest

from adolf.db.repositories.drafts import DraftRepository
from adolf.db.repositories.failed_jobs import FailedJobRepository
from adolf.db.repositories.generations import GenerationRepository
from adolf.db.repositories.notifications import NotificationRepository
from adolf.db.repositories.publications import PublicationRepository
from adolf.models.content import DraftStatus, Marketplace, PublicationStatus
from tests.support.factories import USER_ID, make_draft, make_publication

US = timedelta(microseconds=1)


@pytest.fixture
async def now(conn):
    return await conn.fetchval("SELECT now()")  # fixed for the whole test transaction


async def test_archive_old_rejected_takes_only_rejected_drafts_strictly_older_than_the_threshold(conn, now):
    threshold = now - timedelta(days=30)
    older = await make_draft(conn, status=DraftStatus.REJECTED, updated_at=threshold - US)
    at_threshold = await make_draft(conn, status=DraftStatus.REJECTED, updated_at=threshold)
    newer = await make_draft(conn, status=DraftStatus.REJECTED, updated_at=threshold + US)
    old_approved = await make_draft(conn, status=DraftStatus.APPROVED, updated_at=threshold - timedelta(days=9))
    repo = DraftRepository(conn)

    assert await repo.archive_old_rejected(threshold=threshold) == 1

    statuses = [(await repo.get_by_id(d.id)).status for d in (older, at_threshold, newer, old_approved)]
    assert statuses == ["archived", "rejected", "rejected", "approved"]
    assert (await repo.get_by_id(older.id)).updated_at == now  # archiving restarts the clock
    assert await repo.archive_old_rejected(threshold=threshold) == 0


async def test_delete_old_archived_takes_only_archived_drafts_strictly_older_than_the_threshold(conn, now):
    threshold = now - timedelta(days=90)
    older = await make_draft(conn, status=DraftStatus.ARCHIVED, updated_at=threshold - US)
    at_threshold = await make_draft(conn, status=DraftStatus.ARCHIVED, updated_at=threshold)
    old_rejected = await make_draft(conn, status=DraftStatus.REJECTED, updated_at=threshold - timedelta(days=1))
    repo = DraftRepository(conn)

    assert await repo.delete_old_archived(threshold=threshold) == 1

    assert await repo.get_by_id(older.id) is None
    assert await repo.get_by_id(at_threshold.id) is not None
    assert await repo.get_by_id(old_rejected.id) is not None


async def test_cleanup_orphaned_deletes_generations_without_a_draft_older_than_the_threshold(conn, now):
    threshold = now - timedelta(days=90)
    repo = GenerationRepository(conn)
    draft = await make_draft(conn)
    orphan_old = await repo.create(sku="A", marketplace=Marketplace.WB, created_at=threshold - US)
    orphan_at = await repo.create(sku="B", marketplace=Marketplace.WB, created_at=threshold)
    linked_old = await repo.create(sku="C", marketplace=Marketplace.WB, draft_id=draft.id, created_at=threshold - US)
    orphaned_by_delete = await repo.create(
        sku="D", marketplace=Marketplace.OZON, draft_id=draft.id, created_at=threshold - timedelta(days=1)
    )

    await conn.execute("DELETE FROM content_drafts WHERE id = $1", draft.id)  # SET NULL orphans C and D
    assert await repo.cleanup_orphaned(threshold=threshold) == 3

    left = {r["id"] for r in await conn.fetch("SELECT id FROM generations")}
    assert left == {orphan_at.id}
    assert {orphan_old.id, linked_old.id, orphaned_by_delete.id}.isdisjoint(left)


async def test_get_pending_for_draft_returns_only_the_publication_in_flight(conn):
    draft = await make_draft(conn)
    repo = PublicationRepository(conn)
    assert await repo.get_pending_for_draft(draft.id) is None
    failed = await make_publication(conn, draft, status=PublicationStatus.FAILED)
    assert await repo.get_pending_for_draft(draft.id) is None
    pending = await make_publication(conn, draft)
    assert pending.id != failed.id
    assert (await repo.get_pending_for_draft(draft.id)).id == pending.id
    await conn.execute("UPDATE publications SET status = 'processing' WHERE id = $1", pending.id)
    assert (await repo.get_pending_for_draft(draft.id)).status == "processing"


async def test_create_while_a_publication_is_in_flight_returns_that_one(conn):
    draft = await make_draft(conn)
    repo = PublicationRepository(conn)
    first = await repo.create(draft_id=draft.id, sku=draft.sku, marketplace=draft.marketplace, published_by=USER_ID)
    second = await repo.create(draft_id=draft.id, sku=draft.sku, marketplace=draft.marketplace, published_by=USER_ID)
    assert first.id == second.id
    assert await conn.fetchval("SELECT count(*) FROM publications WHERE draft_id = $1", draft.id) == 1


async def _claim(repo, draft, ref):
    return await repo.claim(
        draft_id=draft.id, sku=draft.sku, marketplace=draft.marketplace, published_by=draft.user_id, job_ref=ref
    )


async def test_a_claim_takes_a_pending_row_or_its_own_never_another_runs(conn, now):
    draft = await make_draft(conn)
    repo = PublicationRepository(conn)
    created = await _claim(repo, draft, "publish:1@100")  # none in flight: a new row, processing by this run
    assert (created.status, created.job_ref, created.round) == ("processing", "publish:1@100", 1)
    assert (await _claim(repo, draft, "publish:1@100")).id == created.id  # a re-run of the same run
    assert await _claim(repo, draft, "publish:2@200") is None  # another run's: left alone
    taken = await repo.take_over(created.id, from_ref="publish:1@100", job_ref="publish:2@200")
    assert taken.job_ref == "publish:2@200"
    assert await repo.take_over(created.id, from_ref="publish:1@100", job_ref="publish:3@300") is None
    assert (
        await repo.mark_published(
            created.id,
            job_ref="publish:1@100",
            nm_id="1",
            api_response={},
            published_at=now,
            title="t",
            description="d",
        )
        is None
    )  # only the run processing it finishes it
    done = await repo.mark_published(
        created.id, job_ref="publish:2@200", nm_id="1", api_response={}, published_at=now, title="t", description="d"
    )
    assert (done.status, done.published_title) == ("published", "t")
    fresh = await _claim(repo, draft, "publish:4@400")  # a published row is history: a new publication starts
    assert fresh.id != created.id


async def test_a_pending_row_is_claimed_by_any_run(conn):
    draft = await make_draft(conn)
    repo = PublicationRepository(conn)
    pending = await make_publication(conn, draft)
    claimed = await _claim(repo, draft, "publish:9@900")
    assert (claimed.id, claimed.status, claimed.published_by) == (pending.id, "processing", pending.published_by)


async def test_try_errors_failure_and_a_manual_retry_round(conn):
    draft = await make_draft(conn)
    repo = PublicationRepository(conn)
    publication = await _claim(repo, draft, "publish:1@1")
    assert (
        await repo.record_try_error(publication.id, job_ref="other@2", error_code="X", error_message="y", retry_count=1)
        is None
    )
    errored = await repo.record_try_error(
        publication.id, job_ref="publish:1@1", error_code="RATE_LIMIT", error_message="429", retry_count=2
    )
    assert (errored.error_code, errored.error_message, errored.retry_count, errored.status) == (
        "RATE_LIMIT",
        "429",
        2,
        "processing",
    )
    assert await repo.mark_failed(publication.id, job_ref="other@2", error_code="X", error_message="y") is None
    failed = await repo.mark_failed(publication.id, job_ref="publish:1@1", error_code="RATE_LIMIT", error_message="x")
    assert failed.status == "failed"
    reset = await repo.reset_for_retry(publication.id)
    assert (reset.status, reset.retry_count, reset.round) == ("pending", 0, publication.round + 1)
    assert await repo.reset_for_retry(publication.id) is None  # only a failed one


async def test_stale_processing_rows_are_found_by_age(conn, now):
    repo = PublicationRepository(conn)
    old = await _claim(repo, await make_draft(conn), "a@1")
    await _claim(repo, await make_draft(conn), "b@2")
    await conn.execute("UPDATE publications SET updated_at = $2 WHERE id = $1", old.id, now - timedelta(hours=1))
    stale = await repo.get_stale_processing(threshold=now - timedelta(minutes=5))
    assert [p.id for p in stale] == [old.id]


async def test_get_recent_published_includes_the_threshold_and_only_published(conn, now):
    threshold = now - timedelta(hours=24)
    repo = PublicationRepository(conn)
    at = await make_publication(
        conn, await make_draft(conn), status=PublicationStatus.PUBLISHED, published_at=threshold
    )
    inside = await make_publication(conn, await make_draft(conn), status=PublicationStatus.PUBLISHED, published_at=now)
    await make_publication(
        conn, await make_draft(conn), status=PublicationStatus.PUBLISHED, published_at=threshold - US
    )
    await make_publication(conn, await make_draft(conn), status=PublicationStatus.VERIFIED, published_at=now)
    recent = await repo.get_recent_published(threshold=threshold)
    assert [p.id for p in recent] == [at.id, inside.id]


async def test_mark_verified_and_mark_mismatched_only_move_published_rows(conn, now):
    repo = PublicationRepository(conn)
    one = await make_publication(conn, await make_draft(conn), status=PublicationStatus.PUBLISHED, published_at=now)
    two = await make_publication(conn, await make_draft(conn), status=PublicationStatus.PUBLISHED, published_at=now)
    verified = await repo.mark_verified(one.id, verified_at=now)
    assert (verified.status, verified.verified_at) == ("verified", now)
    assert await repo.mark_verified(one.id, verified_at=now) is None
    mismatch = {"expected_title": "a", "actual_title": "b"}
    mismatched = await repo.mark_mismatched(two.id, mismatch=mismatch, checked_at=now)
    assert (mismatched.status, mismatched.mismatch) == ("mismatched", mismatch)
    assert await repo.mark_mismatched(one.id, mismatch=mismatch, checked_at=now) is None


async def test_notifications_dedup_and_lease(conn):
    repo = NotificationRepository(conn)
    first = await repo.add(user_id=USER_ID, event_type="content.published", data={"sku": "A"}, dedup_key="k1")
    assert await repo.add(user_id=USER_ID, event_type="content.published", data={"sku": "A"}, dedup_key="k1") is None
    claimed = await repo.claim_due(limit=10, lease_seconds=60)
    assert [n.id for n in claimed] == [first.id] and claimed[0].attempts == 1
    assert await repo.claim_due(limit=10, lease_seconds=60) == []  # leased
    assert await repo.add_sent_channel(first.id, "slack") is True
    assert await repo.add_sent_channel(first.id, "slack") is False
    assert await repo.mark_delivered(first.id) is True
    assert await repo.mark_delivered(first.id) is False


async def test_failed_jobs_record_each_run_once(conn, now):
    repo = FailedJobRepository(conn)
    values = dict(
        job_id="publish:1",
        job_name="content_factory.tasks.publish_content",
        queue="content_high",
        args=[],
        kwargs={"draft_id": str(uuid4())},
        exception="ValueError: x",
        error_code=None,
        tries=4,
    )
    first = await repo.record(**values, enqueued_at=now)
    assert await repo.record(**values, enqueued_at=now) is None
    second_run = await repo.record(**values, enqueued_at=now + timedelta(seconds=1))
    assert first.id != second_run.id
    listed = await repo.list_recent(job_name="content_factory.tasks.publish_content")
    assert {f.id for f in listed} == {first.id, second_run.id}
    assert await repo.list_recent(job_name="other") == []
    retried = await repo.mark_retried(first.id, retry_job_id="abc")
    assert retried.retry_job_id == "abc" and retried.retried_at is not None
