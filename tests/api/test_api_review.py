"""Review: the API answers malformed input with 4xx JSON, never 5xx."""

from __future__ import annotations

import pytest

from tests.api.test_api import api, bearer, tokens  # noqa: F401  (fixtures)


@pytest.mark.parametrize(
    "path",
    [
        "/jobs?sku=A%00B",
        "/jobs?name=a%00b",
        "/jobs?status=%00",
        "/jobs?lane=%00",
        "/jobs/a%00b",
        "/jobs?since=2024-01-01T00:00:00",  # no offset
        "/jobs?since=0001-01-01T00:00:00%2B14:00",
        "/failed?job=a%00b",
        "/active?lane=%00",
        "/active?limit=0",
    ],
)
async def test_odd_queries_are_never_5xx(api, tokens, path):  # noqa: F811
    async with api.get(path, headers=bearer(tokens["read"])) as response:
        assert response.status < 500, await response.text()
        assert response.content_type == "application/json"


@pytest.mark.parametrize("path", ["/jobs/a%00b/retry", "/jobs/a%00b/abort", "/failed/1%00/retry"])
async def test_odd_writes_are_never_5xx(api, tokens, path):  # noqa: F811
    async with api.post(path, headers=bearer(tokens["write"])) as response:
        assert response.status < 500, await response.text()
    async with api.post(path, headers=bearer(tokens["read"])) as response:
        assert response.status == 403
