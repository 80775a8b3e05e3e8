"""Control API: health, reset, config, seeding, counters, request log; accounts; run_sandbox."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys

import aiohttp
import orjson
import pytest

from adolf.sandbox import SandboxAccount, SandboxConfig, start_sandbox

from .helpers import OZON_AUTH, WB_AUTH, YM_AUTH, Client

WB_LIST = "/content/v2/get/cards/list"


def wb_search(text: str) -> dict:
    return {"settings": {"filter": {"textSearch": text}, "cursor": {"limit": 10}}}


async def test_health_and_unknown_card(client: Client) -> None:
    assert await client.control("GET", "/health") == {"ok": True}
    status, body, _ = await client.call("GET", "/__sandbox/cards/wb/nope")
    assert status == 404 and body["error"]
    assert (await client.call("GET", "/__sandbox/cards/amazon/x"))[0] == 404
    assert (await client.call("GET", "/__sandbox/cards/wb/x?account=ghost"))[0] == 404


async def test_seed_assigns_ids_per_marketplace(client: Client) -> None:
    [wb] = await client.seed("wb", {"sku": "S-1", "title": "T", "description": "D", "attributes": {"Цвет": "v"}})
    [wb_fixed] = await client.seed("wb", {"sku": "S-2", "title": "T", "nm_id": 123456})
    [oz] = await client.seed("ozon", {"sku": "S-1", "title": "T", "description": "D"})
    [ym] = await client.seed("ym", {"sku": "S-1", "title": "T", "description": "D", "attributes": {"15": "red"}})
    assert wb["id"] > 0 and wb_fixed["id"] == 123456 and wb["attributes"] == {"14177449": ["v"]}
    assert wb["raw"]["sizes"][0]["chrtID"] > 0
    assert oz["id"] > 0 and oz["raw"]["sku"] > 0 and oz["description"] == "D"
    assert ym["id"] > 0 and ym["raw"]["mapping"]["marketSku"] == ym["id"] and ym["attributes"] == {"15": ["red"]}
    stored = await client.card("ozon", "S-1")
    assert stored["title"] == "T" and stored["sku"] == "S-1" and stored["marketplace"] == "ozon"
    status, body, _ = await client.call("POST", "/__sandbox/cards", json={"marketplace": "wb", "cards": [{}]})
    assert status == 400 and body["details"]
    bad_account = {"marketplace": "wb", "account": "ghost", "cards": [{"sku": "x", "title": "t"}]}
    assert (await client.call("POST", "/__sandbox/cards", json=bad_account))[0] == 404


async def test_config_get_put(client: Client) -> None:
    config = await client.control("GET", "/config")
    assert config["apply_delay_s"] == 0.1 and config["ym_max_parallel"] == 4
    patch = {"latency_ms": 5, "rate_limits": {"wb.cards_list": "1/60:1"}, "ym_max_parallel": 2}
    updated = await client.control("PUT", "/config", patch)
    assert updated["latency_ms"] == 5 and updated["ym_max_parallel"] == 2
    assert updated["rate_limits"]["wb.cards_list"] == "1/60:1"
    assert updated["rate_limits"]["wb.cards_update"] == config["rate_limits"]["wb.cards_update"]  # merged
    assert [(await client.wb(WB_LIST, wb_search("")))[0] for _ in range(2)] == [200, 429]
    await client.limit("wb.cards_list", "1/60:1")  # re-setting a bucket resets it
    assert (await client.wb(WB_LIST, wb_search("")))[0] == 200
    for bad in ({"port": 1}, {"rate_limits": {"x": "fast"}}, {"apply_delay_s": -1}, {"rate_limits": []}):
        status, body, _ = await client.call("PUT", "/__sandbox/config", json=bad)
        assert status == 400 and body["error"], bad
    status, _, _ = await client.call("PUT", "/__sandbox/config", data=b"{nope")
    assert status == 400


async def test_counters_and_request_log_never_hold_secrets(client: Client) -> None:
    await client.seed("wb", {"sku": "L-1", "title": "t"})
    await client.wb(WB_LIST, wb_search("L-1"))
    await client.wb(WB_LIST, wb_search("L-1"), headers={"Authorization": "leaked-wrong-token"})
    await client.ozon("/v1/product/info/description", {"offer_id": "L-1"})
    await client.ym("/offer-mappings", {"offerIds": ["L-1"]})
    counters = await client.counters()
    assert counters["requests"] == {
        "wb POST /content/v2/get/cards/list 200": 1,
        "wb POST /content/v2/get/cards/list 401": 1,
        "ozon POST /v1/product/info/description 404": 1,
        "ym POST /v2/businesses/{businessId}/offer-mappings 200": 1,
    }
    assert counters["by_status"] == {"200": 2, "401": 1, "404": 1}
    assert set(counters) >= {"rate_limited", "cards_updated", "cards_rejected", "max_parallel_seen"}

    log = await client.control("GET", "/requests")
    assert len(log) == 4
    first = log[0]
    assert set(first) == {"ts", "marketplace", "method", "path", "status", "account", "skus", "duration_ms"}
    assert first["skus"] == ["L-1"] and first["account"] == "default" and first["path"] == WB_LIST
    assert log[1]["account"] is None and log[1]["status"] == 401
    dumped = orjson.dumps([log, counters]).decode()
    for secret in (*WB_AUTH.values(), *OZON_AUTH.values(), *YM_AUTH.values(), "leaked-wrong-token"):
        if secret != "100500":
            assert secret not in dumped
    assert [e["marketplace"] for e in await client.control("GET", "/requests?marketplace=ozon")] == ["ozon"]
    assert len(await client.control("GET", "/requests?path_contains=/businesses/")) == 1
    assert len(await client.control("GET", "/requests?limit=2")) == 2


async def test_reset_clears_everything_but_config(client: Client) -> None:
    await client.control("PUT", "/config", {"latency_ms": 1, "rate_limits": {"ozon.global": "1/60:1"}})
    [card] = await client.seed("wb", {"sku": "R-1", "title": "t"})
    update = {"nmID": card["id"], "vendorCode": "R-1", "sizes": card["raw"]["sizes"], "title": "n"}
    assert (await client.wb("/content/v2/cards/update", [update]))[0] == 200
    await client.ozon("/v3/product/info/list", {"offer_id": ["x"]})
    assert (await client.ozon("/v3/product/info/list", {"offer_id": ["x"]}))[0] == 429
    await client.fault(kind="server_error", times=0, marketplace="ym")
    assert (await client.counters())["pending_applies"] == 1

    assert await client.control("POST", "/reset") == {"ok": True}
    counters = await client.counters()
    assert counters["requests"] == {} and counters["pending_applies"] == 0 and counters["rate_limited"] == 0
    assert await client.control("GET", "/requests") == []
    assert await client.control("GET", "/faults") == []
    assert (await client.call("GET", "/__sandbox/cards/wb/R-1"))[0] == 404
    assert (await client.ozon("/v3/product/info/list", {"offer_id": ["x"]}))[0] == 200  # bucket refilled
    assert (await client.ym("/offer-mappings", {}))[0] == 200
    assert (await client.control("GET", "/config"))["latency_ms"] == 1


async def test_accounts_are_isolated() -> None:
    other = SandboxAccount(
        name="other", wb_token="wb-2", ozon_client_id="2", ozon_api_key="oz-2", ym_api_key="ym-2", ym_business_id=888
    )
    config = SandboxConfig(accounts=[SandboxAccount(), other], rate_limits={"wb.cards_list": "1/60:1"})
    server = await start_sandbox(config)
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(session, server)
            await client.seed("wb", {"sku": "MINE", "title": "t"}, account="other")
            status, body, _ = await client.wb(WB_LIST, wb_search("MINE"), headers={"Authorization": "wb-2"})
            assert status == 200 and [c["vendorCode"] for c in body["cards"]] == ["MINE"]
            status, body, _ = await client.wb(WB_LIST, wb_search("MINE"))
            assert status == 200 and body["cards"] == []
            assert (await client.wb(WB_LIST, wb_search("MINE")))[0] == 429  # default's bucket is empty now
            assert (await client.call("GET", "/__sandbox/cards/wb/MINE"))[0] == 404
            assert (await client.control("GET", "/cards/wb/MINE?account=other"))["account"] == "other"

            body = {"offer_id": ["x"]}
            assert (await client.ozon("/v3/product/info/list", body, headers={"Client-Id": "2", "Api-Key": "oz-2"}))[
                0
            ] == 200
            wrong_pair = {"Client-Id": "100500", "Api-Key": "oz-2"}
            assert (await client.ozon("/v3/product/info/list", body, headers=wrong_pair))[0] == 404

            ym_other = {"Api-Key": "ym-2"}
            assert (await client.ym("/offer-mappings", {}, headers=ym_other))[0] == 403  # business 777 is not theirs
            status, _, _ = await client.call("POST", "/v2/businesses/888/offer-mappings", json={}, headers=ym_other)
            assert status == 200
    finally:
        await server.close()


async def test_run_sandbox_serves_until_sigterm() -> None:
    code = (
        "import logging; logging.basicConfig(level=logging.INFO);"
        "from adolf.sandbox import SandboxConfig, run_sandbox; run_sandbox(SandboxConfig(port=0))"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stderr=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    try:
        assert proc.stderr is not None
        line = (await asyncio.wait_for(proc.stderr.readline(), 10)).decode()
        url = re.search(r"http://[\d.]+:\d+", line)
        assert url, line
        async with aiohttp.ClientSession() as session, session.get(url[0] + "/__sandbox/health") as response:
            assert await response.json() == {"ok": True}
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.parametrize("spec", ["10 per minute", "0/60:5", "10/0:5", "10/60:0", "a/b:c"])
def test_bad_rate_limit_specs_are_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        SandboxConfig(rate_limits={"wb.cards_update": spec})


def test_defaults_match_the_documented_limits() -> None:
    config = SandboxConfig()
    assert config.rate_limits == {
        "wb.cards_update": "10/60:5",
        "wb.cards_list": "100/60:5",
        "wb.cards_errors": "10/60:5",
        "ozon.global": "50/1:50",
        "wb.funnel_history": "3/60:3",
        "wb.search_texts": "3/60:3",
        "ozon.analytics_data": "1/60:1",
    }
    assert config.ym_limits == {
        "ym.offer_mappings_update": "5000/60",
        "ym.offer_mappings": "600/60",
        "ym.category_parameters": "100/60",
        "ym.reports_shows_sales": "10/3600",
        "ym.reports_info": "100/60",
    }
    [account] = config.accounts
    assert account.model_dump() == {
        "name": "default",
        "wb_token": "sandbox-wb-token",
        "ozon_client_id": "100500",
        "ozon_api_key": "sandbox-ozon-key",
        "ym_api_key": "sandbox-ym-key",
        "ym_business_id": 777,
    }
    assert (config.host, config.port, config.apply_delay_s, config.ym_max_parallel) == ("127.0.0.1", 0, 0.5, 4)
