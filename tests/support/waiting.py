"""Polls with a deadline: the way tests wait for other processes and background work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from adolf.bench.harness import until

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T]], *, timeout: float = 10.0, interval: float = 0.05, what: str = "condition"
) -> T:
    """Return check()'s first truthy value; fail the test if none comes within `timeout` seconds."""
    value = await until(check, timeout=timeout, interval=interval)
    if not value:
        raise AssertionError(f"{what} not reached within {timeout}s (last value: {value!r})")
    return value
