"""Configuration of the marketplace simulator (accounts, latency, limits, apply delay)."""

from __future__ import annotations

import logging

from pydantic import BaseModel, Field, field_validator

from adolf.limits import DOCUMENTED_RATE_LIMITS, YM_RESOURCE_LIMITS, RateSpec

logger = logging.getLogger(__name__)


class SandboxAccount(BaseModel):
    """One seller, known to all three simulated marketplaces."""

    name: str = "default"
    wb_token: str = "sandbox-wb-token"
    ozon_client_id: str = "100500"
    ozon_api_key: str = "sandbox-ozon-key"
    ym_api_key: str = "sandbox-ym-key"
    ym_business_id: int = 777


class SandboxConfig(BaseModel):
    """Settings of one simulator instance."""

    host: str = "127.0.0.1"
    port: int = 0
    latency_ms: float = Field(default=0, ge=0)
    apply_delay_s: float = Field(default=0.5, ge=0)
    rate_limits: dict[str, str] = Field(default_factory=lambda: dict(DOCUMENTED_RATE_LIMITS))
    ym_max_parallel: int = Field(default=4, ge=1)
    ym_limits: dict[str, str] = Field(default_factory=lambda: dict(YM_RESOURCE_LIMITS))  # "AMOUNT/PERIOD" windows
    ozon_daily_update_limit: int = Field(default=100_000, ge=0)  # products a day (/v4/product/info/limit)
    accounts: list[SandboxAccount] = Field(default_factory=lambda: [SandboxAccount()])
    timeout_fault_delay_s: float = Field(default=30, ge=0)
    log_bodies: bool = False  # the request log keeps each request's JSON body and the answer's

    @field_validator("rate_limits")
    @classmethod
    def _check_rate_limits(cls, value: dict[str, str]) -> dict[str, str]:
        for spec in value.values():
            RateSpec.parse(spec)
        return {**DOCUMENTED_RATE_LIMITS, **value}

    @field_validator("ym_limits")
    @classmethod
    def _check_ym_limits(cls, value: dict[str, str]) -> dict[str, str]:
        for spec in value.values():
            RateSpec.parse(spec)
        return {**YM_RESOURCE_LIMITS, **value}

    @field_validator("accounts")
    @classmethod
    def _check_accounts(cls, value: list[SandboxAccount]) -> list[SandboxAccount]:
        if not value:
            raise ValueError("at least one account is required")
        for attr in ("name", "wb_token", "ozon_api_key", "ym_api_key", "ym_business_id"):
            seen = [getattr(account, attr) for account in value]
            if len(set(seen)) != len(seen):
                raise ValueError(f"accounts must have distinct {attr}")
        return value

    def rate_spec(self, bucket: str) -> RateSpec:
        return RateSpec.parse(self.rate_limits[bucket])

    def ym_window(self, bucket: str) -> RateSpec:
        return RateSpec.parse(self.ym_limits[bucket])


class Accounts:
    """Look-ups of accounts by their credentials (built once per config)."""

    def __init__(self, accounts: list[SandboxAccount]) -> None:
        self.by_name = {account.name: account for account in accounts}
        self.by_wb_token = {account.wb_token: account for account in accounts}
        self.by_ozon_key = {account.ozon_api_key: account for account in accounts}
        self.by_ym_key = {account.ym_api_key: account for account in accounts}
