from adolf.adapters import CardContent, CardUpdate
from tests.support.waiting import eventually

CONTENT = CardContent(title="Кружка керамическая", description="Описание кружки")


async def test_update_validates_at_once_and_applies_later(marketplace, adapters):
    await marketplace.seed("ym", {"sku": "YM-1", "title": "Old", "description": "Old"})
    ym = adapters.get_adapter("ym")
    result = await ym.update_card("YM-1", CONTENT)
    assert result.success and result.raw_response["status"] == "OK"

    async def applied():
        card = await ym.get_card("YM-1")
        return card if card.title == CONTENT.title else None

    card = await eventually(applied, what="YM applied the update")
    assert card.description == CONTENT.description and card.nm_id is not None


async def test_a_rejected_batch_fails_only_the_named_cards_and_resends_the_rest(marketplace, adapters):
    await marketplace.seed("ym", *({"sku": s, "title": "t", "description": "d"} for s in ("A", "B", "C")))
    bad = CardContent(title="x" * 257, description="ok")
    results = await adapters.get_adapter("ym").update_cards(
        [
            CardUpdate(sku="A", content=CONTENT),
            CardUpdate(sku="B", content=bad),
            CardUpdate(sku="C", content=CONTENT),
            CardUpdate(sku="GHOST", content=CONTENT),
        ]
    )
    assert [(r.sku, r.success, r.error_code) for r in results] == [
        ("A", True, None),
        ("B", False, "VALIDATION_ERROR"),
        ("C", True, None),
        ("GHOST", False, "NOT_FOUND"),
    ]
    updates = await marketplace.control("GET", "/requests?path_contains=offer-mappings/update")
    assert [sorted(r["skus"]) for r in updates] == [["A", "B", "C", "GHOST"], ["A", "C"]]


async def test_a_rejection_naming_no_offer_is_split_until_the_bad_card_is_found(marketplace, adapters):
    await marketplace.seed("ym", *({"sku": s, "title": "t", "description": "d"} for s in "ABCD"))
    await marketplace.fault(kind="validation", marketplace="ym", sku="C", times=0)
    results = await adapters.get_adapter("ym").update_cards([CardUpdate(sku=s, content=CONTENT) for s in "ABCD"])
    assert [(r.sku, r.success) for r in results] == [("A", True), ("B", True), ("C", False), ("D", True)]
    assert results[2].error_code == "VALIDATION_ERROR"


async def test_ym_signals_its_limit_with_420(marketplace, adapters):
    await marketplace.seed("ym", {"sku": "L", "title": "t", "description": "d"})
    await marketplace.limit("ym.offer_mappings_update", "1/60:1")
    ym = adapters.get_adapter("ym")
    assert (await ym.update_card("L", CONTENT)).success
    result = await ym.update_card("L", CONTENT)
    assert result.error_code == "RATE_LIMIT" and result.retry_after > 0
    requests = await marketplace.control("GET", "/requests?path_contains=offer-mappings/update")
    assert requests[-1]["status"] == 420


async def test_offers_are_read_back_100_a_request(marketplace, adapters):
    skus = [f"Q-{i:03d}" for i in range(150)]
    await marketplace.seed("ym", *({"sku": sku, "title": "t", "description": "d"} for sku in skus))
    cards = await adapters.get_adapter("ym").get_cards([*skus, "GHOST"])
    assert cards["GHOST"] is None and all(cards[sku].title == "t" for sku in skus)
    reads = await marketplace.control("GET", "/requests?path_contains=offer-mappings")
    assert [len(e["skus"]) for e in reads] == [100, 51]
