"""Ozon: import → task pending → imported/failed/skipped → read back; auth shapes; 429."""

from __future__ import annotations

from tests.support.waiting import eventually

from .helpers import OZON_AUTH, Client

IMPORT = "/v3/product/import"
INFO = "/v1/product/import/info"
INFO_LIST = "/v3/product/info/list"
DESCRIPTION = "/v1/product/info/description"
ATTRIBUTES = "/v4/product/info/attributes"


WHOLE_PRODUCT = {
    "description_category_id": 17028922,
    "type_id": 94765,
    "price": "100",
    "old_price": "120",
    "currency_code": "RUB",
    "vat": "0.2",
    "depth": 100,
    "width": 100,
    "height": 120,
    "dimension_unit": "mm",
    "weight": 350,
    "weight_unit": "g",
}


def item(offer_id: str, name: str, description: str, **extra: object) -> dict:
    """A whole product, as a full import must send it."""
    attributes = [
        {"complex_id": 0, "id": 4191, "values": [{"dictionary_value_id": 0, "value": description}]},
        {"complex_id": 0, "id": 23171, "values": [{"dictionary_value_id": 0, "value": "#tag"}]},
        {"complex_id": 0, "id": 85, "values": [{"dictionary_value_id": 126745801, "value": "Sandbox"}]},
        {"complex_id": 0, "id": 8229, "values": [{"dictionary_value_id": 94765, "value": "Кружка"}]},
    ]
    return {"offer_id": offer_id, "name": name, "attributes": attributes, **WHOLE_PRODUCT, **extra}


async def import_and_wait(client: Client, *items: dict) -> list[dict]:
    status, body, _ = await client.ozon(IMPORT, {"items": list(items)})
    assert status == 200, body
    task_id = body["result"]["task_id"]
    assert isinstance(task_id, int)

    async def done() -> list[dict] | None:
        status, body, _ = await client.ozon(INFO, {"task_id": task_id})
        assert status == 200
        result = body["result"]
        assert result["total"] == len(result["items"])
        return None if any(i["status"] == "pending" for i in result["items"]) else result["items"]

    return await eventually(done)


async def test_import_goes_pending_then_imported_and_reads_back(client: Client) -> None:
    [seeded] = await client.seed("ozon", {"sku": "OZ-1", "title": "Old name", "description": "Old description"})
    status, body, _ = await client.ozon(IMPORT, {"items": [item("OZ-1", "New name", "New <br/> description")]})
    task_id = body["result"]["task_id"]
    status, body, _ = await client.ozon(INFO, {"task_id": task_id})
    assert body["result"]["items"][0]["status"] == "pending"
    assert body["result"]["items"][0]["product_id"] == seeded["id"]

    async def imported() -> dict | None:
        _, body, _ = await client.ozon(INFO, {"task_id": task_id})
        entry = body["result"]["items"][0]
        return entry if entry["status"] == "imported" else None

    entry = await eventually(imported)
    assert entry == {"offer_id": "OZ-1", "product_id": seeded["id"], "status": "imported", "errors": []}

    status, body, _ = await client.ozon(DESCRIPTION, {"offer_id": "OZ-1"})
    assert status == 200
    assert body == {
        "result": {"id": seeded["id"], "offer_id": "OZ-1", "name": "New name", "description": "New <br/> description"}
    }
    status, body, _ = await client.ozon(INFO_LIST, {"offer_id": ["OZ-1", "missing"]})
    [info] = body["items"]
    assert info["id"] == seeded["id"] and info["name"] == "New name" and "description" not in info
    assert {"sku", "description_category_id", "type_id", "barcodes", "created_at", "updated_at"} <= set(info)
    assert info["price"] == "100"  # other import fields are kept

    status, body, _ = await client.ozon(ATTRIBUTES, {"filter": {"offer_id": ["OZ-1"]}, "limit": 10})
    [product] = body["result"]
    assert body["total"] == 1 and body["last_id"] == str(seeded["id"])
    assert {a["id"] for a in product["attributes"]} == {4191, 23171, 85, 8229}
    assert (await client.card("ozon", "OZ-1"))["description"] == "New <br/> description"


async def test_new_offer_is_created_and_unchanged_import_is_skipped(client: Client) -> None:
    [entry] = await import_and_wait(client, item("OZ-NEW", "Brand new", "Fresh"))
    assert entry["status"] == "imported" and entry["product_id"] > 0
    status, body, _ = await client.ozon(DESCRIPTION, {"product_id": entry["product_id"]})
    assert status == 200 and body["result"]["offer_id"] == "OZ-NEW"
    [again] = await import_and_wait(client, item("OZ-NEW", "Brand new", "Fresh"))
    assert again["status"] == "skipped" and again["product_id"] == entry["product_id"]


async def test_rule_breaking_item_fails_and_product_is_not_changed(client: Client) -> None:
    await client.seed("ozon", {"sku": "OZ-2", "title": "Keep", "description": "Keep me"})
    long_name = item("OZ-2", "n" * 501, "ok")
    [failed] = await import_and_wait(client, long_name)
    assert failed["status"] == "failed"
    [error] = failed["errors"]
    assert error["level"] == "error" and error["field"] == "name" and error["attribute_id"] == 4180
    assert {"code", "message", "state", "description", "attribute_name"} <= set(error)

    [failed] = await import_and_wait(client, item("OZ-2", "Fine", "<script>alert(1)</script>"))
    assert failed["status"] == "failed" and failed["errors"][0]["attribute_id"] == 4191
    _, body, _ = await client.ozon(DESCRIPTION, {"offer_id": "OZ-2"})
    assert body["result"]["name"] == "Keep" and body["result"]["description"] == "Keep me"
    assert (await client.counters())["cards_rejected"]["ozon"] == 2


async def test_errors_use_the_grpc_shape(client: Client) -> None:
    status, body, _ = await client.ozon(INFO, {"task_id": 123})
    assert (status, body) == (404, {"code": 5, "message": "task not found", "details": []})
    status, body, _ = await client.ozon(DESCRIPTION, {"offer_id": "nope"})
    assert (status, body) == (404, {"code": 5, "message": "Product not found", "details": []})
    status, body, _ = await client.ozon(IMPORT, {"items": [item(f"X{i}", "n", "d") for i in range(101)]})
    assert status == 400 and body["code"] == 3 and body["details"] == []
    status, body, _ = await client.call("POST", IMPORT, data=b"{oops", headers=OZON_AUTH)
    assert status == 400 and body["code"] == 3


async def test_auth_failures(client: Client) -> None:
    status, body, _ = await client.ozon(
        INFO_LIST, {"offer_id": ["x"]}, headers={"Client-Id": "100500", "Api-Key": "no"}
    )
    assert status == 404
    assert body == {"code": 5, "message": "Invalid Api-Key, please check the key and try again", "details": []}
    for client_id in ("0", "-5", "abc"):
        headers = {"Client-Id": client_id, "Api-Key": "sandbox-ozon-key"}
        status, body, _ = await client.ozon(INFO_LIST, {"offer_id": ["x"]}, headers=headers)
        assert status == 400
        assert body == {"code": 3, "message": "Client-Id header value should be positive integer", "details": []}
    status, body, _ = await client.ozon(INFO_LIST, {"offer_id": ["x"]}, headers={"Api-Key": "sandbox-ozon-key"})
    assert status == 401 and body["code"] == 16
    other_client = {"Client-Id": "42", "Api-Key": "sandbox-ozon-key"}
    assert (await client.ozon(INFO_LIST, {"offer_id": ["x"]}, headers=other_client))[0] == 404


async def test_rate_limit_answers_429_with_retry_after(client: Client) -> None:
    await client.limit("ozon.global", "2/1:2")
    statuses = []
    for _ in range(3):
        status, body, headers = await client.ozon(INFO_LIST, {"offer_id": ["x"]})
        statuses.append(status)
    assert statuses == [200, 200, 429]
    assert body == {"code": 8, "message": "You have reached request rate limit per second", "details": []}
    assert int(headers["retry-after"]) >= 1
    assert headers["ratelimit-remaining"] == "0"


async def test_attributes_paginate_by_last_id(client: Client) -> None:
    await client.seed("ozon", *({"sku": f"A-{i}", "title": f"P{i}", "description": "d"} for i in range(5)))
    seen, last_id = [], ""
    while True:
        status, body, _ = await client.ozon(ATTRIBUTES, {"filter": {}, "limit": 2, "last_id": last_id})
        assert status == 200 and body["total"] == 5
        seen += [product["offer_id"] for product in body["result"]]
        last_id = body["last_id"]
        if len(body["result"]) < 2:
            break
    assert seen == [f"A-{i}" for i in range(5)]
