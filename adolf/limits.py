"""The marketplaces' documented rate limits (research/marketplaces.md), one spec format for the whole product.

A spec is "LIMIT/PERIOD_SECONDS:BURST": LIMIT requests per PERIOD, in bursts of up to BURST (default 1). The
client-side limiter and the simulator both read DOCUMENTED_RATE_LIMITS (WB per seller account, Ozon per Client-Id).

Yandex Market meters differently: each method, per business, gets AMOUNT units per window of PERIOD seconds, a unit
being a request or an item of the request's collection, and every answer (2xx and 4xx alike) reports the window in
its X-RateLimit-Resource-Limit / -Remaining / -Until headers. YM_RESOURCE_LIMITS are the documented amounts
(getOfferMappings from research 3.5, the others the lowest tier of the official OpenAPI's x-resource-limit-config),
which the simulator enforces; our client has no table for YM and learns the windows from the headers
(adolf/adapters/ym_limits.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCUMENTED_RATE_LIMITS: dict[str, str] = {
    "wb.cards_update": "10/60:5",
    "wb.cards_list": "100/60:5",
    "wb.cards_errors": "10/60:5",
    "ozon.global": "50/1:50",
    # Scout's trend sources (research 1.6/1.7, 2.5): WB analytics 3 a minute, interval 20 s, burst 3 (per method and
    # seller); Ozon's /v1/analytics/data 1 a minute (on top of ozon.global)
    "wb.funnel_history": "3/60:3",
    "wb.search_texts": "3/60:3",
    "ozon.analytics_data": "1/60:1",
}

YM_RESOURCE_LIMITS: dict[str, str] = {
    "ym.offer_mappings_update": "5000/60",  # updateOfferMappings: offers sent (req.offerMappings)
    "ym.offer_mappings": "600/60",  # getOfferMappings: requests (research 3.5)
    "ym.category_parameters": "100/60",  # getCategoryContentParameters: requests
    "ym.reports_shows_sales": "10/3600",  # generateShowsSalesReport: 10 requests an hour (official OpenAPI)
    "ym.reports_info": "100/60",  # getReportInfo: 100 requests a minute (official OpenAPI)
}

_SPEC = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*(?::\s*(\d+))?\s*$")


@dataclass(frozen=True)
class RateSpec:
    limit: float
    period: float
    burst: int

    @classmethod
    def parse(cls, text: str) -> RateSpec:
        match = _SPEC.match(text)
        if match is None:
            raise ValueError(f"rate limit {text!r} is not LIMIT/PERIOD_SECONDS[:BURST]")
        spec = cls(float(match[1]), float(match[2]), int(match[3] or 1))
        if spec.limit <= 0 or spec.period <= 0 or spec.burst < 1:
            raise ValueError(f"rate limit {text!r} needs LIMIT > 0, PERIOD > 0, BURST >= 1")
        return spec

    @property
    def rate(self) -> float:
        """Requests per second."""
        return self.limit / self.period


def scaled(specs: dict[str, str], speed: float) -> dict[str, str]:
    """The same limits on a clock running `speed` times faster (for tests and benchmarks: apply to both sides)."""
    out = {}
    for bucket, text in specs.items():
        spec = RateSpec.parse(text)
        out[bucket] = f"{spec.limit:g}/{spec.period / speed:g}:{spec.burst}"
    return out
