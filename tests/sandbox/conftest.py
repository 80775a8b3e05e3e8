"""Fixtures for the marketplace simulator tests: a live sandbox on loopback and a client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from adolf.limits import DOCUMENTED_RATE_LIMITS
from adolf.sandbox import SandboxConfig, SandboxServer, start_sandbox

from .helpers import APPLY_DELAY_S, Client

# Roomy limits so polling tests never hit them; rate-limit tests shrink one bucket via PUT /__sandbox/config.
ROOMY_LIMITS = {bucket: "1000/1:1000" for bucket in DOCUMENTED_RATE_LIMITS}


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    config = SandboxConfig(apply_delay_s=APPLY_DELAY_S, timeout_fault_delay_s=5, rate_limits=ROOMY_LIMITS)
    server = await start_sandbox(config)
    try:
        yield server
    finally:
        await server.close()


@pytest.fixture
async def client(sandbox: SandboxServer) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield Client(session, sandbox)
