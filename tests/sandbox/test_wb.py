"""Wildberries: update accepted → applied later → read back; error list; auth; limits; 413."""

from __future__ import annotations

import io

from tests.support.waiting import eventually

from .helpers import Client

UPDATE = "/content/v2/cards/update"
LIST = "/content/v2/get/cards/list"
ERRORS = "/content/v2/cards/error/list"


def list_body(text: str = "", limit: int = 100, **cursor: object) -> dict:
    return {"settings": {"filter": {"textSearch": text, "withPhoto": -1}, "cursor": {"limit": limit, **cursor}}}


async def read(client: Client, text: str) -> dict:
    status, body, _ = await client.wb(LIST, list_body(text))
    assert status == 200, body
    assert len(body["cards"]) == 1
    return body["cards"][0]


def update_item(card: dict, **changes: object) -> dict:
    item = {key: card[key] for key in ("nmID", "vendorCode", "brand", "title", "description", "sizes")}
    item["characteristics"] = [{"id": c["id"], "value": c["value"]} for c in card["characteristics"]]
    return {**item, **changes}


async def test_update_is_applied_after_delay_and_read_back(client: Client) -> None:
    await client.seed("wb", {"sku": "WB-1", "title": "Old title", "description": "Old", "attributes": {"Цвет": ["a"]}})
    card = await read(client, "WB-1")
    assert card["vendorCode"] == "WB-1" and card["title"] == "Old title"
    assert card["sizes"][0]["chrtID"] > 0 and card["characteristics"][0]["id"] == 14177449

    item = update_item(
        card, title="New title", description="New description", characteristics=[{"id": 54337, "value": 5}]
    )
    status, body, headers = await client.wb(UPDATE, [item])
    assert status == 200
    assert body == {"data": None, "error": False, "errorText": "", "additionalErrors": {}}
    assert "X-Ratelimit-Remaining" in headers
    assert (await read(client, "WB-1"))["title"] == "Old title"  # accepted, not applied yet

    async def applied() -> dict | None:
        got = await read(client, str(card["nmID"]))
        return got if got["title"] == "New title" else None

    got = await eventually(applied)
    assert got["description"] == "New description"
    assert got["characteristics"] == [{"id": 54337, "name": "Размер", "value": 5}]
    assert got["updatedAt"] >= card["updatedAt"]
    assert (await client.card("wb", "WB-1"))["title"] == "New title"
    assert (await client.counters())["cards_updated"]["wb"] == 1


async def test_rule_breaking_card_lands_in_error_list_and_leaves_it_when_fixed(client: Client) -> None:
    await client.seed("wb", {"sku": "WB-2", "title": "Fine", "description": "Fine"}, {"sku": "WB-3", "title": "Ok"})
    bad = update_item(await read(client, "WB-2"), title="x" * 61, description="mail me: seller@example.com")
    good = update_item(await read(client, "WB-3"), title="Good new title")
    status, body, _ = await client.wb(UPDATE, [bad, good])
    assert status == 200 and body["error"] is False

    async def errors() -> list:
        _, body, _ = await client.wb(ERRORS, {"cursor": {"limit": 100}, "order": {"ascending": True}})
        return body["data"]["items"]

    items = await eventually(errors)
    assert len(items) == 1
    assert items[0]["vendorCodes"] == ["WB-2"]
    assert set(items[0]) >= {"batchUUID", "subjects", "brands", "vendorCodes", "errors"}
    assert len(items[0]["errors"]["WB-2"]) == 2
    assert (await read(client, "WB-2"))["title"] == "Fine"  # not changed
    assert (await read(client, "WB-3"))["title"] == "Good new title"
    counters = await client.counters()
    assert counters["cards_rejected"]["wb"] == 1 and counters["cards_updated"]["wb"] == 1

    fixed = update_item(await read(client, "WB-2"), title="Short", description="clean")
    assert (await client.wb(UPDATE, [fixed]))[0] == 200

    async def gone() -> bool:
        return await errors() == []

    await eventually(gone)
    assert (await read(client, "WB-2"))["title"] == "Short"


async def test_error_list_envelope_and_cursor(client: Client) -> None:
    status, body, _ = await client.wb(ERRORS, {"cursor": {"limit": 10}, "order": {"ascending": False}})
    assert status == 200
    assert body == {
        "data": {"items": [], "cursor": {"next": False, "updatedAt": None, "batchUUID": None}},
        "error": False,
        "errorText": "",
        "additionalErrors": None,
    }


async def test_structural_problems_are_rejected_with_the_content_envelope(client: Client) -> None:
    [seeded] = await client.seed("wb", {"sku": "WB-4", "title": "T"})
    nm_id = seeded["id"]
    cases = [
        {"nmID": nm_id, "vendorCode": "WB-4"},  # not an array
        [{"vendorCode": "WB-4", "sizes": []}],  # no nmID
        [{"nmID": 1, "vendorCode": "WB-4", "sizes": []}],  # unknown nmID
        [{"nmID": nm_id, "vendorCode": "OTHER", "sizes": []}],  # vendorCode of another card
        [{"nmID": nm_id, "vendorCode": "WB-4", "sizes": []}] * 3001,
    ]
    for body in cases:
        status, answer, _ = await client.wb(UPDATE, body)
        assert status == 400, body
        assert answer["error"] is True and answer["data"] is None and answer["errorText"]
        assert "additionalErrors" in answer
    status, answer, _ = await client.call("POST", UPDATE, data=b"{not json", headers=client_headers())
    assert (status, answer) == (400, "Request body can not be decoded")  # WB answers this one in plain text


def client_headers() -> dict[str, str]:
    return {"Authorization": "sandbox-wb-token", "Content-Type": "application/json"}


async def test_body_over_10_mb_is_413_gateway(client: Client) -> None:
    payload = io.BytesIO(b"[" + b" " * (10 * 1024 * 1024) + b"]")
    status, body, _ = await client.call("POST", UPDATE, data=payload, headers=client_headers())
    assert status == 413
    assert body["title"] == "request body too long" and body["status"] == 413


async def test_bearer_token_is_accepted_and_bad_tokens_get_401(client: Client) -> None:
    status, _, _ = await client.wb(LIST, list_body(), headers={"Authorization": "Bearer sandbox-wb-token"})
    assert status == 200
    for headers in ({}, {"Authorization": "wrong"}):
        status, body, resp_headers = await client.wb(LIST, list_body(), headers=headers)
        assert status == 401
        assert body["title"] == "unauthorized"
        assert body["detail"].startswith("token problem")
        assert body["origin"] == "s2s-api-auth-content"
        assert body["status"] == 401 and body["statusText"] == "Unauthorized"
        assert {"code", "requestId", "timestamp"} <= set(body)
        assert "X-Ratelimit-Remaining" in resp_headers


async def test_rate_limit_answers_429_with_wb_headers(client: Client) -> None:
    await client.limit("wb.cards_list", "1/60:2")
    statuses = []
    for _ in range(3):
        status, body, headers = await client.wb(LIST, list_body())
        statuses.append(status)
    assert statuses == [200, 200, 429]
    assert body["title"] == "too many requests" and body["detail"].startswith("limited by ")
    assert body["status"] == 429
    assert int(headers["X-Ratelimit-Retry"]) >= 1
    assert headers["X-Ratelimit-Limit"] == "2"
    assert int(headers["X-Ratelimit-Reset"]) >= int(headers["X-Ratelimit-Retry"])
    assert "X-Ratelimit-Remaining" not in headers
    # other buckets are independent
    assert (await client.wb(ERRORS, {"cursor": {"limit": 1}}))[0] == 200
    counters = await client.counters()
    assert counters["rate_limited"] == 1
    assert counters["requests"]["wb POST /content/v2/get/cards/list 429"] == 1


async def test_cards_list_paginates_with_cursor(client: Client) -> None:
    await client.seed("wb", *({"sku": f"P-{i}", "title": f"Card {i}"} for i in range(5)))
    seen: list[str] = []
    cursor: dict = {}
    while True:
        status, body, _ = await client.wb(LIST, list_body(limit=2, **cursor))
        assert status == 200
        seen += [card["vendorCode"] for card in body["cards"]]
        if body["cursor"]["total"] < 2:
            break
        cursor = {"updatedAt": body["cursor"]["updatedAt"], "nmID": body["cursor"]["nmID"]}
    assert sorted(seen) == [f"P-{i}" for i in range(5)]
    assert (await client.wb(LIST, list_body(limit=101)))[0] == 400


async def test_text_search_matches_substrings_as_wb_does(client: Client) -> None:
    await client.seed("wb", *({"sku": sku, "title": "t"} for sku in ("SKU-1", "SKU-10", "SKU-100", "sku-2", "X-1")))
    status, body, _ = await client.wb(LIST, list_body("SKU-1"))
    assert status == 200 and sorted(c["vendorCode"] for c in body["cards"]) == ["SKU-1", "SKU-10", "SKU-100"]
    status, body, _ = await client.wb(LIST, list_body("sku-"))
    assert len(body["cards"]) == 4  # case does not matter
