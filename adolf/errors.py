"""ADOLF's one exception tree. Foreign errors (HTTP statuses, aiohttp, asyncpg, redis) are mapped onto it once,
at the boundary where they occur (adapters, db, workers), and nothing above looks at a status code again.

Our exception hierarchy::

    AdolfError                        code            recoverable
    ├── MarketplaceError
    │   ├── RateLimited               RATE_LIMIT      yes   (retry_after from the marketplace's headers)
    │   ├── Timeout                   TIMEOUT         yes
    │   ├── ApiError                  API_ERROR       yes   (5xx, connection reset, malformed body)
    │   ├── QuotaExhausted            DAILY_QUOTA     waited out: the job runs again when the quota resets
    │   ├── ValidationFailed          VALIDATION_ERROR no   (400/413/422, rejected content)
    │   ├── NotFound                  NOT_FOUND       no
    │   └── AuthFailed                AUTH_ERROR      no    (401/403, Ozon's 404 "Invalid Api-Key")
    ├── InfraError                    INFRA_ERROR     yes   (Redis or PostgreSQL unreachable), alerts
    ├── InvalidJobArgs                INVALID_ARGS    no    (a malformed job: never retried)
    ├── JobTimedOut                   TIMEOUT         no    (the job's hard time limit)
    ├── JobAborted                    ABORTED         no    (an operator aborted it: API, dashboard, CLI)
    ├── RetryLater                    (its cause's)   yes   a job reports a recoverable failure by code
    └── Deferred                      (control flow)  the job runs again later and that costs no try
                                                        (a rate-limit slot or a busy resource is far away)

Only the job wrapper (adolf/workers/execution.py) turns these into a retry or a final failure.
"""

from __future__ import annotations

from typing import Any, ClassVar

import asyncpg
import redis.exceptions


class AdolfError(Exception):
    """Base of every error ADOLF raises on purpose."""

    code: ClassVar[str] = "ERROR"
    recoverable: ClassVar[bool] = False

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class MarketplaceError(AdolfError):
    """A marketplace API call failed; `code` says how. `details` keeps the marketplace's own account of it."""

    def __init__(self, message: str, *, retry_after: float | None = None, details: Any = None) -> None:
        super().__init__(message, retry_after=retry_after)
        self.details = details


class RateLimited(MarketplaceError):
    """The marketplace (or our shared limiter) says: not now."""

    code = "RATE_LIMIT"
    recoverable = True


class Timeout(MarketplaceError):
    """The marketplace did not answer in time (or the job's soft time limit was reached)."""

    code = "TIMEOUT"
    recoverable = True


class ApiError(MarketplaceError):
    """5xx, a dropped connection or an unreadable body: worth another try."""

    code = "API_ERROR"
    recoverable = True


class QuotaExhausted(MarketplaceError):
    """A daily quota (Ozon's product updates) is used up until `retry_after`: the card waits it out, costing no try."""

    code = "DAILY_QUOTA"
    recoverable = True


class ValidationFailed(MarketplaceError):
    """The marketplace rejected the request or the card's content."""

    code = "VALIDATION_ERROR"


class NotFound(MarketplaceError):
    """The card (or resource) does not exist on the marketplace."""

    code = "NOT_FOUND"


class AuthFailed(MarketplaceError):
    """Missing, invalid, expired or under-privileged credentials."""

    code = "AUTH_ERROR"


class InfraError(AdolfError):
    """Redis or PostgreSQL is unreachable: retried with backoff, and an alert goes out."""

    code = "INFRA_ERROR"
    recoverable = True


class InvalidJobArgs(AdolfError):
    """A job's arguments failed validation: it fails at once and is never retried."""

    code = "INVALID_ARGS"


class JobTimedOut(AdolfError):
    """The job ran past its hard time limit."""

    code = "TIMEOUT"


class JobAborted(AdolfError):
    """An operator aborted the job (`POST /jobs/{id}/abort`, the dashboard, `adolf job abort ID`): it stops where it
    is and fails for good, as a dead letter that can be retried."""

    code = "ABORTED"


class RetryLater(AdolfError):
    """A recoverable failure a job reports by its code (the wrapper retries it like the error it names)."""

    recoverable = True

    def __init__(self, cause_code: str, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, retry_after=retry_after)
        self.cause_code = cause_code

    def __str__(self) -> str:
        return f"{self.cause_code}: {self.message}"


class Deferred(AdolfError):
    """Not a failure: the job should run again in `delay` seconds, and that run costs no try (its marketplace slot
    is far away, or another run holds what it needs)."""

    code = "DEFERRED"

    def __init__(self, message: str, *, delay: float) -> None:
        super().__init__(message)
        self.delay = max(0.0, delay)


MARKETPLACE_ERRORS: dict[str, type[MarketplaceError]] = {
    cls.code: cls for cls in (RateLimited, Timeout, ApiError, QuotaExhausted, ValidationFailed, NotFound, AuthFailed)
}


def marketplace_error(code: str, message: str, *, retry_after: float | None = None) -> AdolfError:
    """The error a per-card failure code stands for (an unknown code is a recoverable RetryLater of that code)."""
    cls = MARKETPLACE_ERRORS.get(code)
    if cls is None:
        return RetryLater(code, message, retry_after=retry_after)
    return cls(message, retry_after=retry_after)


def is_recoverable(code: str | None) -> bool:
    cls = MARKETPLACE_ERRORS.get(code or "")
    return code == InfraError.code or (cls is not None and cls.recoverable)


def is_infra_error(exc: BaseException) -> bool:
    """True for a lost connection to Redis or PostgreSQL (or an InfraError already mapped)."""
    return isinstance(exc, _INFRA_EXCEPTIONS)


_INFRA_EXCEPTIONS = (
    InfraError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.InterfaceError,
    # a connection broken mid-query leaves its protocol in a state it cannot leave ("cannot switch to state 15")
    asyncpg.exceptions.InternalClientError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    ConnectionError,
    # asyncpg's command and connect timeouts; marketplace timeouts are mapped to Timeout before they get here
    TimeoutError,
)


def error_code_of(exc: BaseException) -> str | None:
    """The SPEC error code an exception stands for, if any."""
    code = getattr(exc, "cause_code", None) or getattr(exc, "code", None)
    if code is None and is_infra_error(exc):
        return InfraError.code
    return code if isinstance(code, str) else None
