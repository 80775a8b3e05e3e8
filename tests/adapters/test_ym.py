"""The YM adapter against the simulator: documented request shapes, attributes typed by the category's parameters,
errors kept whole, the fleet-wide parallel cap and the header-driven resource windows."""

import asyncio

import pytest

from adolf.adapters import CardContent, CardUpdate
from adolf.adapters.ym_limits import YmTraffic
from adolf.errors import Deferred
from tests.support.waiting import eventually

CONTENT = CardContent(title="Кружка керамическая", description="Описание кружки")
COLOR, MATERIAL, VOLUME, DISHWASHER = "14871214", "15", "37911750", "23674510"


def drafted(sku: str, attributes: dict | None = None, **content: str) -> CardUpdate:
    fields = {"title": CONTENT.title, "description": CONTENT.description, **content}
    return CardUpdate(sku=sku, content=CardContent(**fields, attributes=attributes or {}))


async def updates(marketplace) -> list[dict]:
    return await marketplace.control("GET", "/requests?path_contains=offer-mappings/update")


async def processed(adapter, sku: str):
    async def done():
        card = await adapter.get_card(sku)
        return None if card.processing else card

    return await eventually(done, what=f"YM processed {sku}")


async def test_update_validates_at_once_and_applies_later(marketplace, adapters):
    await marketplace.control("PUT", "/config", {"log_bodies": True})
    await marketplace.seed("ym", {"sku": "YM-1", "title": "Old", "description": "Old"})
    ym = adapters.get_adapter("ym")
    result = await ym.update_card("YM-1", CONTENT)
    assert result.success and result.raw_response["status"] == "OK"
    assert (await ym.get_card("YM-1")).processing  # accepted, not applied yet
    card = await processed(ym, "YM-1")
    assert (card.title, card.description) == (CONTENT.title, CONTENT.description) and card.nm_id is not None
    [update] = await marketplace.control("GET", "/requests?path_contains=offer-mappings/update")
    assert update["body"] == {
        "offerMappings": [{"offer": {"offerId": "YM-1", "name": CONTENT.title, "description": CONTENT.description}}]
    }


async def test_attributes_go_typed_with_the_offers_category(marketplace, adapters):
    await marketplace.control("PUT", "/config", {"log_bodies": True})
    await marketplace.seed("ym", {"sku": "A-1", "title": "t", "description": "d", "attributes": {MATERIAL: "сталь"}})
    ym = adapters.get_adapter("ym")
    attributes = {"Цвет товара": ["Белый", "черный"], MATERIAL: "керамика", VOLUME: 350, DISHWASHER: True}
    result = await ym.update_cards([drafted("A-1", attributes)])
    assert result[0].success, result[0].error_message
    assert result[0].attributes == {
        COLOR: ["Белый", "черный"],
        MATERIAL: ["керамика"],
        VOLUME: ["350"],
        DISHWASHER: ["true"],
    }
    [update] = await marketplace.control("GET", "/requests?path_contains=offer-mappings/update")
    offer = update["body"]["offerMappings"][0]["offer"]
    assert offer["marketCategoryId"] == 91491
    assert offer["parameterValues"] == [
        {"parameterId": 14871214, "valueId": 14896254, "value": "Белый"},
        {"parameterId": 14871214, "valueId": 14896255, "value": "черный"},
        {"parameterId": 15, "value": "керамика"},
        {"parameterId": 37911750, "value": "350"},
        {"parameterId": 23674510, "value": "true"},
    ]
    assert update["status"] == 200 and update["response"]["results"] == []  # no EMPTY_MARKET_CATEGORY warning
    card = await processed(ym, "A-1")
    assert card.attributes == {
        MATERIAL: ["керамика"],
        COLOR: ["Белый", "черный"],
        VOLUME: ["350"],
        DISHWASHER: ["true"],
    }


async def test_category_parameters_are_read_once(marketplace, adapters):
    await marketplace.seed("ym", *({"sku": f"C-{i}", "title": "t"} for i in range(3)))
    ym = adapters.get_adapter("ym")
    await ym.update_cards([drafted("C-0", {MATERIAL: "стекло"}), drafted("C-1", {MATERIAL: "стекло"})])
    await ym.update_cards([drafted("C-2", {MATERIAL: "стекло"})])
    reads = await marketplace.control("GET", "/requests?path_contains=/parameters")
    assert len(reads) == 1


@pytest.mark.parametrize(
    ("attributes", "named"),
    [
        ({"Вкус": "сладкий"}, "'Вкус': the offer's category has no such parameter"),
        ({"Цвет товара": "зелёный"}, "'Цвет товара' (parameter 14871214) 'зелёный' is not one of its values"),
        ({MATERIAL: ["керамика", "стекло"]}, "'Материал' (parameter 15) takes one value, got 2"),
        ({MATERIAL: "к" * 101}, "'Материал' (parameter 15) is 101 characters long, the maximum is 100"),
        ({VOLUME: "триста"}, "'Объем, мл' (parameter 37911750) 'триста' is not a number"),
        ({DISHWASHER: "иногда"}, "is not true or false"),
        ({VOLUME: 9000}, "'Объем, мл' (parameter 37911750) 9000 is outside 1..5000"),
    ],
)
async def test_an_attribute_ym_cannot_take_fails_its_card_at_once_naming_it(marketplace, adapters, attributes, named):
    await marketplace.seed("ym", {"sku": "B-1", "title": "t"}, {"sku": "B-2", "title": "t"})
    [bad, good] = await adapters.get_adapter("ym").update_cards([drafted("B-1", attributes), drafted("B-2")])
    assert (bad.success, bad.error_code) == (False, "VALIDATION_ERROR") and named in bad.error_message
    assert good.success
    [update] = await updates(marketplace)
    assert update["skus"] == ["B-2"]  # the refused card never went


async def test_a_rejected_batch_fails_only_the_named_cards_and_resends_the_rest(marketplace, adapters):
    await marketplace.seed("ym", *({"sku": s, "title": "t", "description": "d"} for s in ("A", "B", "C")))
    results = await adapters.get_adapter("ym").update_cards(
        [
            drafted("A"),
            drafted("B", title="x" * 257),
            drafted("C"),
            drafted("GHOST"),
        ]
    )
    assert [(r.sku, r.success, r.error_code) for r in results] == [
        ("A", True, None),
        ("B", False, "VALIDATION_ERROR"),
        ("C", True, None),
        ("GHOST", False, "NOT_FOUND"),
    ]
    assert "maximum is 256" in results[1].error_message  # failed before sending: YM's schema would refuse it
    assert results[3].raw_response == [{"type": "OFFER_NOT_FOUND", "message": "Offer GHOST not found in the catalog"}]
    assert [sorted(r["skus"]) for r in await updates(marketplace)] == [["A", "C", "GHOST"], ["A", "C"]]


async def test_an_offer_error_keeps_ym_s_errors_whole(marketplace, adapters):
    await marketplace.seed("ym", {"sku": "K-1", "title": "t", "fields": {"marketCategoryId": 1}})
    [result] = await adapters.get_adapter("ym").update_cards([drafted("K-1", {MATERIAL: "x"})])
    # the offer's category is unknown to YM's category tree: its parameters cannot be read
    assert result.error_code == "NOT_FOUND" and "Category 1 not found" in result.error_message


async def test_a_rejection_naming_no_offer_is_split_until_the_bad_card_is_found(marketplace, adapters):
    await marketplace.seed("ym", *({"sku": s, "title": "t", "description": "d"} for s in "ABCD"))
    await marketplace.fault(kind="validation", marketplace="ym", sku="C", times=0)
    results = await adapters.get_adapter("ym").update_cards([CardUpdate(sku=s, content=CONTENT) for s in "ABCD"])
    assert [(r.sku, r.success) for r in results] == [("A", True), ("B", True), ("C", False), ("D", True)]
    assert results[2].error_code == "VALIDATION_ERROR"


async def test_423_method_locked_fails_the_cards_without_splitting(marketplace, adapters):
    await marketplace.seed("ym", *({"sku": s, "title": "t", "description": "d"} for s in "ABCD"))
    await marketplace.fault(kind="validation", status=423, marketplace="ym", path_contains="update", times=0)
    results = await adapters.get_adapter("ym").update_cards([CardUpdate(sku=s, content=CONTENT) for s in "ABCD"])
    assert {(r.error_code, r.recoverable) for r in results} == {("AUTH_ERROR", False)}
    assert "locked" in results[0].error_message
    assert len(await updates(marketplace)) == 1  # every 4xx costs YM quota: not split


async def test_ym_signals_its_limit_with_420(marketplace, adapters):
    await marketplace.seed("ym", {"sku": "L", "title": "t", "description": "d"})
    await marketplace.fault(kind="rate_limit", marketplace="ym", path_contains="update", times=1)
    ym = adapters.get_adapter("ym")
    result = await ym.update_card("L", CONTENT)
    assert result.error_code == "RATE_LIMIT" and result.retry_after >= 1
    assert (await updates(marketplace))[-1]["status"] == 420


async def test_an_update_waits_for_the_window_the_headers_announce_instead_of_running_into_420(marketplace, adapters):
    await marketplace.control("PUT", "/config", {"ym_limits": {"ym.offer_mappings_update": "150/2"}})
    skus = [f"W-{i:03d}" for i in range(200)]
    await marketplace.seed("ym", *({"sku": s, "title": "t"} for s in skus))
    ym = adapters.get_adapter("ym")
    first = await ym.update_cards([drafted(s) for s in skus[:100]])  # learns: 50 offers left until the window ends
    second = await ym.update_cards([drafted(s) for s in skus[100:]])
    assert all(r.success for r in first + second), {r.error_message for r in first + second}
    assert [(u["status"], len(u["skus"])) for u in await updates(marketplace)] == [(200, 100), (200, 100)]


async def test_a_read_whose_window_is_far_away_is_deferred(marketplace, adapters):
    await marketplace.control("PUT", "/config", {"ym_limits": {"ym.offer_mappings": "1/30"}})
    await marketplace.seed("ym", {"sku": "R-1", "title": "t"})
    ym = adapters.get_adapter("ym")
    assert (await ym.get_card("R-1")).title == "t"
    with pytest.raises(Deferred) as deferred:
        await ym.get_card("R-1")
    assert 20 < deferred.value.delay <= 32
    reads = await marketplace.control("GET", "/requests?path_contains=offer-mappings")
    assert [r["status"] for r in reads] == [200]  # the second read never went


async def test_the_fleet_never_has_more_than_four_requests_of_a_business_in_flight(marketplace, build_adapters, redis):
    """Two processes' adapters (sharing Redis, as a fleet does) read and update at once: no 420."""
    await marketplace.control("PUT", "/config", {"latency_ms": 150})
    skus = [f"P-{i}" for i in range(8)]
    await marketplace.seed("ym", *({"sku": s, "title": "t"} for s in skus))
    one, two = build_adapters().get_adapter("ym"), build_adapters().get_adapter("ym")
    reads = [adapter.get_card(skus[i % 8]) for i, adapter in enumerate([one, two] * 6)]
    writes = [adapter.update_card(skus[i], CONTENT) for i, adapter in enumerate([one, two] * 4)]
    answers = await asyncio.gather(*reads, *writes)
    assert all(card.sku in skus for card in answers[:12]) and all(r.success for r in answers[12:])
    counters = await marketplace.counters()
    assert counters["rate_limited"] == 0 and counters["max_parallel_seen"]["ym"] == 4
    assert await redis.zcard(YmTraffic(redis, "777").slots_key()) == 0  # every slot given back


async def test_a_slot_of_a_killed_holder_frees_itself_when_its_lease_ends(redis, monkeypatch):
    monkeypatch.setattr("adolf.adapters.ym_limits.LEASE", 0.5)
    traffic = YmTraffic(redis, "777", max_parallel=4)
    for token in ("dead-1", "dead-2", "dead-3", "dead-4"):  # taken by a worker that was killed mid-request
        assert await traffic._take(keys=[traffic.slots_key()], args=[token, 4, 500])
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with traffic.slot():
        waited = loop.time() - started
        members = await redis.zrange(traffic.slots_key(), 0, -1)
    assert waited >= 0.3 and [m for m in members if m.startswith(b"dead")] == []


async def test_offers_are_read_back_100_a_request(marketplace, adapters):
    skus = [f"Q-{i:03d}" for i in range(150)]
    await marketplace.seed("ym", *({"sku": sku, "title": "t", "description": "d"} for sku in skus))
    cards = await adapters.get_adapter("ym").get_cards([*skus, "GHOST"])
    assert cards["GHOST"] is None and all(cards[sku].title == "t" for sku in skus)
    reads = await marketplace.control("GET", "/requests?path_contains=offer-mappings")
    assert [len(e["skus"]) for e in reads] == [100, 51]


async def test_changes_ym_did_not_accept_show_as_the_cards_rejection(marketplace, adapters):
    await marketplace.seed("ym", {"sku": "E-1", "title": "t"}, {"sku": "E-2", "title": "t"})
    ym = adapters.get_adapter("ym")
    results = await ym.update_cards([drafted("E-1", description="Пишите shop@example.org"), drafted("E-2")])
    assert all(r.success for r in results)  # accepted for processing
    rejected, accepted = await processed(ym, "E-1"), await processed(ym, "E-2")
    assert rejected.rejection == "YM did not accept the card's changes (cardStatus HAS_CARD_CAN_UPDATE_ERRORS)"
    assert rejected.description == "" and accepted.rejection is None and accepted.title == CONTENT.title
