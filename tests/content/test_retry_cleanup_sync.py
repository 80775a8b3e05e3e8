"""retry_publication, cleanup_old_drafts and sync_publication_status through real workers."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from adolf.adapters import CardContent
from adolf.db.repositories.generations import GenerationRepository
from adolf.models.content import DraftStatus, PublicationStatus
from adolf.models.results import RetryPublicationResult
from tests.support.factories import USER_ID, make_draft, make_publication
from tests.support.waiting import eventually

OK = {"success": True, "error_code": None, "error_message": None}


async def test_retry_publication_republishes_a_failed_publication(db, marketplace, client, burst, rows):
    await marketplace.seed("wb", {"sku": "F-1", "title": "Old", "description": "Old"})
    draft = await make_draft(db, marketplace="wb", sku="F-1")
    failed = await make_publication(
        db, draft, status=PublicationStatus.FAILED, error_code="API_ERROR", error_message="HTTP 500"
    )
    await db.execute("UPDATE publications SET retry_count = 3 WHERE id = $1", failed.id)

    job = await client.retry_publication(publication_id=failed.id, user_id=USER_ID)
    await burst(["content_high"])

    result = (await job.result_info()).result
    assert result["success"] is True and result["message"] == "Publication retry scheduled"
    assert result["job_id"] == f"content_factory.tasks.publish_content:{draft.id}"
    [publication] = await rows.publications(draft.id)
    assert publication["id"] == failed.id  # the same row, in a new round
    assert (publication["status"], publication["retry_count"], publication["round"]) == ("published", 0, 2)
    assert len(await rows.notifications("content.published")) == 1


async def test_retry_publication_refuses_other_statuses_and_missing_rows(db, client, burst, rows):
    draft = await make_draft(db, status=DraftStatus.PUBLISHED)
    published = await make_publication(db, draft, status=PublicationStatus.PUBLISHED, published_at=datetime.now(UTC))

    not_failed = await client.retry_publication(publication_id=published.id, user_id=USER_ID)
    missing = await client.retry_publication(publication_id=uuid4(), user_id=USER_ID)
    await burst(["content_high"])

    assert (await not_failed.result_info()).result == RetryPublicationResult.failure(
        "PUBLICATION_NOT_FAILED", "only a failed publication is retried; this one is published"
    ).wire()
    assert (await missing.result_info()).result == RetryPublicationResult.failure(
        "PUBLICATION_NOT_FOUND", "Publication not found"
    ).wire()
    assert [p["status"] for p in await rows.publications()] == ["published"]


async def test_cleanup_old_drafts_applies_both_thresholds_and_returns_the_counts(db, client, burst):
    now = datetime.now(UTC)
    await make_draft(db, status=DraftStatus.REJECTED, updated_at=now - timedelta(days=31))
    await make_draft(db, status=DraftStatus.REJECTED, updated_at=now - timedelta(days=29))
    await make_draft(db, status=DraftStatus.ARCHIVED, updated_at=now - timedelta(days=91))
    await make_draft(db, status=DraftStatus.ARCHIVED, updated_at=now - timedelta(days=89))
    generations = GenerationRepository(db)
    await generations.create(sku="G1", marketplace="wb", created_at=now - timedelta(days=91))
    await generations.create(sku="G2", marketplace="wb", created_at=now - timedelta(days=89))

    job = await client.cleanup_old_drafts(archive_days=30, delete_days=90)
    await burst(["content_low"])

    assert (await job.result_info()).result == {
        **OK,
        "archived_drafts": 1,
        "deleted_drafts": 1,
        "deleted_generations": 1,
    }
    statuses = sorted(r["status"] for r in await db.fetch("SELECT status FROM content_drafts"))
    assert statuses == ["archived", "archived", "rejected"]


async def _published(db, marketplace_name, sku, title="Кружка", description="Описание"):
    draft = await make_draft(
        db, marketplace=marketplace_name, sku=sku, title=title, description=description, status=DraftStatus.PUBLISHED
    )
    return await make_publication(db, draft, status=PublicationStatus.PUBLISHED, published_at=datetime.now(UTC))


async def test_sync_verifies_flags_mismatches_and_counts_errors(db, marketplace, client, burst, rows):
    await marketplace.seed(
        "wb",
        {"sku": "OK", "title": "Кружка", "description": "Описание"},
        {"sku": "DIFF", "title": "Кружка", "description": "Другое описание"},
    )
    await marketplace.seed("ozon", {"sku": "OZ-OK", "title": "Кружка", "description": "Описание"})
    await marketplace.seed("ym", {"sku": "YM-BROKEN", "title": "Кружка", "description": "Описание"})
    ok, diff, oz = [await _published(db, mp, sku) for mp, sku in (("wb", "OK"), ("wb", "DIFF"), ("ozon", "OZ-OK"))]
    missing = await _published(db, "wb", "GONE")
    broken = await _published(db, "ym", "YM-BROKEN")
    old = await _published(db, "wb", "OLD")
    await db.execute("UPDATE publications SET published_at = now() - interval '25 hours' WHERE id = $1", old.id)
    # past WB's 30 minutes to apply: a difference now is a mismatch
    await db.execute("UPDATE publications SET published_at = now() - interval '31 minutes' WHERE id = $1", diff.id)
    await marketplace.fault(kind="server_error", marketplace="ym", path_contains="offer-mappings", times=0)

    job = await client.sync_publication_status()
    await burst(["content_default"])

    stats = (await job.result_info()).result
    assert stats == {**OK, "checked": 5, "verified": 2, "mismatched": 1, "pending": 0, "errors": 2, "rejected": 0}
    by_id = {p["id"]: p for p in await rows.publications()}
    assert [by_id[p.id]["status"] for p in (ok, oz, diff, missing, broken, old)] == [
        "verified",
        "verified",
        "mismatched",
        "published",
        "published",
        "published",
    ]
    assert by_id[ok.id]["verified_at"] is not None
    assert by_id[diff.id]["mismatch"]["expected_description"] == "Описание"
    assert by_id[diff.id]["mismatch"]["actual_description"] == "Другое описание"


async def test_sync_fails_a_card_the_marketplace_rejected_after_accepting_it(
    db, marketplace, client, burst, rows, build_adapters
):
    await marketplace.seed("wb", {"sku": "LONG", "title": "t", "description": "d"})
    too_long = "Кружка " * 12
    publication = await _published(db, "wb", "LONG", title=too_long)
    wb = build_adapters().get_adapter("wb")
    assert (await wb.update_card("LONG", CardContent(title=too_long, description="Описание"))).success
    await eventually(lambda: wb.rejected_cards(["LONG"]), what="WB listed the rejection")

    job = await client.sync_publication_status()
    await burst(["content_default"])

    assert (await job.result_info()).result["rejected"] == 1
    [row] = await rows.publications(publication.draft_id)
    assert (row["status"], row["error_code"]) == ("failed", "VALIDATION_ERROR")
    [note] = await rows.notifications("content.publish_error")
    assert "60" in note["data"]["error_message"]


async def test_office_heartbeat_beats_for_both_content_factory_agents(redis, client, burst):
    from tests.content.conftest import office_state

    job = await client.enqueue("content_factory.tasks.office_heartbeat")
    await burst(["content_low"])
    assert (await job.result_info()).result == {**OK, "agents": 2}
    for agent_id, name in (("content_descriptions", "Генератор описаний"), ("content_seo", "SEO оптимизатор")):
        state = await office_state(redis, agent_id)
        assert (state["name"], state["department"], state["salary_equivalent"]) == (name, "content_factory", 60000)
        assert "last_heartbeat" in state


async def test_a_card_rejected_after_publishing_and_retried_is_announced_again(db, marketplace, client, burst, rows):
    await marketplace.seed("wb", {"sku": "AGAIN", "title": "t", "description": "d"})
    draft = await make_draft(db, marketplace="wb", sku="AGAIN")
    await client.publish_content(draft_id=draft.id, user_id=USER_ID)
    await burst(["content_high"])
    [publication] = await rows.publications(draft.id)
    await db.execute("UPDATE publications SET status = 'failed' WHERE id = $1", publication["id"])  # as sync would

    await client.retry_publication(publication_id=publication["id"], user_id=USER_ID)
    await burst(["content_high"])

    [again] = await rows.publications(draft.id)
    assert (again["status"], again["round"]) == ("published", 2)
    announced = await rows.notifications("content.published")
    assert [n["dedup_key"].rsplit(":", 1)[1] for n in announced] == ["1", "2"]


async def test_sync_reads_cards_back_in_pages_not_one_request_per_card(db, marketplace, client, burst):
    for mp in ("wb", "ozon", "ym"):
        skus = [f"{mp}-{i:03d}" for i in range(150)]
        await marketplace.seed(mp, *({"sku": sku, "title": "Кружка", "description": "Описание"} for sku in skus))
        for sku in skus:
            await _published(db, mp, sku)

    job = await client.sync_publication_status()
    await burst(["content_default"])

    assert (await job.result_info()).result == {
        **OK,
        "checked": 450,
        "verified": 450,
        "mismatched": 0,
        "pending": 0,
        "errors": 0,
        "rejected": 0,
    }
    log = await marketplace.control("GET", "/requests")
    reads = {
        "wb": [e for e in log if e["path"].endswith("cards/list")],
        "ozon": [e for e in log if e["path"].endswith("info/attributes")],
        "ym": [e for e in log if e["path"].endswith("offer-mappings")],
    }
    assert {mp: len(entries) for mp, entries in reads.items()} == {"wb": 2, "ozon": 1, "ym": 2}
