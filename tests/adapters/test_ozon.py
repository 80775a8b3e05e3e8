import pytest

from adolf.adapters import CardContent, CardUpdate

CONTENT = CardContent(
    title="Кружка керамическая",
    description="Описание кружки",
    seo_tags=["кружка", "для чая"],
    attributes={"9048": "Керамика"},
)


async def test_import_waits_for_the_task_and_the_card_reads_back(marketplace, adapters):
    seeded = (await marketplace.seed("ozon", {"sku": "OZ-1", "title": "Old", "description": "Old"}))[0]
    ozon = adapters.get_adapter("ozon")

    result = await ozon.update_card("OZ-1", CONTENT)

    assert result.success and result.nm_id == str(seeded["id"])
    assert result.raw_response["item"]["status"] == "imported" and "task_id" in result.raw_response
    card = await ozon.get_card("OZ-1")
    assert (card.title, card.description) == (CONTENT.title, CONTENT.description)
    stored = await marketplace.card("ozon", "OZ-1")
    attributes = {a["id"]: a["values"][0]["value"] for a in stored["raw"]["attributes"]}
    assert attributes[23171] == "#кружка #для_чая" and attributes[9048] == "Керамика"


async def test_a_batch_reports_imported_failed_and_unknown_cards(marketplace, adapters):
    await marketplace.seed("ozon", *({"sku": s, "title": "t", "description": "d"} for s in ("A", "B")))
    bad = CardContent(title="x" * 501, description="ok")
    results = await adapters.get_adapter("ozon").update_cards(
        [CardUpdate(sku="A", content=CONTENT), CardUpdate(sku="B", content=bad), CardUpdate(sku="C", content=CONTENT)]
    )
    assert [(r.sku, r.success, r.error_code) for r in results] == [
        ("A", True, None),
        ("B", False, "VALIDATION_ERROR"),
        ("C", False, "NOT_FOUND"),
    ]
    assert "500" in results[1].error_message


async def test_a_task_still_pending_after_the_wait_is_a_timeout(marketplace, build_adapters):
    await marketplace.seed("ozon", {"sku": "SLOW", "title": "t", "description": "d"})
    await marketplace.control("PUT", "/config", {"apply_delay_s": 5})
    result = await build_adapters(ozon_import_wait=0.3).get_adapter("ozon").update_card("SLOW", CONTENT)
    assert (result.error_code, result.recoverable) == ("TIMEOUT", True)


async def test_a_bad_api_key_answered_with_404_is_an_auth_error(marketplace, build_adapters):
    await marketplace.seed("ozon", {"sku": "K", "title": "t", "description": "d"})
    ozon = build_adapters(ozon_api_key="wrong-key").get_adapter("ozon")
    result = await ozon.update_card("K", CONTENT)
    assert (result.error_code, result.recoverable) == ("AUTH_ERROR", False)
    assert "Invalid Api-Key" in result.error_message
    requests = await marketplace.control("GET", "/requests?marketplace=ozon")
    assert requests[-1]["status"] == 404


async def test_ozons_429_maps_to_rate_limit_with_retry_after(marketplace, adapters):
    await marketplace.seed("ozon", {"sku": "L", "title": "t", "description": "d"})
    await marketplace.limit("ozon.global", "1/60:1")
    result = await adapters.get_adapter("ozon").update_card("L", CONTENT)
    assert result.error_code == "RATE_LIMIT" and result.retry_after >= 1


async def test_products_are_read_in_pages_of_up_to_1000_and_imported_100_a_request(marketplace, adapters):
    skus = [f"P-{i:04d}" for i in range(250)]
    await marketplace.seed("ozon", *({"sku": sku, "title": "t", "description": "d"} for sku in skus))
    ozon = adapters.get_adapter("ozon")

    results = await ozon.update_cards([CardUpdate(sku=sku, content=CONTENT) for sku in skus])

    assert all(r.success for r in results)
    log = await marketplace.control("GET", "/requests?marketplace=ozon")
    reads = [e for e in log if e["path"].endswith("/info/attributes")]
    imports = [e for e in log if e["path"].endswith("/product/import")]
    assert len(reads) == 1 and [len(e["skus"]) for e in imports] == [100, 100, 50]
    cards = await ozon.get_cards(skus)
    assert {c.title for c in cards.values()} == {CONTENT.title}


async def test_a_transient_error_while_polling_the_import_task_does_not_fail_an_accepted_import(marketplace, adapters):
    await marketplace.seed("ozon", {"sku": "POLL-1", "title": "t", "description": "d"})
    await marketplace.fault(kind="server_error", marketplace="ozon", path_contains="import/info", times=1)
    result = await adapters.get_adapter("ozon").update_card("POLL-1", CONTENT)
    assert result.success and result.raw_response["item"]["status"] == "imported"
    polls = await marketplace.control("GET", "/requests?path_contains=import/info")
    assert polls[0]["status"] == 500 and polls[-1]["status"] == 200
    assert len(await marketplace.control("GET", "/requests?path_contains=product/import")) == len(polls) + 1


async def test_a_full_import_sends_the_whole_product_and_changes_only_what_it_means_to(marketplace, adapters):
    await marketplace.seed("ozon", {"sku": "W-1", "title": "Old", "description": "Old"})
    before = (await marketplace.card("ozon", "W-1"))["raw"]
    ozon = adapters.get_adapter("ozon")

    result = await ozon.update_card(
        "W-1", CardContent(title="New", description="New", attributes={"Цвет товара": "белый"})
    )

    assert result.success and result.attributes == {"10096": ["белый"]}
    after = (await marketplace.card("ozon", "W-1"))["raw"]
    kept = ("barcode", "depth", "width", "height", "dimension_unit", "weight", "weight_unit", "images", "type_id")
    assert {k: after.get(k) for k in kept} == {k: before.get(k) for k in kept}
    listed = (await marketplace.control("GET", "/requests?path_contains=info/list"))[0]
    assert listed["status"] == 200  # prices were read, and sent back (a full import without them fails or is dropped)
    colour = next(a for a in after["attributes"] if a["id"] == 10096)
    assert colour["values"] == [{"dictionary_value_id": 61571, "value": "белый"}]  # the dictionary's own id
    brand = next(a for a in after["attributes"] if a["id"] == 85)
    assert brand["values"][0]["dictionary_value_id"] == 126745801  # untouched attributes keep theirs


@pytest.mark.parametrize(
    ("attributes", "named"),
    [
        ({"Форма": "круглая"}, "'Форма'"),
        ({"Цвет товара": "бирюзовый"}, "'бирюзовый' is not one of its values"),
        ({"Цвет товара": ["белый", "черный", "красный", "синий"]}, "at most 3 value"),
        ({"Бренд": ["Sandbox", "Нет бренда"]}, "at most 1 value"),
    ],
)
async def test_an_attribute_ozon_cannot_take_fails_its_card_at_once_naming_it(attributes, named, marketplace, adapters):
    await marketplace.seed("ozon", {"sku": "A-1", "title": "t", "description": "d"})
    content = CardContent(title="t2", description="d2", attributes=attributes)
    result = await adapters.get_adapter("ozon").update_card("A-1", content)
    assert (result.error_code, named in result.error_message) == ("VALIDATION_ERROR", True), result.error_message
    assert await marketplace.control("GET", "/requests?path_contains=product/import") == []


async def test_a_product_ozon_drops_from_its_import_task_is_a_refusal_not_a_timeout(marketplace, adapters):
    await marketplace.seed("ozon", {"sku": "DROP-1", "title": "t", "description": "d", "fields": {"vat": "0.18"}})
    result = await adapters.get_adapter("ozon").update_card("DROP-1", CONTENT)
    assert (result.error_code, result.recoverable) == ("VALIDATION_ERROR", False)
    assert "missing VAT" in result.error_message


async def test_the_daily_quota_is_read_waited_out_and_shared(marketplace, adapters, redis):
    await marketplace.control("PUT", "/config", {"ozon_daily_update_limit": 2})
    skus = ["Q-1", "Q-2", "Q-3"]
    await marketplace.seed("ozon", *({"sku": s, "title": "t", "description": "d"} for s in skus))
    ozon = adapters.get_adapter("ozon")

    results = await ozon.update_cards([CardUpdate(sku=s, content=CONTENT) for s in skus])

    assert [r.error_code for r in results] == [None, None, "DAILY_QUOTA"]
    assert 0 < results[2].retry_after <= 86_400 and results[2].recoverable
    imported = await marketplace.control("GET", "/requests?path_contains=product/import")
    assert [len(e["skus"]) for e in imported if e["path"].endswith("/import")] == [2]  # the third was never sent
    again = await ozon.update_card("Q-3", CONTENT)  # any process now knows, without asking Ozon again
    assert again.error_code == "DAILY_QUOTA" and await redis.exists("adolf:quota:ozon.daily_update:100500")


async def test_ozons_rate_limit_code_8_is_recognised_on_any_status(marketplace, adapters):
    await marketplace.seed("ozon", {"sku": "C8", "title": "t", "description": "d"})
    await marketplace.fault(kind="rate_limit", marketplace="ozon", path_contains="/product/import", status=400)
    result = await adapters.get_adapter("ozon").update_card("C8", CONTENT)
    assert result.error_code == "RATE_LIMIT" and result.retry_after >= 1
