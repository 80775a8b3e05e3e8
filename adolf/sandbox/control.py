"""Control API under ``/__sandbox/`` (``GET /__sandbox/`` lists it): health, reset, config, seeding, faults,
counters, request log, trend shapes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from . import analytics, ozon, wb, ym
from .base import Json, json_response
from .config import SandboxConfig
from .faults import FaultSpec
from .middleware import STATE_KEY
from .models import SeedCard
from .state import MARKETPLACES, SandboxState

logger = logging.getLogger(__name__)

PREFIX = "/__sandbox"
MUTABLE_CONFIG = {
    "latency_ms",
    "apply_delay_s",
    "rate_limits",
    "ym_max_parallel",
    "timeout_fault_delay_s",
    "ozon_daily_update_limit",
    "ym_limits",
    "log_bodies",
}
SEEDERS: dict[str, Callable[[SandboxState, str, SeedCard], Json]] = {
    "wb": wb.seed,
    "ozon": ozon.seed,
    "ym": ym.seed,
}


class SeedRequest(BaseModel):
    marketplace: Literal["wb", "ozon", "ym"]
    account: str = "default"
    cards: list[SeedCard]


class BadRequest(Exception):
    """A control request the simulator refuses (answered 400/404 with ``{error}``)."""

    def __init__(self, message: str, status: int = 400, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.details = status, details

    def response(self) -> web.Response:
        body: Json = {"error": str(self)}
        if self.details is not None:
            body["details"] = self.details
        return json_response(body, status=self.status)


def _state(request: web.Request) -> SandboxState:
    return request.app[STATE_KEY]


async def _body(request: web.Request) -> Json:
    try:
        payload = orjson.loads(await request.read() or b"{}")
    except orjson.JSONDecodeError:
        raise BadRequest("request body is not valid JSON") from None
    if not isinstance(payload, dict):
        raise BadRequest("request body must be a JSON object")
    return payload


def _validated(model: type[BaseModel], payload: Json) -> Any:
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        details = error.errors(include_url=False, include_context=False, include_input=False)
        raise BadRequest("invalid request", details=details) from None


def _account(state: SandboxState, name: str) -> str:
    if name not in state.accounts.by_name:
        raise BadRequest(f"unknown account {name!r}", status=404)
    return name


def config_json(config: SandboxConfig) -> Json:
    return config.model_dump(mode="json")


# --- handlers -------------------------------------------------------------------------------------


async def health(request: web.Request) -> web.Response:
    return json_response({"ok": True})


async def reset(request: web.Request) -> web.Response:
    _state(request).reset()
    return json_response({"ok": True})


async def get_config(request: web.Request) -> web.Response:
    return json_response(config_json(_state(request).config))


async def put_config(request: web.Request) -> web.Response:
    state, patch = _state(request), await _body(request)
    unknown = sorted(set(patch) - MUTABLE_CONFIG)
    if unknown:
        raise BadRequest(f"these settings cannot be changed at run time: {', '.join(unknown)}")
    limits, windows = patch.get("rate_limits", {}), patch.get("ym_limits", {})
    if not isinstance(limits, dict) or not isinstance(windows, dict):
        raise BadRequest("rate_limits and ym_limits must be objects of bucket name -> 'LIMIT/PERIOD[:BURST]'")
    merged = {
        **state.config.model_dump(),
        **patch,
        "rate_limits": {**state.config.rate_limits, **limits},
        "ym_limits": {**state.config.ym_limits, **windows},
    }
    state.set_config(_validated(SandboxConfig, merged))
    state.limiter.reset(set(limits))
    if windows:
        state.ym_windows.reset()
    logger.info("sandbox config changed: %s", patch)
    return json_response(config_json(state.config))


async def seed_cards(request: web.Request) -> web.Response:
    state = _state(request)
    seed: SeedRequest = _validated(SeedRequest, await _body(request))
    account = _account(state, seed.account)
    try:
        cards = [SEEDERS[seed.marketplace](state, account, card) for card in seed.cards]
    except ValueError as error:
        raise BadRequest(str(error)) from None
    return json_response({"marketplace": seed.marketplace, "account": account, "cards": cards})


async def get_card(request: web.Request) -> web.Response:
    state, marketplace, sku = _state(request), request.match_info["marketplace"], request.match_info["sku"]
    if marketplace not in MARKETPLACES:
        raise BadRequest(f"unknown marketplace {marketplace!r}", status=404)
    account = _account(state, request.query.get("account", "default"))
    card = getattr(state, marketplace)[account].get(sku)
    if card is None:
        raise BadRequest(f"no {marketplace} card {sku!r} for account {account!r}", status=404)
    return json_response({"marketplace": marketplace, "account": account, **card.summary()})


async def add_fault(request: web.Request) -> web.Response:
    fault = _state(request).faults.add(_validated(FaultSpec, await _body(request)))
    return json_response(fault.to_json())


async def list_faults(request: web.Request) -> web.Response:
    return json_response([fault.to_json() for fault in _state(request).faults.list()])


async def clear_faults(request: web.Request) -> web.Response:
    _state(request).faults.clear()
    return json_response({"ok": True})


async def counters(request: web.Request) -> web.Response:
    state = _state(request)
    c = state.counters
    body = {
        "requests": dict(c.requests),
        "by_status": dict(c.by_status),
        "rate_limited": c.rate_limited,
        "cards_updated": {mp: c.cards_updated[mp] for mp in MARKETPLACES},
        "cards_rejected": {mp: c.cards_rejected[mp] for mp in MARKETPLACES},
        "batches_rejected": {mp: c.batches_rejected[mp] for mp in MARKETPLACES},
        "max_parallel_seen": {mp: state.inflight.max_seen[mp] for mp in MARKETPLACES},
        "pending_applies": len(state.scheduler),
    }
    return json_response(body)


async def requests_log(request: web.Request) -> web.Response:
    marketplace, contains = request.query.get("marketplace"), request.query.get("path_contains")
    entries = [
        entry
        for entry in _state(request).request_log
        if (not marketplace or entry["marketplace"] == marketplace) and (not contains or contains in entry["path"])
    ]
    limit = request.query.get("limit", "")
    if limit.isdecimal():
        entries = entries[-int(limit) :] if int(limit) else []
    return json_response(entries)


def _guarded(handler: Callable[[web.Request], Any]) -> Callable[[web.Request], Any]:
    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except BadRequest as error:
            return error.response()

    return guarded


CONTROL_ENDPOINTS = (
    ("GET", "/", "this index"),
    ("GET", "/health", "liveness: {ok: true}"),
    ("POST", "/reset", "forget every card, fault, counter, request, trend shape and report"),
    ("GET", "/config", "the running configuration (accounts, limits, delays)"),
    ("PUT", "/config", f"change settings at run time: {', '.join(sorted(MUTABLE_CONFIG))}"),
    (
        "POST",
        "/cards",
        'seed cards: {"marketplace": "wb"|"ozon"|"ym", "account": "default", "cards": [{"sku", "title"}]}',
    ),
    ("GET", "/cards/{marketplace}/{sku}", "one card as the marketplace holds it (?account=)"),
    ("POST", "/faults", "inject a fault (kind, marketplace, sku, path_contains, times)"),
    ("GET", "/faults", "the faults injected"),
    ("DELETE", "/faults", "clear the faults"),
    ("GET", "/counters", "requests, statuses, cards updated and rejected, parallelism seen"),
    ("GET", "/requests", "the request log (?marketplace=&path_contains=&limit=)"),
    ("POST", "/trends", "set a trend shape: {marketplace, key, shape: rising|flat|falling|seasonal, level}"),
    ("GET", "/trends", "a key's weekly series (?marketplace=&key=)"),
)


async def index(request: web.Request) -> web.Response:
    state = _state(request)
    base = f"{request.scheme}://{request.host}"
    return json_response(
        {
            "sandbox": "ADOLF marketplace simulator: Wildberries, Ozon and Yandex Market APIs on this port",
            "base_url": base,
            "accounts": [account.model_dump(mode="json") for account in state.config.accounts],
            "endpoints": [
                {"method": method, "path": PREFIX + path, "url": base + PREFIX + path, "what": what}
                for method, path, what in CONTROL_ENDPOINTS
            ],
        }
    )


def add_control_routes(app: web.Application) -> None:
    table = [
        ("GET", "/", index),
        ("GET", "", index),
        ("GET", "/health", health),
        ("POST", "/reset", reset),
        ("GET", "/config", get_config),
        ("PUT", "/config", put_config),
        ("POST", "/cards", seed_cards),
        ("GET", "/cards/{marketplace}/{sku}", get_card),
        ("POST", "/faults", add_fault),
        ("GET", "/faults", list_faults),
        ("DELETE", "/faults", clear_faults),
        ("GET", "/counters", counters),
        ("GET", "/requests", requests_log),
        ("POST", "/trends", analytics.set_trend),
        ("GET", "/trends", analytics.get_trend),
    ]
    for method, path, handler in table:
        app.router.add_route(method, PREFIX + path, _guarded(handler))
