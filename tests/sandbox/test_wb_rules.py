"""The WB simulator refuses what WB documents it refuses, and lists in cards/error/list what WB rejects later
(research/marketplaces.md 1.2-1.5). Each rule of adolf/sandbox/README.md that is WB's has its test here."""

from __future__ import annotations

import pytest

from tests.support.waiting import eventually

from .helpers import Client
from .test_wb import ERRORS, LIST, UPDATE, list_body, read, update_item

CHARCS = "/content/v2/object/charcs/{}"


async def _card(client: Client, sku: str = "R-1", **seed: object) -> dict:
    await client.seed("wb", {"sku": sku, "title": "Кружка", "description": "Описание", **seed})
    return await read(client, sku)


def _item(card: dict, **changes: object) -> dict:
    item = update_item(card)
    item["dimensions"] = {k: v for k, v in card["dimensions"].items() if k != "isValid"}
    return {**item, **changes}


async def test_the_characteristics_of_a_subject_read_as_wb_serves_them(client: Client) -> None:
    status, body, _ = await client.call("GET", CHARCS.format(105), headers={"Authorization": "sandbox-wb-token"})
    assert status == 200 and body["error"] is False
    charcs = {c["name"]: c for c in body["data"]}
    assert set(charcs["Цвет"]) == {
        "charcID", "subjectName", "subjectID", "name", "required", "unitName", "maxCount", "popular", "charcType"
    }  # fmt: skip
    assert (charcs["Цвет"]["charcType"], charcs["Размер"]["charcType"]) == (1, 4)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"photos": []}, "photos cannot be changed"),
        ({"tags": []}, "tags cannot be changed"),
        ({"imtID": 1}, "unknown field imtID"),
        ({"dimensions": {"length": 10, "width": 10, "height": 5, "weightBrutto": 0.3, "isValid": True}}, "isValid"),
        ({"dimensions": {"length": "10"}}, "dimensions.length must be an integer"),
        ({"dimensions": {"weightBrutto": 0.1234}}, "at most 3 decimals"),
        ({"characteristics": [{"id": 54337, "value": ["5"]}]}, "takes one number"),
        ({"characteristics": [{"id": 14177449, "value": "белый"}]}, "takes an array of strings"),
        ({"characteristics": [{"id": 14177449, "name": "Цвет", "value": ["белый"]}]}, "exactly id"),
        ({"title": 5}, "title must be a string"),
    ],
)
async def test_an_undocumented_field_or_a_wrong_type_is_refused_at_once_naming_the_card(
    client: Client, change: dict, named: str
) -> None:
    card = await _card(client)
    status, body, _ = await client.wb(UPDATE, [_item(card, **change)])
    assert status == 400 and body["error"] is True
    assert named in body["additionalErrors"]["R-1"]


async def test_sizes_and_barcodes_can_be_added_but_not_removed_and_existing_prices_not_changed(client: Client) -> None:
    card = await _card(client)
    [size] = card["sizes"]
    refused = [
        (_item(card, sizes=[]), "is missing"),  # the card's size left out
        (_item(card, sizes=[{**size, "skus": []}]), "can only be added"),  # its barcode removed
        (_item(card, sizes=[{**size, "price": 990}]), "price of existing size"),  # its price changed
        (_item(card, sizes=[{**size, "chrtID": 1}]), "does not belong"),  # another card's size
    ]
    for item, reason in refused:
        status, body, _ = await client.wb(UPDATE, [item])
        assert status == 400 and reason in body["additionalErrors"]["R-1"], body
    added = _item(card, sizes=[{**size, "skus": [*size["skus"], "2000000000099"]}, {"techSize": "L", "skus": ["7"]}])
    assert (await client.wb(UPDATE, [added]))[0] == 200

    async def two_sizes():
        return len((await read(client, "R-1"))["sizes"]) == 2

    await eventually(two_sizes, what="the new size applied")
    sizes = (await read(client, "R-1"))["sizes"]
    assert sizes[0]["skus"] == [*size["skus"], "2000000000099"] and sizes[1]["chrtID"] > 0


async def test_an_update_overwrites_the_whole_card(client: Client) -> None:
    card = await _card(client, attributes={"Цвет": "чёрный", "Размер": 46}, brand="Acme")
    item = {"nmID": card["nmID"], "vendorCode": "R-1", "sizes": card["sizes"], "title": "Новое"}  # the rest left out
    assert (await client.wb(UPDATE, [item]))[0] == 200

    async def applied():
        got = await read(client, "R-1")
        return got if got["title"] == "Новое" else None

    got = await eventually(applied, what="the update applied")
    assert (got["brand"], got["description"], got["characteristics"]) == ("", "", [])
    assert got["dimensions"] == {"isValid": True}


async def _rejection(client: Client, vendor_code: str) -> list[str]:
    async def listed():
        _, body, _ = await client.wb(ERRORS, {"cursor": {"limit": 100}, "order": {"ascending": True}})
        for item in body["data"]["items"]:
            if vendor_code in item["errors"]:
                return item["errors"][vendor_code]
        return None

    return await eventually(listed, what=f"{vendor_code} in the error list")


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"title": "Ж" * 61}, "превышена максимальная длина 60"),
        ({"description": "Ж" * 2001}, "превышена максимальная длина 2000"),  # the subject's own limit
        ({"title": "Кружка 🔥"}, "эмодзи"),
        ({"description": "пишите: seller@example.com"}, "электронной почты"),
        ({"characteristics": [{"id": 999, "value": ["x"]}]}, "отсутствует у предмета"),
        ({"characteristics": [{"id": 1, "value": ["x"]}]}, "не используется"),
        ({"characteristics": [{"id": 14177451, "value": ["Россия", "Китай"]}]}, "превышено количество значений"),
    ],
)
async def test_a_content_rule_is_broken_the_card_is_accepted_then_listed_as_rejected(
    client: Client, change: dict, reason: str
) -> None:
    card = await _card(client)
    status, body, _ = await client.wb(UPDATE, [_item(card, **change)])
    assert status == 200 and body["error"] is False  # 200 only means accepted
    [message] = await _rejection(client, "R-1")
    assert reason in message
    assert (await read(client, "R-1"))["title"] == "Кружка"  # the card kept its content


async def test_the_card_list_pages_answer_unwrapped_and_refuse_a_page_over_100(client: Client) -> None:
    await _card(client)
    status, body, _ = await client.wb(LIST, list_body("R-1"))
    assert status == 200 and set(body) == {"cards", "cursor"}  # not wrapped in data, unlike update
    assert (await client.wb(LIST, list_body("R-1", limit=101)))[0] == 400
