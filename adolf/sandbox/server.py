"""Building, starting and running the simulator app."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from .analytics import ANALYTICS_APIS, add_report_file_routes
from .base import MarketplaceApi
from .config import SandboxAccount, SandboxConfig
from .control import PREFIX, add_control_routes
from .middleware import BINDINGS_KEY, CTX_KEY, STATE_KEY, Binding, sandbox_middleware
from .ozon import OzonApi
from .state import SandboxState
from .wb import WildberriesApi
from .ym import YandexMarketApi

logger = logging.getLogger(__name__)

CLIENT_MAX_SIZE = 64 * 1024 * 1024
SHUTDOWN_TIMEOUT_S = 2.0


def _endpoint(api: MarketplaceApi, index: int) -> Callable[[web.Request], Awaitable[web.Response]]:
    handler = api.routes[index].handler

    async def endpoint(request: web.Request) -> web.Response:
        return handler(request[CTX_KEY])

    return endpoint


def _add_marketplace_routes(app: web.Application) -> None:
    bindings: dict[tuple[str, str], Binding] = {}
    for api in (WildberriesApi(), OzonApi(), YandexMarketApi(), *(make() for make in ANALYTICS_APIS)):
        for index, route in enumerate(api.routes):
            added = app.router.add_route(route.method, route.path, _endpoint(api, index))
            template = added.resource.canonical if added.resource is not None else route.path
            bindings[(route.method, template)] = Binding(api=api, route=route, template=template)
    app[BINDINGS_KEY] = bindings


async def _release_sleepers(app: web.Application) -> None:
    app[STATE_KEY].release_sleepers()


async def _drop_pending(app: web.Application) -> None:
    app[STATE_KEY].scheduler.clear()


def create_app(config: SandboxConfig | None = None) -> web.Application:
    """The simulator as an aiohttp app (all three marketplaces plus ``/__sandbox/``)."""
    config = (config or SandboxConfig()).model_copy(deep=True)
    app = web.Application(middlewares=[sandbox_middleware], client_max_size=CLIENT_MAX_SIZE)
    app[STATE_KEY] = SandboxState(config)
    _add_marketplace_routes(app)
    add_control_routes(app)
    add_report_file_routes(app)
    app.on_shutdown.append(_release_sleepers)
    app.on_cleanup.append(_drop_pending)
    return app


class SandboxServer:
    """A simulator listening on a real TCP socket."""

    def __init__(self, app: web.Application, runner: web.AppRunner, url: str) -> None:
        self.app = app
        self.runner = runner
        self.url = url

    @property
    def state(self) -> SandboxState:
        return self.app[STATE_KEY]

    async def close(self) -> None:
        self.state.release_sleepers()
        await self.runner.cleanup()

    async def __aenter__(self) -> SandboxServer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


async def start_sandbox(config: SandboxConfig | None = None) -> SandboxServer:
    """Start the simulator on ``config.host:config.port`` (port 0 picks a free port)."""
    config = config or SandboxConfig()
    app = create_app(config)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    host, port = runner.addresses[0][:2]
    shown = f"[{host}]" if ":" in host else host
    return SandboxServer(app, runner, f"http://{shown}:{port}")


SEED_EXAMPLE = {"marketplace": "wb", "cards": [{"sku": "MY-SKU-1", "title": "Demo T-shirt"}]}


def banner(server: SandboxServer) -> str:
    """What `adolf sandbox` prints when it starts: URLs, credentials as settings lines, a seeding example."""
    url, config = server.url, server.state.config
    default, *others = config.accounts
    lines = [
        f"ADOLF marketplace sandbox (Wildberries, Ozon, Yandex Market APIs) at {url}",
        "Point ADOLF at it: paste these lines into .env.local (or export them) in the directory you run adolf from",
        f"ADOLF_WB_CONTENT_URL={url}",
        f"ADOLF_WB_ANALYTICS_URL={url}",
        f"ADOLF_OZON_API_URL={url}",
        f"ADOLF_YM_API_URL={url}",
        *_account_lines(default),
    ]
    for account in others:
        lines.append(f"# account {account.name!r}: " + " ".join(_account_lines(account)))
    body = orjson.dumps(SEED_EXAMPLE).decode()
    lines += [
        f"Control API: {url}{PREFIX}/ (lists its endpoints)",
        "Seed a card (then publish a draft with its sku):",
        f"curl -sS -X POST {url}{PREFIX}/cards -H 'Content-Type: application/json' -d '{body}'",
    ]
    return "\n".join(lines)


def _account_lines(account: SandboxAccount) -> list[str]:
    return [
        f"ADOLF_WB_TOKEN={account.wb_token}",
        f"ADOLF_OZON_CLIENT_ID={account.ozon_client_id}",
        f"ADOLF_OZON_API_KEY={account.ozon_api_key}",
        f"ADOLF_YM_API_KEY={account.ym_api_key}",
        f"ADOLF_YM_BUSINESS_ID={account.ym_business_id}",
    ]


async def _serve(config: SandboxConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not main thread / Windows
            loop.add_signal_handler(sig, stop.set)
    server = await start_sandbox(config)
    print(banner(server), flush=True)
    logger.info("marketplace sandbox listening on %s (control API at %s/__sandbox/)", server.url, server.url)
    try:
        await stop.wait()
    finally:
        logger.info("marketplace sandbox stopping")
        await server.close()


def run_sandbox(config: SandboxConfig | None = None) -> None:
    """Run the simulator until SIGINT/SIGTERM (used by ``adolf sandbox``)."""
    asyncio.run(_serve(config or SandboxConfig()))
