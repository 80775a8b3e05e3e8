from collections.abc import AsyncIterator, Callable

import pytest

from adolf.adapters import Adapters
from adolf.adapters.ratelimit import RateLimiter
from adolf.settings import Settings
from tests.conftest import make_settings


@pytest.fixture
async def build_adapters(redis, sandbox_server) -> AsyncIterator[Callable[..., Adapters]]:
    built: list[Adapters] = []

    def build(**overrides: object) -> Adapters:
        settings: Settings = make_settings(sandbox_server.url, **overrides)
        adapters = Adapters.build(settings, RateLimiter(redis, settings.rate_limits, max_wait=5))
        built.append(adapters)
        return adapters

    yield build
    for adapters in built:
        await adapters.close()


@pytest.fixture
async def adapters(build_adapters) -> Adapters:
    return build_adapters()
