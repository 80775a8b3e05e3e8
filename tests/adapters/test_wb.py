import asyncio

import orjson

from adolf.adapters import CardContent, CardUpdate
from tests.support.waiting import eventually

CONTENT = CardContent(
    title="Кружка керамическая белая",
    description="Новая кружка " * 20,
    attributes={"Цвет": "белый"},
    seo_tags=["кружка"],
)


async def test_update_is_accepted_then_applied_and_read_back(marketplace, adapters):
    seeded = (
        await marketplace.seed(
            "wb", {"sku": "WB-1", "title": "Old", "description": "Old text", "attributes": {"Цвет": "чёрный"}}
        )
    )[0]
    wb = adapters.get_adapter("wb")

    result = await wb.update_card("WB-1", CONTENT)

    assert result.success and result.nm_id == str(seeded["id"])
    assert result.raw_response == {"data": None, "error": False, "errorText": "", "additionalErrors": {}}
    card = await eventually(lambda: _applied(wb, "WB-1"), what="WB applied the update")
    assert (card.title, card.description, card.attributes["Цвет"]) == (CONTENT.title, CONTENT.description, ["белый"])
    sent = [r for r in await marketplace.control("GET", "/requests?marketplace=wb") if r["path"].endswith("update")]
    assert len(sent) == 1 and "WB-1" in sent[0]["skus"]


async def _applied(adapter, sku):
    card = await adapter.get_card(sku)
    return card if card and card.title == CONTENT.title else None


async def test_a_batch_reports_each_card_and_a_later_rejection_shows_in_the_error_list(marketplace, adapters):
    await marketplace.seed("wb", *({"sku": s, "title": "t", "description": "d"} for s in ("A", "B")))
    wb = adapters.get_adapter("wb")
    too_long = CardContent(title="x" * 61, description="ok")

    results = await wb.update_cards(
        [
            CardUpdate(sku="A", content=CONTENT),
            CardUpdate(sku="B", content=too_long),
            CardUpdate(sku="GHOST", content=CONTENT),
        ]
    )

    assert [(r.sku, r.success, r.error_code) for r in results] == [
        ("A", True, None),
        ("B", True, None),
        ("GHOST", False, "NOT_FOUND"),
    ]
    rejected = await eventually(lambda: wb.rejected_cards(["A", "B"]), what="WB error list")
    assert list(rejected) == ["B"] and "60" in rejected["B"]
    assert (await wb.get_card("B")).title == "t"  # a rejected card keeps its old content
    updates = [r for r in await marketplace.control("GET", "/requests?path_contains=cards/update")]
    assert len(updates) == 1  # one request for the whole batch


async def test_get_card_of_a_missing_card_is_none(marketplace, adapters):
    assert await adapters.get_adapter("wb").get_card("NOPE") is None


async def test_rate_limit_answer_maps_to_rate_limit_with_wbs_retry_header(marketplace, adapters):
    await marketplace.seed("wb", {"sku": "R", "title": "t", "description": "d"})
    await marketplace.limit("wb.cards_update", "1/60:1")
    wb = adapters.get_adapter("wb")
    assert (await wb.update_card("R", CONTENT)).success
    result = await wb.update_card("R", CONTENT)
    assert (result.error_code, result.success) == ("RATE_LIMIT", False)
    assert 1 <= result.retry_after <= 60  # from X-Ratelimit-Retry


async def test_the_token_never_reaches_logs_or_stored_responses(marketplace, adapters, caplog):
    caplog.set_level("DEBUG")
    await marketplace.seed("wb", {"sku": "S", "title": "t", "description": "d"})
    await marketplace.fault(kind="auth", marketplace="wb")
    wb = adapters.get_adapter("wb")
    failed = await wb.update_card("S", CONTENT)
    ok = await wb.update_card("S", CONTENT)
    assert failed.error_code == "AUTH_ERROR" and ok.success
    stored = orjson.dumps([failed.model_dump(), ok.model_dump()]).decode()
    assert "sandbox-wb-token" not in stored and "sandbox-wb-token" not in caplog.text


async def test_a_card_is_matched_by_its_exact_vendor_code_never_by_a_substring_hit(marketplace, adapters):
    seeded = await marketplace.seed(
        "wb", *({"sku": f"SKU-{i}", "title": "t", "description": "d"} for i in range(1, 251))
    )
    ids = {card["sku"]: card["id"] for card in seeded}
    wb = adapters.get_adapter("wb")

    result = await wb.update_card("SKU-1", CONTENT)  # textSearch "SKU-1" hits 111 vendor codes: two pages of them

    assert result.success and result.nm_id == str(ids["SKU-1"])
    [update] = await marketplace.control("GET", "/requests?path_contains=cards/update")
    assert update["skus"] == ["SKU-1", str(ids["SKU-1"])]
    missing = await wb.update_card("SKU-25", CONTENT.model_copy(update={"title": "x"}))
    assert missing.success  # SKU-25 exists; SKU-2500 does not and must not borrow SKU-25's card:
    assert (await wb.update_card("SKU-2500", CONTENT)).error_code == "NOT_FOUND"


async def test_many_cards_are_found_by_walking_the_catalog_in_pages_of_100(marketplace, adapters):
    await marketplace.seed("wb", *({"sku": f"W-{i:03d}", "title": "t", "description": "d"} for i in range(250)))
    wb = adapters.get_adapter("wb")
    wanted = [f"W-{i:03d}" for i in range(0, 250, 5)]  # 50 cards spread over the whole catalog

    results = await wb.update_cards([CardUpdate(sku=sku, content=CONTENT) for sku in wanted])

    assert all(r.success for r in results)
    reads = await marketplace.control("GET", "/requests?path_contains=cards/list")
    assert len(reads) == 3  # ceil(250 / 100) pages, whatever the number of cards wanted
    cards = await wb.get_cards(wanted)  # read back: a fresh walk, again in pages
    assert (
        set(cards) == set(wanted) and len(await marketplace.control("GET", "/requests?path_contains=cards/list")) == 6
    )


async def test_a_vendor_code_that_looks_like_another_cards_nm_id_never_picks_that_card(marketplace, adapters):
    [a] = await marketplace.seed("wb", {"sku": "987654321", "title": "Card A", "description": "A"})
    await marketplace.seed("wb", {"sku": "B-1", "title": "Card B", "description": "B", "nm_id": 987654321})
    wb = adapters.get_adapter("wb")  # B's nmID is A's vendor code

    result = await wb.update_card("987654321", CONTENT)

    assert result.success and result.nm_id == str(a["id"])
    [update] = await marketplace.control("GET", "/requests?path_contains=cards/update")
    assert "B-1" not in update["skus"]
    by_nm = await wb.update_card(str(a["id"]), CONTENT)  # no card has A's nmID as vendor code: the nmID names A
    assert by_nm.success and by_nm.nm_id == str(a["id"])


async def test_a_search_pages_oldest_first_so_a_card_updated_meanwhile_is_still_met(marketplace, adapters):
    await marketplace.seed("wb", {"sku": "Q-1", "title": "Old", "description": "Old"})  # the oldest of its hits
    await marketplace.seed("wb", *({"sku": f"Q-1{i:03d}", "title": "x", "description": "x"} for i in range(150)))
    wb = adapters.get_adapter("wb")
    await marketplace.control("PUT", "/config", {"latency_ms": 300})

    searching = asyncio.create_task(wb.catalog.search("Q-1"))
    await eventually(lambda: _requests(marketplace, "cards/list"), what="the first page asked for")
    await marketplace.seed("wb", {"sku": "Q-1", "title": "Touched", "description": "Old"})  # updated in between

    found = await searching
    assert found is not None and found["vendorCode"] == "Q-1"


async def _requests(marketplace, path):
    return await marketplace.control("GET", f"/requests?path_contains={path}")
