"""Helpers for the marketplace simulator tests: credentials, polling, a small HTTP client."""

from __future__ import annotations

from typing import Any

import aiohttp

from adolf.sandbox import SandboxServer

WB_AUTH = {"Authorization": "sandbox-wb-token"}
OZON_AUTH = {"Client-Id": "100500", "Api-Key": "sandbox-ozon-key"}
YM_AUTH = {"Api-Key": "sandbox-ym-key"}
YM_BASE = "/v2/businesses/777"
APPLY_DELAY_S = 0.1


class Client:
    """Thin helper around one ClientSession talking to one sandbox."""

    def __init__(self, session: aiohttp.ClientSession, server: SandboxServer) -> None:
        self.session = session
        self.server = server
        self.url = server.url

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any, Any]:
        """(status, parsed JSON body or raw text, headers)."""
        async with self.session.request(method, self.url + path, **kwargs) as response:
            text = await response.text()
            try:
                body: Any = await response.json(content_type=None)
            except ValueError:
                body = text
            return response.status, body, response.headers

    async def wb(self, path: str, body: Any, **kwargs: Any) -> tuple[int, Any, Any]:
        return await self.call("POST", path, json=body, headers=kwargs.pop("headers", WB_AUTH), **kwargs)

    async def ozon(self, path: str, body: Any, **kwargs: Any) -> tuple[int, Any, Any]:
        return await self.call("POST", path, json=body, headers=kwargs.pop("headers", OZON_AUTH), **kwargs)

    async def ym(self, path: str, body: Any, **kwargs: Any) -> tuple[int, Any, Any]:
        return await self.call("POST", YM_BASE + path, json=body, headers=kwargs.pop("headers", YM_AUTH), **kwargs)

    async def control(self, method: str, path: str, body: Any = None) -> Any:
        status, data, _ = await self.call(method, "/__sandbox" + path, json=body)
        assert status == 200, (status, data)
        return data

    async def seed(self, marketplace: str, *cards: dict[str, Any], account: str = "default") -> list[dict[str, Any]]:
        data = await self.control("POST", "/cards", {"marketplace": marketplace, "account": account, "cards": cards})
        return data["cards"]

    async def card(self, marketplace: str, sku: str) -> dict[str, Any]:
        return await self.control("GET", f"/cards/{marketplace}/{sku}")

    async def counters(self) -> dict[str, Any]:
        return await self.control("GET", "/counters")

    async def fault(self, **spec: Any) -> int:
        return (await self.control("POST", "/faults", spec))["id"]

    async def limit(self, bucket: str, spec: str) -> None:
        await self.control("PUT", "/config", {"rate_limits": {bucket: spec}})
