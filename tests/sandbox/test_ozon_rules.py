"""The Ozon simulator refuses, drops or fails an import as Ozon documents (research/marketplaces.md 2.2-2.5). Each
rule of adolf/sandbox/README.md that is Ozon's has its test here."""

from __future__ import annotations

import pytest

from tests.support.waiting import eventually

from .helpers import Client
from .test_ozon import ATTRIBUTES, IMPORT, INFO, INFO_LIST, import_and_wait, item

CATEGORY = {"description_category_id": 17028922, "type_id": 94765}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"description": "not a field of the import"}, "unknown field 'description'"),
        ({"sku": 1}, "unknown field 'sku'"),
        ({"description_category_id": None}, "description_category_id: value is required"),
        ({"price": 100}, "price: value must be a string"),
        ({"depth": "100"}, "depth: value must be an integer"),
        ({"dimension_unit": "m"}, "dimension_unit: value must be one of"),
        ({"offer_id": "x" * 51}, "offer_id: value length must be at most 50"),
        ({"attributes": [{"id": 85, "values": [{"value": 5}]}]}, "value must be a string"),
    ],
)
async def test_an_undocumented_field_or_a_wrong_type_refuses_the_import(client: Client, change: dict, named: str):
    body = {**item("OZ-R", "Кружка", "Описание"), **change}
    body = {k: v for k, v in body.items() if v is not None}
    status, answer, _ = await client.ozon(IMPORT, {"items": [body]})
    assert status == 400 and answer["code"] == 3 and named in answer["message"]


@pytest.mark.parametrize(
    "change",
    [{"description_category_id": 1}, {"vat": None}, {"vat": "0.18"}],
)
async def test_an_unknown_category_or_a_missing_vat_leaves_the_task_empty(client: Client, change: dict):
    body = {k: v for k, v in item("OZ-E", "Кружка", "Описание", **change).items() if v is not None}
    status, answer, _ = await client.ozon(IMPORT, {"items": [body]})
    assert status == 200

    async def done():
        _, info, _ = await client.ozon(INFO, {"task_id": answer["result"]["task_id"]})
        items = info["result"]["items"]
        return info if not items or items[0]["status"] != "pending" else None

    info = await eventually(done)
    assert info["result"] == {"items": [], "total": 0}  # Ozon's documented "empty items"


def _without(body: dict, attribute_id: int) -> dict:
    return {**body, "attributes": [a for a in body["attributes"] if a["id"] != attribute_id]}


def _with(body: dict, attribute: dict, *, instead_of: int | None = None) -> dict:
    kept = _without(body, instead_of)["attributes"] if instead_of else body["attributes"]
    return {**body, "attributes": [*kept, attribute]}


FOUR_COLOURS = [{"dictionary_value_id": i, "value": "c"} for i in (61571, 61574, 61585, 61576)]


@pytest.mark.parametrize(
    ("build", "code"),
    [
        (lambda b: {k: v for k, v in b.items() if k != "price"}, "EMPTY_PRICE"),
        (lambda b: {**b, "weight": 0}, "DIMENSIONS_REQUIRED"),
        (lambda b: {k: v for k, v in b.items() if k != "height"}, "DIMENSIONS_REQUIRED"),
        (lambda b: _with(b, {"id": 7777, "values": [{"value": "x"}]}), "ATTRIBUTE_NOT_FOUND"),
        (lambda b: _with(b, {"id": 85, "values": [{"value": "Sandbox"}]}, instead_of=85), "DICTIONARY_VALUE_REQUIRED"),
        (lambda b: _with(b, {"id": 10096, "values": FOUR_COLOURS}), "TOO_MANY_VALUES"),
        (lambda b: _without(b, 8229), "REQUIRED_ATTRIBUTE"),
    ],
)  # fmt: skip
async def test_an_incomplete_or_wrong_product_fails_its_item_with_ozons_reason(client: Client, build, code: str):
    await client.seed("ozon", {"sku": "OZ-F", "title": "Keep", "description": "Keep"})
    [entry] = await import_and_wait(client, build(item("OZ-F", "Новое", "Новое")))
    assert entry["status"] == "failed" and code in {e["code"] for e in entry["errors"]}
    assert (await client.card("ozon", "OZ-F"))["title"] == "Keep"


async def test_a_full_import_replaces_the_whole_product(client: Client):
    await client.seed("ozon", {"sku": "OZ-W", "title": "Старое", "description": "Старое"})
    assert (await client.card("ozon", "OZ-W"))["raw"]["images"]
    [entry] = await import_and_wait(client, item("OZ-W", "Новое", "Новое"))  # no images sent
    assert entry["status"] == "imported"
    _, body, _ = await client.ozon(ATTRIBUTES, {"filter": {"offer_id": ["OZ-W"]}, "limit": 1})
    assert "images" not in body["result"][0]  # what the import left out is gone
    _, listed, _ = await client.ozon(INFO_LIST, {"offer_id": ["OZ-W"]})
    assert (listed["items"][0]["price"], listed["items"][0]["vat"]) == ("100", "0.2")  # prices only in info/list
    assert "price" not in body["result"][0]


async def test_category_attributes_and_their_dictionaries_read_as_ozon_serves_them(client: Client):
    status, body, _ = await client.ozon("/v1/description-category/attribute", {**CATEGORY, "language": "DEFAULT"})
    assert status == 200
    attributes = {a["name"]: a for a in body["result"]}
    assert attributes["Бренд"]["dictionary_id"] > 0 and attributes["Аннотация"]["dictionary_id"] == 0
    query = {**CATEGORY, "attribute_id": 10096, "limit": 2, "last_value_id": 0}
    status, page, _ = await client.ozon("/v1/description-category/attribute/values", query)
    assert status == 200 and len(page["result"]) == 2 and page["has_next"] is True
    query["last_value_id"] = page["result"][-1]["id"]
    _, rest, _ = await client.ozon("/v1/description-category/attribute/values", query)
    assert rest["has_next"] is False and len(rest["result"]) == 2
    assert (await client.ozon("/v1/description-category/attribute", {"description_category_id": 1, "type_id": 1}))[
        0
    ] == 400
    bad_limit = {**query, "limit": 2001}
    assert (await client.ozon("/v1/description-category/attribute/values", bad_limit))[0] == 400


async def test_the_daily_update_quota_is_served_and_enforced(client: Client):
    await client.control("PUT", "/config", {"ozon_daily_update_limit": 1})
    await client.seed("ozon", *({"sku": s, "title": "t", "description": "d"} for s in ("Q-1", "Q-2")))
    [first] = await import_and_wait(client, item("Q-1", "Новое", "Новое"))
    [second] = await import_and_wait(client, item("Q-2", "Новое", "Новое"))
    assert first["status"] == "imported"
    assert second["status"] == "failed" and second["errors"][0]["code"] == "item_limit_exceeded"
    status, quota, _ = await client.ozon("/v4/product/info/limit", {})
    assert status == 200 and quota["daily_update"]["usage"] == 1 and quota["daily_update"]["limit"] == 1
    assert quota["daily_update"]["reset_at"].endswith("Z")
