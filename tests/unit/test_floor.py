"""The floor the documented limits allow, computed from the same limit table as the limiter and the simulator."""

import pytest

from adolf.bench.floor import Catalog, floor_seconds, one_card_per_request_seconds
from adolf.limits import DOCUMENTED_RATE_LIMITS, YM_RESOURCE_LIMITS


def test_wb_is_bound_by_walking_its_catalog_100_cards_a_page():
    ten_thousand = Catalog("wb", cards=10_000, catalog=10_000, body_bytes=20 * 1024 * 1024)
    # 100 list pages at 100/min with a burst of 5 -> 95 * 0.6 s; 4 updates fit in the update burst of 5
    assert floor_seconds(ten_thousand, DOCUMENTED_RATE_LIMITS) == pytest.approx(57.0)
    # one card per request: 10,000 updates at 10/min -> (10,000 - 5) * 6 s, about 16.7 hours
    assert one_card_per_request_seconds(ten_thousand, DOCUMENTED_RATE_LIMITS) == pytest.approx(59_970.0)


def test_a_large_catalog_makes_updates_the_bound_when_they_outgrow_the_burst():
    cards = Catalog("wb", cards=30_000, catalog=30_000, body_bytes=0)
    # reads: 300 pages -> 177 s; updates: 10 requests -> 5 beyond the burst -> 30 s
    assert floor_seconds(cards, DOCUMENTED_RATE_LIMITS) == pytest.approx(177.0)
    assert floor_seconds(cards, {**DOCUMENTED_RATE_LIMITS, "wb.cards_list": "1000/60:5"}) == pytest.approx(30.0)


LIMITS = {**DOCUMENTED_RATE_LIMITS, **YM_RESOURCE_LIMITS}


def test_ozon_fits_its_burst_in_batches_but_not_one_card_at_a_time():
    assert floor_seconds(Catalog("ozon", cards=1000), LIMITS) == 0.0
    assert one_card_per_request_seconds(Catalog("ozon", cards=1000), LIMITS) == pytest.approx(59.0)


def test_ym_windows_count_offers_whatever_the_requests():
    # 5000 offers a minute: 1000 fit the first window, 12,000 need two more
    assert floor_seconds(Catalog("ym", cards=1000), LIMITS) == 0.0
    assert floor_seconds(Catalog("ym", cards=12_000), LIMITS) == pytest.approx(120.0)
    assert one_card_per_request_seconds(Catalog("ym", cards=12_000), LIMITS) == pytest.approx(120.0)
