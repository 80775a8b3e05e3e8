"""sync_publication_status compares title, description and attributes, waits for cards still being applied, and
fails cards the marketplace did not accept: through a real worker against the simulator."""

from datetime import UTC, datetime, timedelta

from adolf.adapters import CardContent
from adolf.models.content import DraftStatus, PublicationStatus
from tests.support.factories import make_draft, make_publication
from tests.support.waiting import eventually

COLOR = "14177449"  # WB «Цвет» of subject 105


async def _published(db, mp, sku, *, attributes=None, ago=timedelta(hours=1), **draft):
    made = await make_draft(db, marketplace=mp, sku=sku, status=DraftStatus.PUBLISHED, **draft)
    return await make_publication(
        db,
        made,
        status=PublicationStatus.PUBLISHED,
        published_at=datetime.now(UTC) - ago,
        published_attributes=attributes,
    )


async def _sync(client, burst):
    job = await client.sync_publication_status()
    await burst(["content_default"])
    return (await job.result_info()).result


async def test_the_attributes_published_are_compared_too(db, marketplace, client, burst, rows):
    text = {"title": "Кружка керамическая 350 мл", "description": "Керамическая кружка для чая и кофе."}
    await marketplace.seed(
        "wb",
        {"sku": "SAME", **text, "attributes": {"Цвет": ["белый", "синий"]}},
        {"sku": "OTHER", **text, "attributes": {"Цвет": "белый"}},
    )
    same = await _published(db, "wb", "SAME", attributes={COLOR: ["Синий", "белый"]}, **text)
    other = await _published(db, "wb", "OTHER", attributes={COLOR: ["черный"]}, **text)

    stats = await _sync(client, burst)

    assert (stats["verified"], stats["mismatched"]) == (1, 1)
    by_id = {p["id"]: p for p in await rows.publications()}
    assert by_id[same.id]["status"] == "verified"  # order and case of the values do not matter
    assert by_id[other.id]["status"] == "mismatched"
    assert by_id[other.id]["mismatch"] == {
        "expected_attributes": {COLOR: ["черный"]},
        "actual_attributes": {COLOR: ["белый"]},
    }


async def test_a_card_still_being_applied_is_pending_not_mismatched(
    db, marketplace, client, burst, rows, build_adapters
):
    await marketplace.seed("ym", {"sku": "YM-SLOW", "title": "Old", "description": "Old"})
    await marketplace.seed("wb", {"sku": "WB-FRESH", "title": "Old", "description": "Old"})
    await marketplace.control("PUT", "/config", {"apply_delay_s": 600})
    content = CardContent(title="Кружка керамическая 350 мл", description="Описание кружки")
    assert (await build_adapters().get_adapter("ym").update_card("YM-SLOW", content)).success
    text = {"title": content.title, "description": content.description}
    ym = await _published(db, "ym", "YM-SLOW", **text)  # YM shows HAS_CARD_CAN_UPDATE_PROCESSING
    wb = await _published(db, "wb", "WB-FRESH", ago=timedelta(minutes=5), **text)  # within WB's 30 minutes

    stats = await _sync(client, burst)

    assert (stats["checked"], stats["pending"], stats["mismatched"]) == (2, 2, 0)
    assert {p["id"]: p["status"] for p in await rows.publications()} == {ym.id: "published", wb.id: "published"}


async def test_changes_ym_did_not_accept_fail_the_publication_with_its_reason(
    db, marketplace, client, burst, rows, build_adapters
):
    await marketplace.seed("ym", {"sku": "YM-MAIL", "title": "Old", "description": "Old"})
    content = CardContent(title="Кружка", description="Пишите на shop@example.org")
    ym = build_adapters().get_adapter("ym")
    assert (await ym.update_card("YM-MAIL", content)).success

    async def processed():
        card = await ym.get_card("YM-MAIL")
        return None if card.processing else card

    assert (await eventually(processed, what="YM processed the card")).rejection
    publication = await _published(db, "ym", "YM-MAIL", title=content.title, description=content.description)

    stats = await _sync(client, burst)

    assert stats["rejected"] == 1
    [row] = await rows.publications(publication.draft_id)
    assert (row["status"], row["error_code"]) == ("failed", "VALIDATION_ERROR")
    assert "HAS_CARD_CAN_UPDATE_ERRORS" in row["error_message"]
    [note] = await rows.notifications("content.publish_error")
    assert note["data"]["sku"] == "YM-MAIL"
