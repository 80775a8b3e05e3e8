"""The one settings object. Built at the edge (CLI, arq settings module, tests) and passed down."""

from __future__ import annotations

import logging
from functools import cached_property
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from adolf.lanes import LANES
from adolf.limits import DOCUMENTED_RATE_LIMITS, RateSpec

logger = logging.getLogger(__name__)


class Settings(BaseSettings):
    # .env.local (written by scripts/devservices.py for the throwaway servers it starts) is read after .env, so its
    # values win over .env's; the environment wins over both
    model_config = SettingsConfigDict(
        env_prefix="ADOLF_",
        env_file=(".env", ".env.local"),
        env_nested_delimiter="__",
        env_ignore_empty=True,
        extra="ignore",
    )

    # --- infrastructure
    redis_url: str = "redis://127.0.0.1:6379/0"
    # Redis Sentinel: "host:port" of each sentinel; the master's address then comes from them (redis_url gives the
    # database number and password)
    redis_sentinels: Annotated[list[str], NoDecode] = Field(default_factory=list)
    redis_sentinel_master: str = "mymaster"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/adolf"
    db_pool_max: int = 10
    timezone: str = "Europe/Moscow"

    # --- worker
    concurrency: dict[str, int] = Field(default_factory=dict)
    poll_delay: float = 2.0  # an idle lane's fallback poll; enqueues through ADOLF wake idle lanes at once
    keep_result_seconds: int = 86_400
    job_lease_seconds: float = 10.0
    health_check_interval: float = 10.0
    shutdown_grace_seconds: float = 25.0
    retry_delays: tuple[float, ...] = (60.0, 120.0, 300.0)
    health_port: int = 8081
    api_host: str = "127.0.0.1"  # `adolf api`
    api_port: int = 8080
    job_history: bool = True  # every job run is a row of job_runs (false: no history, e.g. to compare its cost)
    job_history_days: int = Field(default=30, ge=1)  # job_runs older than this are deleted daily

    # --- Content Factory time limits (seed §7.4/§7.7)
    publish_soft_timeout: float = 90.0
    publish_hard_timeout: float = 120.0
    sync_timeout: float = 300.0

    # --- marketplaces
    wb_content_url: str = "https://content-api.wildberries.ru"
    wb_analytics_url: str = "https://seller-analytics-api.wildberries.ru"  # Scout's trend data (research 1.7)
    wb_token: SecretStr | None = None
    ozon_api_url: str = "https://api-seller.ozon.ru"
    ozon_client_id: str | None = None
    ozon_api_key: SecretStr | None = None
    ym_api_url: str = "https://api.partner.market.yandex.ru"
    ym_api_key: SecretStr | None = None
    ym_business_id: int | None = None
    ym_max_parallel: int = Field(default=4, ge=1)
    http_timeout: float = 30.0
    ozon_import_wait: float = 30.0
    rate_limits: dict[str, str] = Field(default_factory=lambda: dict(DOCUMENTED_RATE_LIMITS))
    rate_limit_max_wait: float = 20.0
    batch_window: float = Field(default=0.25, ge=0)
    wb_catalog_ttl: float = Field(default=300.0, ge=0)

    # --- Scout (SPEC section 5)
    reports_dir: str = "reports"  # where export_report writes its files
    scout_pool_workers: int = Field(default=2, ge=1)  # processes doing the analyses' numeric work
    scout_history_weeks: int = Field(default=156, ge=1)  # how far back update_trend_data reads a new niche
    scout_report_wait: float = Field(default=120.0, gt=0)  # how long YM report generation is waited for

    # --- notifications and alerts
    telegram_bot_token: SecretStr | None = None
    telegram_chat_id: str | None = None
    telegram_api_url: str = "https://api.telegram.org"
    slack_webhook_url: SecretStr | None = None
    notify_poll_interval: float = 2.0
    office_dashboard_url: str | None = None

    # --- logging
    log_level: str = "INFO"
    log_format: str = "json"

    @field_validator("concurrency")
    @classmethod
    def _known_lanes(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = set(value) - set(LANES)
        if unknown:
            raise ValueError(f"unknown lanes {sorted(unknown)}; lanes are {list(LANES)}")
        return value

    @field_validator("redis_sentinels", mode="before")
    @classmethod
    def _split_sentinels(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().startswith("["):
                return orjson.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("rate_limits")
    @classmethod
    def _merge_rate_limits(cls, value: dict[str, str]) -> dict[str, str]:
        for spec in value.values():
            RateSpec.parse(spec)
        ignored = sorted(bucket for bucket in value if bucket.startswith("ym."))
        if ignored:
            logger.warning("ADOLF_RATE_LIMITS: %s ignored, Yandex Market's limits are read from its headers", ignored)
        return {**DOCUMENTED_RATE_LIMITS, **{b: s for b, s in value.items() if b not in ignored}}

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {value!r}") from None
        return value

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def lane_concurrency(self, lane: str) -> int:
        return self.concurrency.get(lane, LANES[lane].default_concurrency)

    def secret_values(self) -> list[str]:
        """Every configured secret, for masking in logs."""
        secrets = [self.wb_token, self.ozon_api_key, self.ym_api_key, self.telegram_bot_token, self.slack_webhook_url]
        return [s.get_secret_value() for s in secrets if s is not None and s.get_secret_value()]
