"""The Yandex Market simulator refuses, rejects or does not accept an update as YM documents (research/marketplaces.md
3.1-3.5). Each rule of adolf/sandbox/README.md that is YM's has its test here."""

from __future__ import annotations

import asyncio
from email.utils import parsedate_to_datetime

import pytest

from tests.support.waiting import eventually

from .helpers import YM_AUTH, Client
from .test_ym import READ, UPDATE, mapping, read

COLOR, MATERIAL, VOLUME, DISHWASHER = 14871214, 15, 37911750, 23674510
CATEGORY = 91491
PARAMETERS = "/v2/category/91491/parameters"


async def seed(client: Client, *skus: str) -> None:
    await client.seed("ym", *({"sku": s, "title": "Кружка", "description": "Описание"} for s in skus))


async def applied(client: Client, sku: str) -> dict:
    async def done() -> dict | None:
        offer = (await read(client, sku))[sku]["offer"]
        return None if offer["cardStatus"].endswith("_PROCESSING") else offer

    return await eventually(done, what=f"YM processed {sku}")


@pytest.mark.parametrize(
    ("offer", "named"),
    [
        ({"cardStatus": "HAS_CARD_CAN_UPDATE"}, "cardStatus: read-only field"),
        ({"title": "x"}, "title: unknown field"),
        ({"name": 5}, "name must be a string"),
        ({"name": "x" * 257}, "name size must be between 0 and 256"),
        ({"description": "x" * 6001}, "description size must be between 0 and 6000"),
        ({"marketCategoryId": "91491"}, "marketCategoryId must be a non-negative integer"),
        ({"tags": [str(i) for i in range(51)]}, "tags must contain at most 50"),
        ({"parameterValues": [{"parameterId": 15, "value": ["a", "b"]}]}, "value must be a string"),
        ({"parameterValues": [{"parameterId": "15", "value": "a"}]}, "parameterId must be a positive integer"),
        ({"parameterValues": [{"parameterId": 15, "name": "a"}]}, "Unknown field"),
        ({"parameterValues": [{"parameterId": 15, "value": "a"}] * 301}, "at most 300"),
        ({"deleteParameters": ["NAME"]}, "deleteParameters must name fields"),
    ],
)
async def test_an_undocumented_field_a_wrong_type_or_an_overlong_field_refuses_the_request(
    client: Client, offer: dict, named: str
):
    await seed(client, "R-1")
    status, body, headers = await client.ym(UPDATE, {"offerMappings": [mapping("R-1", **offer)]})
    assert status == 400 and body["status"] == "ERROR" and named in body["errors"][0]["message"], body
    assert "X-RateLimit-Resource-Remaining" in headers  # a 4xx is metered too


async def test_an_offer_id_outside_the_documented_pattern_refuses_the_request(client: Client):
    for offer_id in ("", "  ", "a\nb", "x" * 256):
        status, body, _ = await client.ym(UPDATE, {"offerMappings": [{"offer": {"offerId": offer_id}}]})
        assert status == 400 and "offerId" in body["errors"][0]["message"]
    status, _, _ = await client.ym(UPDATE, {"offerMappings": [mapping("R-1")], "dryRun": True})
    assert status == 400


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        ([{"parameterId": 999, "value": "x"}], "UNKNOWN_PARAMETER"),
        ([{"parameterId": VOLUME, "value": "триста"}], "NUMBER_FORMAT"),
        ([{"parameterId": DISHWASHER, "value": "да"}], "UNEXPECTED_BOOLEAN_VALUE"),
    ],
)
async def test_a_parameter_the_category_cannot_take_rejects_the_batch_naming_it(client: Client, values, kind):
    await seed(client, "P-1", "P-2")
    batch = [mapping("P-1", name="Новое"), mapping("P-2", marketCategoryId=CATEGORY, parameterValues=values)]
    status, body, _ = await client.ym(UPDATE, {"offerMappings": batch})
    assert status == 200 and body["status"] == "ERROR"
    [result] = body["results"]
    assert result["offerId"] == "P-2" and result["errors"][0]["type"] == kind
    assert result["errors"][0]["parameterId"] == values[0]["parameterId"]
    assert (await applied(client, "P-1"))["name"] == "Кружка"  # nothing of the batch applied


async def test_an_unknown_category_rejects_the_offer(client: Client):
    await seed(client, "K-1")
    status, body, _ = await client.ym(UPDATE, {"offerMappings": [mapping("K-1", marketCategoryId=1)]})
    assert status == 200 and body["results"][0]["errors"][0]["type"] == "UNKNOWN_CATEGORY"


async def test_parameters_without_market_category_apply_with_a_warning(client: Client):
    await seed(client, "W-1")
    values = [{"parameterId": MATERIAL, "value": "керамика"}]
    status, body, _ = await client.ym(UPDATE, {"offerMappings": [mapping("W-1", parameterValues=values)]})
    assert (status, body["status"]) == (200, "OK")
    assert body["results"][0]["warnings"][0]["type"] == "EMPTY_MARKET_CATEGORY"
    offer = await applied(client, "W-1")
    assert offer["cardStatus"] == "HAS_CARD_CAN_UPDATE" and offer["parameterValues"] == values


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ([{"parameterId": COLOR, "value": "зелёный"}], "is not one of its values"),
        ([{"parameterId": COLOR, "valueId": 1, "value": "белый"}], "valueId 1 is not one of its values"),
        ([{"parameterId": MATERIAL, "value": "керамика"}, {"parameterId": MATERIAL, "value": "стекло"}], "one value"),
        ([{"parameterId": MATERIAL, "value": "к" * 101}], "the maximum is 100"),
        ([{"parameterId": COLOR, "valueId": 14896254, "value": "черный"}], "valueId 14896254 is not 'черный'"),
        ([{"parameterId": VOLUME, "value": "9000"}], "9000 is outside 1..5000"),
    ],
)
async def test_a_value_the_parameter_does_not_allow_is_not_accepted_when_applied(client: Client, values, reason):
    await seed(client, "V-1")
    offer = mapping("V-1", name="Новое имя", marketCategoryId=CATEGORY, parameterValues=values)
    status, body, _ = await client.ym(UPDATE, {"offerMappings": [offer]})
    assert (status, body["status"]) == (200, "OK")  # accepted for processing...
    got = await applied(client, "V-1")
    assert got["cardStatus"] == "HAS_CARD_CAN_UPDATE_ERRORS" and got["name"] == "Кружка"  # ...then not accepted
    assert reason in str(await _errors(client, "V-1"))


async def _errors(client: Client, sku: str) -> list:
    return (await client.card("ym", sku))["errors"]


async def test_an_email_in_the_description_is_not_accepted(client: Client):
    await seed(client, "E-1")
    await client.ym(UPDATE, {"offerMappings": [mapping("E-1", description="Пишите shop@example.org")]})
    got = await applied(client, "E-1")
    assert got["cardStatus"] == "HAS_CARD_CAN_UPDATE_ERRORS" and got["description"] == "Описание"
    assert "e-mail" in str(await _errors(client, "E-1"))


async def test_a_multivalue_enum_takes_several_values_and_values_merge_by_parameter(client: Client):
    await client.seed("ym", {"sku": "M-1", "title": "t", "attributes": {str(MATERIAL): "керамика"}})
    colors = [
        {"parameterId": COLOR, "valueId": 14896254, "value": "белый"},
        {"parameterId": COLOR, "valueId": 14896255, "value": "черный"},
    ]
    await client.ym(UPDATE, {"offerMappings": [mapping("M-1", marketCategoryId=CATEGORY, parameterValues=colors)]})
    got = await applied(client, "M-1")
    assert got["cardStatus"] == "HAS_CARD_CAN_UPDATE"
    assert got["parameterValues"] == [{"parameterId": MATERIAL, "value": "керамика"}, *colors]


async def test_a_partial_update_leaves_every_field_it_does_not_send(client: Client):
    seeded = {"sku": "F-1", "title": "Имя", "description": "Описание", "attributes": {str(MATERIAL): "керамика"}}
    await client.seed("ym", {**seeded, "fields": {"barcodes": ["4600000000001"], "pictures": ["https://p/1.jpg"]}})
    before = (await read(client, "F-1"))["F-1"]["offer"]
    await client.ym(UPDATE, {"offerMappings": [mapping("F-1", name="Новое имя")]})
    after = await applied(client, "F-1")
    assert after == {**before, "name": "Новое имя"}
    await client.ym(UPDATE, {"offerMappings": [mapping("F-1", deleteParameters=["DESCRIPTION", "PARAMETERS"])]})
    after = await applied(client, "F-1")
    assert "description" not in after and "parameterValues" not in after and after["barcodes"] == ["4600000000001"]


async def test_category_parameters_are_served(client: Client):
    status, body, headers = await client.call("POST", PARAMETERS, headers=YM_AUTH)
    assert status == 200 and body["result"]["categoryId"] == CATEGORY
    by_id = {p["id"]: p for p in body["result"]["parameters"]}
    assert by_id[COLOR]["type"] == "ENUM" and by_id[COLOR]["multivalue"] is True
    assert {"id": 14896254, "value": "белый"} in by_id[COLOR]["values"]
    assert by_id[MATERIAL]["constraints"] == {"maxLength": 100}
    assert headers["X-RateLimit-Resource-Limit"] == "100"
    assert (await client.call("POST", "/v2/category/1/parameters", headers=YM_AUTH))[0] == 404
    assert (await client.call("POST", PARAMETERS + "?businessId=778", headers=YM_AUTH))[0] == 403


@pytest.mark.parametrize(
    ("query", "body"),
    [
        ("?limit=0", {}),
        ("?limit=101", {}),
        ("?limit=x", {}),
        ("?limit=10", {"offerIds": ["a"]}),
        ("?page_token=abc", {"offerIds": ["a"]}),
        ("", {"offerIds": ["a"], "vendorNames": ["v"]}),
        ("", {"offerIds": ["a", "a"]}),
        ("", {"offerIds": []}),
        ("", {"offerIds": [1]}),
    ],
)
async def test_reads_outside_the_documented_shape_answer_400(client: Client, query: str, body: dict):
    status, answer, _ = await client.ym(READ + query, body)
    assert status == 400 and answer["status"] == "ERROR" and answer["errors"][0]["code"] == "BAD_REQUEST"


async def test_a_missing_key_is_401_and_a_bad_key_403(client: Client):
    assert (await client.ym(READ, {}, headers={}))[0] == 401
    status, body, _ = await client.ym(READ, {}, headers={"Api-Key": "wrong"})
    assert status == 403 and body["errors"][0]["code"] == "FORBIDDEN"


async def test_an_update_costs_one_unit_per_offer_and_a_4xx_costs_too(client: Client):
    await client.control("PUT", "/config", {"ym_limits": {"ym.offer_mappings_update": "10/60"}})
    await seed(client, *(f"U-{i}" for i in range(6)))
    status, _, headers = await client.ym(UPDATE, {"offerMappings": [mapping(f"U-{i}") for i in range(6)]})
    assert status == 200 and headers["X-RateLimit-Resource-Remaining"] == "4"
    status, _, headers = await client.ym(UPDATE, {"offerMappings": [mapping("U-0", title="x")] * 3})
    assert status == 400 and headers["X-RateLimit-Resource-Remaining"] == "1"  # refused, and paid for
    status, body, headers = await client.ym(UPDATE, {"offerMappings": [mapping("U-0"), mapping("U-1")]})
    assert status == 420 and body["errors"][0]["code"] == "LIMIT_EXCEEDED"
    assert headers["X-RateLimit-Resource-Remaining"] == "1"  # a refused request costs nothing
    until = parsedate_to_datetime(headers["X-RateLimit-Resource-Until"])
    assert until.tzinfo is not None
    assert (await client.ym(UPDATE, {"offerMappings": [mapping("U-0")]}))[0] == 200


async def test_the_fifth_parallel_request_of_a_business_gets_420_on_any_method(client: Client):
    await client.control("PUT", "/config", {"latency_ms": 300})
    calls = [client.ym(READ, {"offerIds": ["x"]}) for _ in range(3)]
    calls += [client.call("POST", PARAMETERS, headers=YM_AUTH) for _ in range(2)]
    answers = await asyncio.gather(*calls)
    assert sorted(status for status, _, _ in answers) == [200, 200, 200, 200, 420]
