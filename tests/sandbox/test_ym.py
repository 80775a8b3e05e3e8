"""Yandex Market: synchronous validation, whole-batch rejection, delayed apply, 401/403/420."""

from __future__ import annotations

import asyncio
from email.utils import parsedate_to_datetime

from tests.support.waiting import eventually

from .helpers import YM_AUTH, Client

UPDATE = "/offer-mappings/update"
READ = "/offer-mappings"


def mapping(offer_id: str, **fields: object) -> dict:
    return {"offer": {"offerId": offer_id, **fields}}


async def read(client: Client, *offer_ids: str) -> dict[str, dict]:
    status, body, _ = await client.ym(READ, {"offerIds": list(offer_ids)})
    assert status == 200 and body["status"] == "OK", body
    return {m["offer"]["offerId"]: m for m in body["result"]["offerMappings"]}


async def test_update_is_validated_then_applied_after_delay(client: Client) -> None:
    [seeded] = await client.seed("ym", {"sku": "YM-1", "title": "Old", "description": "Old description"})
    status, body, headers = await client.ym(UPDATE, {"offerMappings": [mapping("YM-1", name="New name", tags=["x"])]})
    assert (status, body) == (200, {"status": "OK", "results": []})
    assert {"X-RateLimit-Resource-Limit", "X-RateLimit-Resource-Remaining", "X-RateLimit-Resource-Until"} <= set(
        headers
    )

    offer = (await read(client, "YM-1"))["YM-1"]
    assert offer["offer"]["name"] == "Old"
    assert offer["offer"]["cardStatus"] == "HAS_CARD_CAN_UPDATE_PROCESSING"
    assert offer["mapping"]["marketSku"] == seeded["id"]

    async def applied() -> dict | None:
        got = (await read(client, "YM-1"))["YM-1"]["offer"]
        return got if got["cardStatus"] == "HAS_CARD_CAN_UPDATE" else None

    got = await eventually(applied)
    assert got["name"] == "New name" and got["tags"] == ["x"]
    assert got["description"] == "Old description"  # partial update: omitted fields stay
    assert got["archived"] is False and {"vendor", "vendorCode", "parameterValues"} <= set(got)
    assert (await client.card("ym", "YM-1"))["title"] == "New name"


async def test_one_bad_offer_rejects_the_whole_batch(client: Client) -> None:
    await client.seed("ym", {"sku": "YM-2", "title": "Two"}, {"sku": "YM-3", "title": "Three"})
    batch = [
        mapping("YM-2", name="Valid new name"),
        mapping("YM-3", marketCategoryId=91491, parameterValues=[{"parameterId": 999, "value": "x"}]),
        mapping("YM-404", name="Unknown"),
    ]
    status, body, _ = await client.ym(UPDATE, {"offerMappings": batch})
    assert status == 200 and body["status"] == "ERROR"
    results = {r["offerId"]: r for r in body["results"]}
    assert set(results) == {"YM-3", "YM-404"}
    assert results["YM-404"]["errors"][0]["type"] == "OFFER_NOT_FOUND"
    assert results["YM-3"]["errors"][0]["type"] == "UNKNOWN_PARAMETER" and results["YM-3"]["errors"][0]["message"]
    assert results["YM-3"]["warnings"] == []
    assert (await client.counters())["pending_applies"] == 0  # nothing of the batch is queued for apply
    offers = await read(client, "YM-2", "YM-3", "YM-404")
    assert set(offers) == {"YM-2", "YM-3"}  # unknown ids are simply absent
    assert offers["YM-2"]["offer"]["name"] == "Two" and offers["YM-2"]["offer"]["cardStatus"] == "HAS_CARD_CAN_UPDATE"
    counters = await client.counters()
    assert counters["cards_rejected"]["ym"] == 2 and counters["cards_updated"]["ym"] == 0


async def test_catalog_paging_and_limits(client: Client) -> None:
    await client.seed("ym", *({"sku": f"C-{i}", "title": f"Offer {i}"} for i in range(5)))
    seen, token = [], ""
    while True:
        query = f"?limit=2&page_token={token}" if token else "?limit=2"
        status, body, _ = await client.ym(READ + query, None)
        assert status == 200
        seen += [m["offer"]["offerId"] for m in body["result"]["offerMappings"]]
        token = body["result"]["paging"].get("nextPageToken", "")
        if not token:
            break
    assert seen == [f"C-{i}" for i in range(5)]
    status, body, _ = await client.ym(READ, {"offerIds": [str(i) for i in range(101)]})
    assert status == 400 and body["status"] == "ERROR" and body["errors"][0]["code"]
    status, body, _ = await client.ym(UPDATE, {"offerMappings": [mapping("C-0")] * 501})
    assert status == 400 and body["status"] == "ERROR"
    status, body, _ = await client.call("POST", "/v2/businesses/777" + UPDATE, data=b"[", headers=YM_AUTH)
    assert status == 400 and body["status"] == "ERROR"


async def test_auth_failures(client: Client) -> None:
    for headers, status_code, code in (({}, 401, "UNAUTHORIZED"), ({"Api-Key": "wrong"}, 403, "FORBIDDEN")):
        status, body, _ = await client.ym(READ, {"offerIds": ["x"]}, headers=headers)
        assert status == status_code
        assert body["status"] == "ERROR" and body["errors"][0]["code"] == code
    status, body, _ = await client.call("POST", "/v2/businesses/778/offer-mappings", json={}, headers=YM_AUTH)
    assert status == 403 and body["errors"][0]["code"] == "FORBIDDEN"


async def test_rate_limit_answers_420_with_resource_headers(client: Client) -> None:
    await client.control("PUT", "/config", {"ym_limits": {"ym.offer_mappings": "2/60"}})
    statuses = []
    for _ in range(3):
        status, body, headers = await client.ym(READ, {"offerIds": ["x"]})
        statuses.append(status)
    assert statuses == [200, 200, 420]
    assert body["status"] == "ERROR" and body["errors"][0]["code"] == "LIMIT_EXCEEDED"
    assert headers["X-RateLimit-Resource-Limit"] == "2"
    assert headers["X-RateLimit-Resource-Remaining"] == "0"
    assert parsedate_to_datetime(headers["X-RateLimit-Resource-Until"]).tzinfo is not None
    assert (await client.ym(UPDATE, {"offerMappings": [mapping("x")]}))[0] == 200  # other bucket


async def test_parallel_cap_answers_420(client: Client) -> None:
    await client.control("PUT", "/config", {"latency_ms": 300, "ym_max_parallel": 4})
    answers = await asyncio.gather(*(client.ym(READ, {"offerIds": ["x"]}) for _ in range(6)))
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [200, 200, 200, 200, 420, 420]
    refused = next(body for status, body, _ in answers if status == 420)
    assert refused["errors"][0] == {
        "code": "LIMIT_EXCEEDED",
        "message": "Hit rate limit of 4 parallel requests for businessId 777",
    }
    counters = await client.counters()
    assert counters["max_parallel_seen"]["ym"] == 6
    assert counters["rate_limited"] == 2
    # once they are done, the slots are free again
    assert (await client.ym(READ, {"offerIds": ["x"]}))[0] == 200
