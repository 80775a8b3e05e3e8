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
