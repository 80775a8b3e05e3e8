"""Injected faults: every kind, in every marketplace's own answer shape, and how they match."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from adolf.sandbox import SandboxConfig, start_sandbox
from tests.support.waiting import eventually

from .helpers import Client

WB_LIST = "/content/v2/get/cards/list"
OZON_LIST = "/v3/product/info/list"
YM_READ = "/offer-mappings"
WB_BODY = {"settings": {"filter": {"textSearch": ""}, "cursor": {"limit": 10}}}
OZON_BODY = {"offer_id": ["x"]}
YM_BODY = {"offerIds": ["x"]}


async def call_each(client: Client) -> dict[str, tuple]:
    return {
        "wb": await client.wb(WB_LIST, WB_BODY),
        "ozon": await client.ozon(OZON_LIST, OZON_BODY),
        "ym": await client.ym(YM_READ, YM_BODY),
    }


async def test_server_error(client: Client) -> None:
    await client.fault(kind="server_error", times=3)
    answers = await call_each(client)
    assert answers["wb"][0] == 500 and answers["wb"][1]["status"] == 500 and "title" in answers["wb"][1]
    assert answers["ozon"][0] == 500 and answers["ozon"][1] == {"code": 13, "message": "Internal error", "details": []}
    assert answers["ym"][0] == 500 and answers["ym"][1]["status"] == "ERROR"
    await client.fault(kind="server_error", marketplace="ozon", status=503)
    assert (await client.ozon(OZON_LIST, OZON_BODY))[0] == 503
    assert (await call_each(client))["ozon"][0] == 200  # used up


async def test_auth(client: Client) -> None:
    await client.fault(kind="auth", times=3)
    answers = await call_each(client)
    assert answers["wb"][0] == 401 and answers["wb"][1]["title"] == "unauthorized"
    assert answers["ozon"][0] == 404 and answers["ozon"][1]["message"].startswith("Invalid Api-Key")
    assert answers["ym"][0] == 403 and answers["ym"][1]["errors"][0]["code"] == "FORBIDDEN"


async def test_rate_limit(client: Client) -> None:
    await client.fault(kind="rate_limit", times=3)
    answers = await call_each(client)
    status, body, headers = answers["wb"]
    assert status == 429 and body["title"] == "too many requests" and headers["X-Ratelimit-Retry"] == "1"
    status, body, headers = answers["ozon"]
    assert status == 429 and body["code"] == 8 and headers["retry-after"] == "1"
    status, body, headers = answers["ym"]
    assert status == 420 and body["errors"][0]["code"] == "LIMIT_EXCEEDED"
    assert "X-RateLimit-Resource-Until" in headers
    assert (await client.counters())["rate_limited"] == 3


async def test_validation(client: Client) -> None:
    await client.fault(kind="validation", times=3)
    answers = await call_each(client)
    assert answers["wb"][0] == 400 and answers["wb"][1]["error"] is True
    assert answers["ozon"][0] == 400 and answers["ozon"][1]["code"] == 3
    assert answers["ym"][0] == 400 and answers["ym"][1]["status"] == "ERROR"


async def test_malformed(client: Client) -> None:
    await client.fault(kind="malformed", times=3)
    for path, call, body in ((WB_LIST, client.wb, WB_BODY), (OZON_LIST, client.ozon, OZON_BODY)):
        status, parsed, headers = await call(path, body)
        assert status == 200 and headers["Content-Type"] == "application/json"
        assert isinstance(parsed, str)  # not decodable as JSON
    status, parsed, _ = await client.ym(YM_READ, YM_BODY)
    assert status == 200 and isinstance(parsed, str)


async def test_disconnect(client: Client) -> None:
    await client.fault(kind="disconnect", marketplace="wb")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.wb(WB_LIST, WB_BODY)
    assert (await client.wb(WB_LIST, WB_BODY))[0] == 200
    [entry, _] = await client.control("GET", "/requests?marketplace=wb")
    assert entry["status"] == 0


async def test_timeout_hangs_then_answers(client: Client) -> None:
    await client.fault(kind="timeout", marketplace="ym", delay_s=0.5)
    with pytest.raises(asyncio.TimeoutError):
        await client.ym(YM_READ, YM_BODY, timeout=aiohttp.ClientTimeout(total=0.1))
    await client.fault(kind="timeout", marketplace="ym", delay_s=0.2)
    started = time.monotonic()
    assert (await client.ym(YM_READ, YM_BODY))[0] == 200
    assert time.monotonic() - started >= 0.2


async def test_hanging_request_does_not_hold_up_close() -> None:
    server = await start_sandbox(SandboxConfig(timeout_fault_delay_s=60))
    async with aiohttp.ClientSession() as session:
        client = Client(session, server)
        await client.fault(kind="timeout")
        hanging = asyncio.ensure_future(client.wb(WB_LIST, WB_BODY))

        async def entered() -> bool:
            return server.state.inflight.max_seen["wb"] == 1

        await eventually(entered)
        started = time.monotonic()
        await server.close()
        assert time.monotonic() - started < 3
        with pytest.raises(aiohttp.ClientError):
            await hanging


async def test_matching_by_sku_path_marketplace_times_and_probability(client: Client) -> None:
    await client.seed("wb", {"sku": "HIT", "title": "a"}, {"sku": "MISS", "title": "b"})
    fault_id = await client.fault(kind="server_error", sku="HIT", times=2)
    await client.fault(kind="server_error", marketplace="ozon", path_contains="/description", times=0)
    await client.fault(kind="auth", probability=0.0, times=0)

    def search(text: str) -> dict:
        return {"settings": {"filter": {"textSearch": text}, "cursor": {"limit": 10}}}

    assert (await client.wb(WB_LIST, search("MISS")))[0] == 200
    assert (await client.wb(WB_LIST, search("HIT")))[0] == 500
    assert (await client.wb(WB_LIST, search("HIT")))[0] == 500
    assert (await client.wb(WB_LIST, search("HIT")))[0] == 200  # times=2 used up
    for _ in range(3):  # times=0: unlimited, only on its path
        assert (await client.ozon("/v1/product/info/description", {"offer_id": "x"}))[0] == 500
    assert (await client.ozon(OZON_LIST, OZON_BODY))[0] == 200

    faults = {fault["id"]: fault for fault in await client.control("GET", "/faults")}
    assert faults[fault_id]["remaining"] == 0 and faults[fault_id]["fired"] == 2
    assert [f["remaining"] for f in faults.values() if f["kind"] == "auth"] == [None]
    await client.control("DELETE", "/faults")
    assert await client.control("GET", "/faults") == []
    assert (await client.ozon("/v1/product/info/description", {"offer_id": "x"}))[0] == 404


async def test_fault_matches_update_payload_ids(client: Client) -> None:
    [card] = await client.seed("wb", {"sku": "V-1", "title": "t"})
    await client.fault(kind="validation", sku="V-1")
    update = [{"nmID": card["id"], "vendorCode": "V-1", "sizes": card["raw"]["sizes"], "title": "new"}]
    assert (await client.wb("/content/v2/cards/update", update))[0] == 400
    assert (await client.wb("/content/v2/cards/update", update))[0] == 200
    status, body, _ = await client.call("POST", "/__sandbox/faults", json={"kind": "nonsense"})
    assert status == 400 and body["error"]
