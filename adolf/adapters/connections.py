"""One seller account's HTTP client per marketplace (credentials, account key, limiter, error classification), built
the same way for the content adapters (registry.py) and Scout's trend sources (trends.py). Each returns None when the
marketplace's credentials are not set."""

from __future__ import annotations

import hashlib

import aiohttp

from adolf.adapters import ozon, wb, ym
from adolf.adapters.http import MarketplaceHttp
from adolf.adapters.ratelimit import RateLimiter
from adolf.adapters.ym_limits import YmTraffic
from adolf.settings import Settings

MISSING = {
    "wb": "ADOLF_WB_TOKEN",
    "ozon": "ADOLF_OZON_CLIENT_ID and ADOLF_OZON_API_KEY",
    "ym": "ADOLF_YM_API_KEY and ADOLF_YM_BUSINESS_ID",
}


def fingerprint(secret: str) -> str:
    """Names a seller account in Redis keys and logs without revealing its token."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def wb_http(
    settings: Settings, session: aiohttp.ClientSession, limiter: RateLimiter | None, *, base_url: str
) -> MarketplaceHttp | None:
    if settings.wb_token is None:
        return None
    token = settings.wb_token.get_secret_value()
    return MarketplaceHttp(
        session,
        marketplace="wb",
        base_url=base_url,
        auth_headers={"Authorization": token},
        account=fingerprint(token),
        limiter=limiter,
        classify=wb.classify,
    )


def ozon_http(
    settings: Settings, session: aiohttp.ClientSession, limiter: RateLimiter | None
) -> MarketplaceHttp | None:
    if settings.ozon_client_id is None or settings.ozon_api_key is None:
        return None
    return MarketplaceHttp(
        session,
        marketplace="ozon",
        base_url=settings.ozon_api_url,
        auth_headers={"Client-Id": settings.ozon_client_id, "Api-Key": settings.ozon_api_key.get_secret_value()},
        account=settings.ozon_client_id,
        limiter=limiter,
        classify=ozon.classify,
    )


def ym_http(settings: Settings, session: aiohttp.ClientSession, limiter: RateLimiter | None) -> MarketplaceHttp | None:
    if settings.ym_api_key is None or settings.ym_business_id is None:
        return None
    traffic = None
    if limiter is not None:
        traffic = YmTraffic(
            limiter.redis,
            str(settings.ym_business_id),
            max_parallel=settings.ym_max_parallel,
            max_wait=limiter.max_wait,
        )
    return MarketplaceHttp(
        session,
        marketplace="ym",
        base_url=settings.ym_api_url,
        auth_headers={"Api-Key": settings.ym_api_key.get_secret_value()},
        account=str(settings.ym_business_id),
        limiter=limiter,
        classify=ym.classify,
        traffic=traffic,
    )
