import asyncio

import orjson
import pytest

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
    assert (card.title, card.description, card.attributes["14177449"]) == (
        CONTENT.title,
        CONTENT.description,
        ["белый"],
    )
    assert result.attributes == {"14177449": ["белый"]}  # what was sent, by characteristic id
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


async def test_a_full_overwrite_leaves_every_field_it_did_not_mean_to_change_as_it_was(marketplace, adapters):
    seed = {"sku": "KEEP-1", "title": "Old", "description": "Old", "brand": "Acme"}
    await marketplace.seed("wb", {**seed, "attributes": {"Цвет": "чёрный", "Состав": "хлопок", "Размер": 46}})
    before = (await marketplace.card("wb", "KEEP-1"))["raw"]
    wb = adapters.get_adapter("wb")

    result = await wb.update_card("KEEP-1", CardContent(title="New", description="New", attributes={"Цвет": "белый"}))

    assert result.success
    after = (await eventually(lambda: _changed(marketplace, "KEEP-1"), what="applied"))["raw"]
    unchanged = ("nmID", "vendorCode", "brand", "dimensions", "sizes", "subjectID")
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
    charcs = {c["name"]: c["value"] for c in after["characteristics"]}
    assert charcs == {"Цвет": ["белый"], "Состав": ["хлопок"], "Размер": 46}


async def _changed(marketplace, sku):
    card = await marketplace.card("wb", sku)
    return card if card["title"] == "New" else None


async def test_attributes_are_sent_by_characteristic_typed_as_the_subject_says(marketplace, adapters):
    await marketplace.seed("wb", {"sku": "T-1", "title": "t", "description": "d", "attributes": {"Цвет": "чёрный"}})
    attributes = {"Цвет": ["белый", "синий"], "54337": "48", "Страна производства": "Россия"}  # name, id, new one
    wb = adapters.get_adapter("wb")

    result = await wb.update_card("T-1", CONTENT.model_copy(update={"attributes": attributes}))

    assert result.success
    assert result.attributes == {"14177449": ["белый", "синий"], "54337": 48, "14177451": ["Россия"]}
    card = await eventually(lambda: _applied(wb, "T-1"), what="applied")
    assert card.attributes == result.attributes
    charcs = await marketplace.control("GET", "/requests?path_contains=object/charcs")
    assert len(charcs) == 1  # a subject's characteristics are read once
    await wb.update_card("T-1", CONTENT.model_copy(update={"attributes": {"Цвет": "белый"}}))
    assert len(await marketplace.control("GET", "/requests?path_contains=object/charcs")) == 1


@pytest.mark.parametrize(
    ("attributes", "named"),
    [
        ({"Форма": "круглая"}, "'Форма'"),  # the subject has no such characteristic
        ({"Размер": "большой"}, "'Размер' takes one number"),
        ({"Страна производства": ["Россия", "Китай"]}, "at most 1 value"),
        ({"Устаревшая характеристика": "x"}, "not used"),
    ],
)
async def test_an_attribute_wb_cannot_take_fails_its_card_at_once_naming_it(attributes, named, marketplace, adapters):
    await marketplace.seed("wb", {"sku": "A-1", "title": "t", "description": "d"})
    result = await adapters.get_adapter("wb").update_card("A-1", CONTENT.model_copy(update={"attributes": attributes}))
    assert (result.success, result.error_code) == (False, "VALIDATION_ERROR")
    assert named in result.error_message
    assert await marketplace.control("GET", "/requests?path_contains=cards/update") == []  # never sent


async def test_a_refusal_keeps_wbs_additional_errors_whole(marketplace, adapters):
    await marketplace.seed("wb", {"sku": "E-1", "title": "t", "description": "d"})
    await marketplace.fault(kind="validation", marketplace="wb", path_contains="cards/update", times=0)
    result = await adapters.get_adapter("wb").update_card("E-1", CONTENT)
    assert result.error_code == "VALIDATION_ERROR" and "injected validation fault" in result.error_message
    assert result.raw_response["errorText"] == "sandbox: injected validation fault"
