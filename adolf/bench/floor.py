"""The least time the documented limits allow for publishing a catalog, and what the seed's one-card-per-request
design would need under the same limits. Pure arithmetic over the limit table (adolf/limits.py).

A rate-limit bucket with LIMIT requests per PERIOD and a burst of BURST serves N requests, starting full, in
max(0, N - BURST) * PERIOD / LIMIT seconds. A Yandex Market window of AMOUNT units per PERIOD serves N units (offers
for an update, requests otherwise) in (ceil(N / AMOUNT) - 1) * PERIOD seconds. Requests on different buckets go in
parallel, so a plan takes as long as its slowest bucket.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

from adolf.limits import YM_RESOURCE_LIMITS, RateSpec

WB_PAGE = 100  # cards/list page
WB_BATCH = 3000  # cards/update cards per request
WB_BODY = 10 * 1024 * 1024  # cards/update body limit
OZON_READ_IDS = 1000  # /v4/product/info/attributes ids per request
OZON_BATCH = 100  # /v3/product/import items per request


@dataclass(frozen=True)
class Catalog:
    """What one marketplace's publish run has to do."""

    marketplace: str
    cards: int  # cards published
    catalog: int = 0  # cards the seller has there (WB walks them all to read the ones it updates)
    body_bytes: int = 0  # size of the update request elements of all cards (WB's 10 MB limit)


def bucket_seconds(spec: RateSpec, requests: int) -> float:
    return max(0, requests - spec.burst) * spec.period / spec.limit


def window_seconds(spec: RateSpec, units: int) -> float:
    return max(0, math.ceil(units / spec.limit) - 1) * spec.period


def plan_seconds(requests: Counter[str], limits: dict[str, str]) -> float:
    """How long a plan of requests (units, on a YM window) per bucket takes at best (buckets in parallel)."""
    return max(
        (
            (window_seconds if b in YM_RESOURCE_LIMITS else bucket_seconds)(RateSpec.parse(limits[b]), n)
            for b, n in requests.items()
            if n
        ),
        default=0.0,
    )


def batched_requests(c: Catalog) -> Counter[str]:
    """Requests per bucket when cards share requests and reads go in pages."""
    if c.marketplace == "wb":
        updates = max(math.ceil(c.cards / WB_BATCH), math.ceil(c.body_bytes / WB_BODY))
        return Counter({"wb.cards_list": math.ceil(max(c.catalog, c.cards) / WB_PAGE), "wb.cards_update": updates})
    if c.marketplace == "ozon":  # read, import, and at least one poll of each import task, all on one bucket
        imports = math.ceil(c.cards / OZON_BATCH)
        return Counter({"ozon.global": math.ceil(c.cards / OZON_READ_IDS) + 2 * imports})
    if c.marketplace == "ym":  # a partial update needs no read first; its window counts offers, not requests
        return Counter({"ym.offer_mappings_update": c.cards})
    raise ValueError(f"unknown marketplace {c.marketplace!r}")


def one_card_requests(c: Catalog) -> Counter[str]:
    """Requests per bucket in the seed's design: every card read and updated on its own."""
    if c.marketplace == "wb":
        return Counter({"wb.cards_list": c.cards, "wb.cards_update": c.cards})
    if c.marketplace == "ozon":
        return Counter({"ozon.global": 3 * c.cards})
    if c.marketplace == "ym":
        return Counter({"ym.offer_mappings_update": c.cards})
    raise ValueError(f"unknown marketplace {c.marketplace!r}")


def floor_seconds(c: Catalog, limits: dict[str, str]) -> float:
    return plan_seconds(batched_requests(c), limits)


def one_card_per_request_seconds(c: Catalog, limits: dict[str, str]) -> float:
    return plan_seconds(one_card_requests(c), limits)
