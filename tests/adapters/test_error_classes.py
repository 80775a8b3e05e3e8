"""Every injected fault, on every marketplace, maps to its SPEC error code."""

import pytest

from adolf.adapters import CardContent

CONTENT = CardContent(title="Кружка", description="Описание")
FAULTS = {
    "server_error": ("API_ERROR", True),
    "malformed": ("API_ERROR", True),
    "disconnect": ("API_ERROR", True),
    "timeout": ("TIMEOUT", True),
    "rate_limit": ("RATE_LIMIT", True),
    "validation": ("VALIDATION_ERROR", False),
    "auth": ("AUTH_ERROR", False),
}


@pytest.mark.parametrize("marketplace_name", ["wb", "ozon", "ym"])
@pytest.mark.parametrize("kind", list(FAULTS))
async def test_fault_maps_to_its_code(kind, marketplace_name, marketplace, build_adapters):
    await marketplace.seed(marketplace_name, {"sku": "F", "title": "t", "description": "d"})
    await marketplace.fault(kind=kind, marketplace=marketplace_name, times=0, delay_s=2)
    adapter = build_adapters(http_timeout=0.5).get_adapter(marketplace_name)
    result = await adapter.update_card("F", CONTENT)
    assert (result.success, result.error_code, result.recoverable) == (False, *FAULTS[kind])
    if kind == "rate_limit":
        assert result.retry_after is not None and result.retry_after > 0


@pytest.mark.parametrize("marketplace_name", ["wb", "ozon", "ym"])
async def test_a_server_error_on_read_raises_a_classified_error(marketplace_name, marketplace, adapters):
    from adolf.errors import ApiError

    await marketplace.fault(kind="server_error", marketplace=marketplace_name, status=503, times=0)
    with pytest.raises(ApiError):
        await adapters.get_adapter(marketplace_name).get_card("X")


async def test_an_unconfigured_marketplace_fails_with_a_clear_auth_error(build_adapters):
    result = await build_adapters(wb_token=None).get_adapter("wb").update_card("X", CONTENT)
    assert result.error_code == "AUTH_ERROR" and "ADOLF_WB_TOKEN" in result.error_message


@pytest.mark.parametrize("marketplace_name", ["wb", "ozon"])
async def test_a_whole_request_refused_without_naming_a_card_is_split_until_the_bad_one_fails_alone(
    marketplace_name, marketplace, adapters
):
    from adolf.adapters import CardUpdate

    skus = [f"S-{i}" for i in range(6)]
    await marketplace.seed(marketplace_name, *({"sku": sku, "title": "t", "description": "d"} for sku in skus))
    update = {"wb": "cards/update", "ozon": "product/import"}[marketplace_name]
    await marketplace.fault(kind="validation", marketplace=marketplace_name, path_contains=update, sku="S-4", times=0)
    results = await adapters.get_adapter(marketplace_name).update_cards(
        [CardUpdate(sku=sku, content=CONTENT) for sku in skus]
    )
    assert [(r.sku, r.success) for r in results] == [(sku, sku != "S-4") for sku in skus]
    assert results[4].error_code == "VALIDATION_ERROR"
    sent = await marketplace.control("GET", f"/requests?path_contains={update}")
    assert len(sent) > 2 and sent[0]["status"] == 400  # refused whole, then halved until S-4 stood alone
