"""What every simulated marketplace provides: routes, auth, and its own error answers."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from .buckets import BucketSnapshot
from .config import SandboxAccount
from .state import SandboxState

logger = logging.getLogger(__name__)

Json = dict[str, Any]


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response serialized with orjson."""
    body = orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
    return web.Response(body=body, status=status, headers=headers, content_type="application/json")


class ApiError(Exception):
    """Raised by handlers to answer with a prepared error response."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


@dataclass
class Ctx:
    """What a marketplace handler gets: the caller's account and the parsed body."""

    state: SandboxState
    account: SandboxAccount
    payload: Any
    request: web.Request
    body_size: int


Handler = Callable[[Ctx], web.Response]


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler
    bucket: str


class MarketplaceApi(ABC):
    """One simulated marketplace; the middleware drives it for every request."""

    name: str
    routes: tuple[Route, ...]

    @abstractmethod
    def identify(self, request: web.Request, state: SandboxState) -> SandboxAccount | web.Response:
        """The caller's account, or this marketplace's auth failure answer."""

    @abstractmethod
    def auth_error(self) -> web.Response: ...

    @abstractmethod
    def rate_limited(self, snap: BucketSnapshot) -> web.Response: ...

    @abstractmethod
    def server_error(self, status: int) -> web.Response: ...

    @abstractmethod
    def validation_error(self, message: str) -> web.Response: ...

    @abstractmethod
    def malformed_body(self) -> bytes: ...

    @abstractmethod
    def skus(self, path: str, payload: Any) -> list[str]:
        """Card ids the request is about (for fault matching and the request log)."""

    def too_large(self) -> web.Response:
        return self.validation_error("request body is too large")

    def undecodable(self, message: str) -> web.Response:
        """The answer to a body that is not JSON."""
        return self.validation_error(message)

    @abstractmethod
    def decorate(self, response: web.StreamResponse, snap: BucketSnapshot) -> None:
        """Add this marketplace's rate-limit headers to an answer."""

    def admit(
        self, state: SandboxState, account: SandboxAccount, route: Route, call_payload: Any
    ) -> tuple[bool, BucketSnapshot]:
        """Spend this request's share of its rate limit: (granted, the limit's state afterwards)."""
        return state.limiter.consume(account.name, route.bucket, state.config.rate_spec(route.bucket))

    def peek(self, state: SandboxState, account: SandboxAccount | None, route: Route) -> BucketSnapshot | None:
        """The limit's state for the answer's headers (None: the answer carries none)."""
        spec = state.config.rate_spec(route.bucket)
        if account is None:
            return BucketSnapshot(capacity=spec.burst, remaining=spec.burst, retry_after_s=1, reset_s=0)
        return state.limiter.peek(account.name, route.bucket, spec)

    def parallel_key(self, request: web.Request, account: SandboxAccount) -> str:
        return f"{self.name}:{account.name}"

    def parallel_cap(self, state: SandboxState) -> int | None:
        return None

    def parallel_exceeded(self, request: web.Request, cap: int, snap: BucketSnapshot) -> web.Response:
        return self.rate_limited(snap)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> Json:
    return value if isinstance(value, dict) else {}


def str_ids(values: Any) -> list[str]:
    """Ids from a JSON list as strings (ints and strings alike)."""
    return [str(v) for v in as_list(values) if isinstance(v, str | int) and not isinstance(v, bool)]
