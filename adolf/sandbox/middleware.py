"""The request pipeline of marketplace routes: latency, faults, auth, limits, log, counters."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from .base import ApiError, Ctx, MarketplaceApi, Route
from .buckets import BucketSnapshot
from .config import SandboxAccount
from .faults import Fault
from .state import SandboxState

logger = logging.getLogger(__name__)

FAULT_SNAPSHOT = BucketSnapshot(capacity=1, remaining=0, retry_after_s=1, reset_s=1)
DISCONNECTED = 0


@dataclass(frozen=True)
class Binding:
    api: MarketplaceApi
    route: Route
    template: str


STATE_KEY = web.AppKey("sandbox_state", SandboxState)
BINDINGS_KEY = web.AppKey("sandbox_bindings", dict[tuple[str, str], Binding])
CTX_KEY = web.RequestKey("sandbox_ctx", Ctx)


@dataclass
class Call:
    """One marketplace request while it passes the pipeline."""

    request: web.Request
    binding: Binding
    state: SandboxState
    request_id: int
    generation: int = 0
    body_size: int = 0
    payload: Any = None
    payload_error: str | None = None
    skus: list[str] = field(default_factory=list)
    account: SandboxAccount | None = None
    auth_failure: web.Response | None = None
    parallel_key: str | None = None
    admitted: bool = True
    snap: BucketSnapshot | None = None
    answer_body: Any = None  # the answer's JSON, kept when the config says log_bodies
    started: float = field(default_factory=time.monotonic)
    wall_start: float = field(default_factory=time.time)


def _binding(request: web.Request) -> Binding | None:
    resource = request.match_info.route.resource
    if resource is None:
        return None
    return request.app[BINDINGS_KEY].get((request.method, resource.canonical))


async def _read(call: Call) -> None:
    """Read and parse the body; a bad body is answered later, after auth and limits."""
    try:
        body = await call.request.read()
    except web.HTTPRequestEntityTooLarge:
        call.payload_error, call.body_size = "too_large", call.request.content_length or 0
        return
    call.body_size = len(body)
    if body.strip():
        try:
            call.payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            call.payload_error = "Request body can not be decoded: invalid JSON"
            return
    call.skus = call.binding.api.skus(call.request.path, call.payload)


def _identify(call: Call) -> None:
    api, state = call.binding.api, call.state
    found = api.identify(call.request, state)
    if isinstance(found, web.Response):
        call.auth_failure = found
        return
    call.account = found
    call.parallel_key = api.parallel_key(call.request, found)
    cap = api.parallel_cap(state)
    call.admitted = state.inflight.enter(call.parallel_key, api.name, call.request_id, cap)


def _peek(call: Call) -> BucketSnapshot | None:
    if call.snap is not None:
        return call.snap
    return call.binding.api.peek(call.state, call.account, call.binding.route)


async def _fault_answer(call: Call, fault: Fault) -> web.Response | int | None:
    """The injected answer; None lets the request go on (after a timeout), 0 drops it."""
    spec, api = fault.spec, call.binding.api
    if spec.kind == "timeout":
        delay = spec.delay_s if spec.delay_s is not None else call.state.config.timeout_fault_delay_s
        return None if await call.state.sleep(delay) else DISCONNECTED
    if spec.kind == "disconnect":
        return DISCONNECTED
    if spec.kind == "malformed":
        return web.Response(body=api.malformed_body(), status=spec.status or 200, content_type="application/json")
    answers = {
        "server_error": lambda: api.server_error(spec.status or 500),
        "auth": api.auth_error,
        "rate_limit": lambda: api.rate_limited(FAULT_SNAPSHOT),
        "validation": lambda: api.validation_error("sandbox: injected validation fault"),
    }
    response = answers[spec.kind]()
    if spec.status and spec.kind != "server_error":
        response.set_status(spec.status)
    return response


def _guard(call: Call) -> web.Response | None:
    """Auth, the parallel cap, the rate limit and the body checks, in the real APIs' order."""
    api, route, state = call.binding.api, call.binding.route, call.state
    if call.auth_failure is not None or call.account is None:
        return call.auth_failure or api.auth_error()
    if not call.admitted:
        return api.parallel_exceeded(call.request, api.parallel_cap(state) or 0, _peek(call) or FAULT_SNAPSHOT)
    granted, call.snap = api.admit(state, call.account, route, call.payload)
    if not granted:
        return api.rate_limited(call.snap)
    if call.payload_error == "too_large":
        return api.too_large()
    if call.payload_error is not None:
        return api.undecodable(call.payload_error)
    return None


async def _answer(call: Call, handler: Any) -> web.StreamResponse | int:
    state = call.state
    await state.sleep(state.config.latency_ms / 1000)
    fault = state.faults.take(call.binding.api.name, call.request.path, call.skus)
    if fault is not None:
        injected = await _fault_answer(call, fault)
        if injected is not None:
            return injected
    state.apply_due()  # applies that fell due during latency / a timeout fault
    refusal = _guard(call)
    if refusal is not None:
        return refusal
    assert call.account is not None
    call.request[CTX_KEY] = Ctx(state, call.account, call.payload, call.request, call.body_size)
    try:
        return await handler(call.request)
    except ApiError as error:
        return error.response


def _record(call: Call, status: int) -> None:
    state, binding = call.state, call.binding
    if call.generation != state.generation:
        return  # started before a reset: not part of what the current test sees
    if call.parallel_key is not None:
        state.inflight.leave(call.parallel_key, call.request_id)
    duration_ms = round((time.monotonic() - call.started) * 1000, 3)
    state.counters.record(binding.api.name, call.request.method, binding.template, status)
    entry = {
        "ts": call.wall_start,
        "marketplace": binding.api.name,
        "method": call.request.method,
        "path": call.request.path,
        "status": status,
        "account": call.account.name if call.account else None,
        "skus": call.skus,
        "duration_ms": duration_ms,
    }
    if state.config.log_bodies:
        entry.update(body=call.payload, response=call.answer_body)
    state.request_log.append(entry)
    logger.debug("sandbox %s %s -> %s in %.1f ms", call.request.method, call.request.path, status, duration_ms)


def _loose_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")


def _drop_connection(request: web.Request) -> web.Response:
    """Close the connection without an answer (the returned response is never sent)."""
    transport = request.transport
    if transport is not None:
        transport.close()
    return web.Response(status=499)


@web.middleware
async def sandbox_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    state.apply_due()
    binding = _binding(request)
    if binding is None:
        return await handler(request)
    call = Call(request, binding, state, next(state.ids.request), generation=state.generation)
    status = DISCONNECTED
    try:
        await _read(call)
        _identify(call)
        answer = await _answer(call, handler)
        if isinstance(answer, int):
            return _drop_connection(request)
        snap = _peek(call)
        if snap is not None:
            binding.api.decorate(answer, snap)
        status = answer.status
        if state.config.log_bodies and isinstance(answer, web.Response) and isinstance(answer.body, bytes):
            call.answer_body = _loose_json(answer.body)
        return answer
    except Exception:
        status = 500
        raise
    finally:
        _record(call, status)
