"""What a review found trying to break the attribute mapping and YM's limits: each test shows one fixed problem."""

import asyncio
import time
from email.utils import formatdate

import pytest
import redis.exceptions

from adolf.adapters import CardContent, CardUpdate
from adolf.adapters.ym_limits import YmTraffic

CONTENT = CardContent(title="Кружка керамическая", description="Описание кружки")
MATERIAL = "15"


def drafted(sku: str, attributes: dict | None = None) -> CardUpdate:
    return CardUpdate(sku=sku, content=CONTENT.model_copy(update={"attributes": attributes or {}}))


async def updates(marketplace, path: str = "offer-mappings/update") -> list[dict]:
    return await marketplace.control("GET", f"/requests?path_contains={path}")


async def test_a_caller_cancelled_while_a_category_is_read_does_not_break_the_cache(marketplace, adapters):
    await marketplace.seed("ym", {"sku": "C-1", "title": "t"})
    await marketplace.seed("wb", {"sku": "W-1", "title": "t", "description": "d"})
    await marketplace.control("PUT", "/config", {"latency_ms": 300})
    ym, wb = adapters.get_adapter("ym"), adapters.get_adapter("wb")
    for read in (ym.categories.parameters(91491), wb.subjects.charcs(105)):
        waiter = asyncio.ensure_future(read)
        await asyncio.sleep(0.05)
        waiter.cancel()  # one job gives up; the read the others share goes on
    await marketplace.control("PUT", "/config", {"latency_ms": 0})
    [ym_result] = await ym.update_cards([drafted("C-1", {MATERIAL: "стекло"})])
    [wb_result] = await asyncio.wait_for(wb.update_cards([drafted("W-1", {"Цвет": "белый"})]), 10)
    assert ym_result.success and wb_result.success
    assert len(await updates(marketplace, "/parameters")) == 1  # the first read was not thrown away


async def test_a_request_that_timed_out_keeps_its_slot_until_its_lease_ends(marketplace, build_adapters, redis):
    await marketplace.seed("ym", *({"sku": f"T-{i}", "title": "t"} for i in range(5)))
    ym = build_adapters(http_timeout=0.3).get_adapter("ym")
    await marketplace.fault(kind="timeout", marketplace="ym", delay_s=2, times=1)
    with pytest.raises(Exception, match="did not answer"):
        await ym.get_card("T-0")
    # YM may still be working on it: the slot stays taken (it frees itself when its lease runs out)
    assert await redis.zcard(YmTraffic(redis, "777").slots_key()) == 1
    cards = await asyncio.gather(*(ym.get_card(f"T-{i}") for i in range(1, 5)))
    assert [c.sku for c in cards] == ["T-1", "T-2", "T-3", "T-4"]
    assert (await marketplace.counters())["rate_limited"] == 0  # three slots served the four reads


async def test_an_update_bigger_than_ym_s_whole_window_is_split_to_fit(marketplace, adapters):
    await marketplace.control("PUT", "/config", {"ym_limits": {"ym.offer_mappings_update": "50/2"}})
    skus = [f"B-{i:03d}" for i in range(100)]
    await marketplace.seed("ym", *({"sku": s, "title": "t"} for s in skus))
    ym = adapters.get_adapter("ym")
    first = await ym.update_cards([drafted(s) for s in skus])  # nothing known yet: YM refuses 100 with 420
    assert {r.error_code for r in first} == {"RATE_LIMIT"}
    second = await ym.update_cards([drafted(s) for s in skus])  # the window is known now: two requests of 50
    assert all(r.success for r in second)
    assert [(u["status"], len(u["skus"])) for u in await updates(marketplace)] == [(420, 100), (200, 50), (200, 50)]


async def test_redis_failing_while_a_slot_is_given_back_does_not_fail_an_accepted_update(
    marketplace, adapters, monkeypatch
):
    await marketplace.seed("ym", {"sku": "Z-1", "title": "t"})
    ym = adapters.get_adapter("ym")

    async def gone(*args, **kwargs):
        raise redis.exceptions.ConnectionError("Redis went away for a moment")

    monkeypatch.setattr(ym.http.traffic.redis, "zrem", gone)
    result = await ym.update_card("Z-1", CONTENT)
    assert result.success and [u["status"] for u in await updates(marketplace)] == [200]


async def test_two_drafts_of_one_offer_do_not_fail_the_page_they_are_read_in(marketplace, adapters):
    await marketplace.seed("ym", {"sku": "D-1", "title": "t"}, {"sku": "D-2", "title": "t"})
    results = await adapters.get_adapter("ym").update_cards(
        [
            drafted("D-1", {MATERIAL: "стекло"}),
            drafted("D-1", {MATERIAL: "сталь"}),
            drafted("D-2", {MATERIAL: "дерево"}),
        ]
    )
    assert all(r.success for r in results)
    [read] = [e for e in await updates(marketplace, "/offer-mappings") if e["path"].endswith("/offer-mappings")]
    assert (read["status"], read["skus"]) == (200, ["D-1", "D-2"])


@pytest.mark.parametrize("value", [None, {"k": "v"}, [["a", "b"]], float("inf")])
@pytest.mark.parametrize(("mp", "attribute"), [("ym", MATERIAL), ("ozon", "9048")])
async def test_a_value_that_is_not_text_a_number_or_a_boolean_is_never_sent_as_python_text(
    marketplace, adapters, mp, attribute, value
):
    await marketplace.seed(mp, {"sku": "N-1", "title": "t", "description": "d"})
    [result] = await adapters.get_adapter(mp).update_cards([drafted("N-1", {attribute: value})])
    assert result.error_code == "VALIDATION_ERROR" and "takes text, numbers or true/false" in result.error_message
    assert await updates(marketplace, "update") == [] and await updates(marketplace, "import") == []


async def test_ozon_checks_a_decimal_attribute_takes_a_number(marketplace, adapters):
    await marketplace.seed("ozon", {"sku": "N-2", "title": "t", "description": "d"})
    ozon = adapters.get_adapter("ozon")
    [refused] = await ozon.update_cards([drafted("N-2", {"Вес товара, г": "тяжёлый"})])
    assert refused.error_code == "VALIDATION_ERROR" and "takes a number" in refused.error_message
    [taken] = await ozon.update_cards([drafted("N-2", {"Вес товара, г": "350,5"})])
    assert taken.success and taken.attributes == {"4383": ["350.5"]}


@pytest.mark.parametrize(
    ("mp", "attributes", "named"),
    [
        ("ym", {"15": "сталь", "Материал": "стекло"}, "'Материал' (parameter 15) is named twice"),
        ("wb", {"14177449": "белый", "Цвет": "черный"}, "'Цвет' (characteristic 14177449) is named twice"),
        ("ozon", {"10096": "белый", "Цвет товара": "черный"}, "'Цвет товара' (10096) is named twice"),
    ],
)
async def test_one_attribute_named_twice_fails_the_card(marketplace, adapters, mp, attributes, named):
    await marketplace.seed(mp, {"sku": "P-1", "title": "t", "description": "d"})
    [result] = await adapters.get_adapter(mp).update_cards([drafted("P-1", attributes)])
    assert result.error_code == "VALIDATION_ERROR" and named in result.error_message


async def test_a_number_too_big_for_json_fails_its_wb_card_and_the_others_go(marketplace, adapters):
    await marketplace.seed("wb", *({"sku": s, "title": "t", "description": "d"} for s in ("H-1", "H-2")))
    results = await asyncio.wait_for(
        adapters.get_adapter("wb").update_cards([drafted("H-1", {"54337": 10**400}), drafted("H-2")]), 10
    )
    assert results[0].error_code == "VALIDATION_ERROR" and "takes one number" in results[0].error_message
    assert results[1].success


async def test_more_than_300_parameter_values_fail_the_card_before_sending(marketplace, adapters):
    await marketplace.seed("ym", *({"sku": f"M-{i}", "title": "t"} for i in range(3)))
    many = {"14871214": ["белый"] * 301}
    results = await adapters.get_adapter("ym").update_cards([drafted("M-0", many), drafted("M-1"), drafted("M-2")])
    assert results[0].error_code == "VALIDATION_ERROR" and "at most 300" in results[0].error_message
    assert all(r.success for r in results[1:])
    assert [u["skus"] for u in await updates(marketplace)] == [["M-1", "M-2"]]


async def test_a_worker_whose_clock_is_fast_still_waits_only_as_long_as_ym_says(redis, monkeypatch):
    traffic = YmTraffic(redis, "777", max_wait=20)
    now = time.time()
    headers = {
        "X-RateLimit-Resource-Limit": "10",
        "X-RateLimit-Resource-Remaining": "0",
        "X-RateLimit-Resource-Until": formatdate(now + 2, usegmt=True),
    }
    monkeypatch.setattr(time, "time", lambda: now + 600)  # this worker's clock is 10 minutes fast
    await traffic.observe("ym.offer_mappings", 200, headers)
    monkeypatch.undo()
    started = time.monotonic()
    await traffic.admit("ym.offer_mappings", 1)
    assert time.monotonic() - started < 10


async def test_every_answer_of_a_window_names_the_same_end(marketplace):
    await marketplace.control("PUT", "/config", {"ym_limits": {"ym.offer_mappings": "1000/3"}})
    seen = set()
    for _ in range(5):
        _, _, headers = await marketplace.ym("/offer-mappings", {"offerIds": ["U-1"]})
        seen.add(headers["X-RateLimit-Resource-Until"])
    assert len(seen) == 1
