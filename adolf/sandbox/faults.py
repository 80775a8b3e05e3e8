"""Injected faults: what can be injected and which request a fault applies to."""

from __future__ import annotations

import itertools
import logging
import random
from typing import Literal

from pydantic import BaseModel, Field

logger = logging.getLogger(__name__)

FaultKind = Literal["server_error", "timeout", "malformed", "auth", "rate_limit", "validation", "disconnect"]
Marketplace = Literal["wb", "ozon", "ym"]


class FaultSpec(BaseModel):
    """Body of ``POST /__sandbox/faults``."""

    kind: FaultKind
    marketplace: Marketplace | None = None
    path_contains: str | None = None
    sku: str | None = None
    times: int = Field(default=1, ge=0)
    probability: float = Field(default=1.0, ge=0.0, le=1.0)
    status: int | None = Field(default=None, ge=100, le=599)
    delay_s: float | None = Field(default=None, ge=0)


class Fault:
    """A registered fault; ``remaining`` is None when it fires without limit."""

    def __init__(self, fault_id: int, spec: FaultSpec) -> None:
        self.id = fault_id
        self.spec = spec
        self.remaining: int | None = spec.times or None
        self.fired = 0

    def matches(self, marketplace: str, path: str, skus: list[str]) -> bool:
        spec = self.spec
        if spec.marketplace is not None and spec.marketplace != marketplace:
            return False
        if spec.path_contains is not None and spec.path_contains not in path:
            return False
        return spec.sku is None or spec.sku in skus

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, **self.spec.model_dump(), "remaining": self.remaining, "fired": self.fired}


class FaultRegistry:
    """Faults in the order they were added; the first one that matches and fires wins.

    Used-up faults stay listed (``remaining: 0``) until the registry is cleared.
    """

    def __init__(self, rng: random.Random | None = None) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)
        self._rng = rng or random.Random()

    def add(self, spec: FaultSpec) -> Fault:
        fault = Fault(next(self._ids), spec)
        self._faults.append(fault)
        logger.info("sandbox fault %s added: %s", fault.id, spec.model_dump(exclude_none=True))
        return fault

    def clear(self) -> None:
        self._faults.clear()

    def list(self) -> list[Fault]:
        return list(self._faults)

    def take(self, marketplace: str, path: str, skus: list[str]) -> Fault | None:
        """Return the fault that fires for this request (consuming one of its ``times``)."""
        for fault in self._faults:
            if fault.remaining == 0 or not fault.matches(marketplace, path, skus):
                continue
            if self._rng.random() >= fault.spec.probability:
                continue
            fault.fired += 1
            if fault.remaining is not None:
                fault.remaining -= 1
            return fault
        return None
