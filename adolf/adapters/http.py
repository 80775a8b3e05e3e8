"""The one HTTP helper under every adapter: base URL from settings, the shared rate limiter, explicit timeouts,
JSON in and out with orjson, and every failure mapped onto the error tree right here (adapters supply only the
marketplace-specific reading of an error answer). Logs carry method, path, status and timing, never headers."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import orjson
from multidict import CIMultiDictProxy

from adolf.adapters.ratelimit import RateLimiter
from adolf.errors import (
    ApiError,
    AuthFailed,
    MarketplaceError,
    NotFound,
    RateLimited,
    Timeout,
    ValidationFailed,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErrorAnswer:
    """A non-2xx answer, for an adapter's classifier."""

    status: int
    headers: CIMultiDictProxy[str]
    body: Any  # parsed JSON, or the text when the body was not JSON


Classifier = Callable[[ErrorAnswer], MarketplaceError]


class Traffic(Protocol):
    """A marketplace's own limits beside the shared rate limiter (Yandex Market's, adolf/adapters/ym_limits.py)."""

    def slot(self) -> AbstractAsyncContextManager[Any]:
        """Held for the duration of one request (a parallel-request cap)."""
        ...

    async def admit(self, bucket: str, cost: int) -> None:
        """Before a request of `cost` units is sent."""

    async def observe(self, bucket: str, status: int, headers: Mapping[str, str]) -> None:
        """Every answer's status and headers."""


def classify_status(
    answer: ErrorAnswer, message: str, retry_after: float | None = None, details: Any = None
) -> MarketplaceError:
    """SPEC section 3: the default meaning of an HTTP status."""
    status = answer.status
    if status == 429:
        return RateLimited(message, retry_after=retry_after, details=details)
    if status in (401, 403):
        return AuthFailed(message, details=details)
    if status == 404:
        return NotFound(message, details=details)
    if status in (400, 409, 413, 422, 423):
        return ValidationFailed(message, details=details)
    return ApiError(message, retry_after=retry_after, details=details)


def seconds_header(headers: Mapping[str, str], name: str) -> float | None:
    try:
        return max(0.0, float(headers[name]))
    except (KeyError, ValueError):
        return None


class MarketplaceHttp:
    """POSTs JSON to one marketplace for one seller account."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        marketplace: str,
        base_url: str,
        auth_headers: Mapping[str, str],
        account: str,
        limiter: RateLimiter | None,
        classify: Classifier,
        traffic: Traffic | None = None,
    ) -> None:
        self.session = session
        self.traffic = traffic
        self.marketplace = marketplace
        self.base_url = base_url.rstrip("/")
        self._auth_headers = dict(auth_headers)
        self.account = account
        self.limiter = limiter
        self.classify = classify

    async def post(
        self,
        path: str,
        payload: Any,
        *,
        bucket: str,
        params: Mapping[str, str] | None = None,
        slot_held: bool = False,
        cost: int = 1,
    ) -> Any:
        """POST JSON (`payload` may be JSON bytes already) after taking a rate-limit slot (unless `slot_held`);
        `cost` is what the request spends of an item-metered limit."""
        return await self.request("POST", path, payload, bucket=bucket, params=params, slot_held=slot_held, cost=cost)

    async def get(self, path: str, *, bucket: str, params: Mapping[str, str] | None = None) -> Any:
        return await self.request("GET", path, None, bucket=bucket, params=params)

    async def request(
        self,
        method: str,
        path: str,
        payload: Any,
        *,
        bucket: str,
        params: Mapping[str, str] | None = None,
        slot_held: bool = False,
        cost: int = 1,
    ) -> Any:
        if self.limiter is not None and not slot_held:
            await self.limiter.acquire(bucket, self.account)
        started = time.monotonic()
        if self.traffic is None:
            status, headers, raw = await self._send(method, path, payload, params)
        else:
            await self.traffic.admit(bucket, cost)
            async with self.traffic.slot():
                status, headers, raw = await self._send(method, path, payload, params)
            await self.traffic.observe(bucket, status, headers)
        duration_ms = round((time.monotonic() - started) * 1000, 1)
        logger.debug("%s %s %s -> %s", self.marketplace, method, path, status, extra={"duration_ms": duration_ms})
        if status >= 400:
            error = self._masked(self.classify(ErrorAnswer(status, headers, _parse_loose(raw))))
            logger.info(
                "%s %s %s -> %s %s",
                self.marketplace,
                method,
                path,
                status,
                error.code,
                extra={"duration_ms": duration_ms, "error": error.message},
            )
            if isinstance(error, RateLimited) and self.limiter is not None:
                await self.limiter.penalize(bucket, self.account, error.retry_after or 1.0)
            raise error
        try:
            return orjson.loads(raw) if raw else None
        except orjson.JSONDecodeError:
            raise ApiError(f"{self.marketplace} answered {path} with a body that is not JSON") from None

    def _masked(self, error: MarketplaceError) -> MarketplaceError:
        """An error answer never carries our credentials on into logs or stored responses."""
        secrets = [v for v in self._auth_headers.values() if len(v) >= 4]
        if not any(secret in error.message or secret in str(error.details) for secret in secrets):
            return error
        text = orjson.dumps({"message": error.message, "details": error.details}, default=str).decode()
        for secret in secrets:
            text = text.replace(secret, "***")
        masked = orjson.loads(text)
        error.message, error.details = masked["message"], masked["details"]
        error.args = (error.message,)
        return error

    async def _send(
        self, method: str, path: str, payload: Any, params: Mapping[str, str] | None
    ) -> tuple[int, CIMultiDictProxy[str], bytes]:
        headers = dict(self._auth_headers)
        data = None
        if payload is not None:
            headers["Content-Type"] = "application/json"
            data = payload if isinstance(payload, bytes) else orjson.dumps(payload)
        try:
            async with self.session.request(
                method, self.base_url + path, data=data, headers=headers, params=params
            ) as response:
                return response.status, response.headers, await response.read()
        except TimeoutError:
            raise Timeout(f"{self.marketplace} did not answer {path} in time") from None
        except aiohttp.ClientError as exc:
            raise ApiError(f"{self.marketplace} {path}: {type(exc).__name__}: {exc}") from exc


def _parse_loose(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.decode("utf-8", "replace")[:500]


def new_session(timeout: float) -> aiohttp.ClientSession:
    """One per marketplace per process. Credentials are passed per request, never stored on the session."""
    return aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=timeout, connect=min(10.0, timeout)),
        connector=aiohttp.TCPConnector(limit=100, ttl_dns_cache=300),
        json_serialize=lambda value: orjson.dumps(value).decode(),
        raise_for_status=False,
    )
