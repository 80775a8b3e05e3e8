import logging

import orjson
import pytest
from pydantic import ValidationError

from adolf.limits import DOCUMENTED_RATE_LIMITS
from adolf.logs import JsonFormatter, SecretMasker, log_context
from adolf.settings import Settings
from adolf.workers.arq_seam import redis_settings


def test_settings_read_adolf_env(monkeypatch):
    monkeypatch.setenv("ADOLF_REDIS_URL", "redis://example:6390/3")
    monkeypatch.setenv("ADOLF_CONCURRENCY__CONTENT_HIGH", "7")
    monkeypatch.setenv("ADOLF_RATE_LIMITS", '{"wb.cards_update": "20/60:5"}')
    monkeypatch.setenv("ADOLF_WB_TOKEN", "secret-token-value")
    monkeypatch.setenv("ADOLF_REDIS_SENTINELS", "10.0.0.1:26379, 10.0.0.2:26379")
    settings = Settings(_env_file=None)
    redis = redis_settings(settings)
    assert (redis.host, redis.sentinel, redis.sentinel_master, redis.database) == (
        [("10.0.0.1", 26379), ("10.0.0.2", 26379)],
        True,
        "mymaster",
        3,
    )
    assert settings.lane_concurrency("content_high") == 7
    assert settings.lane_concurrency("scout_heavy") == 2
    assert settings.rate_limits == {**DOCUMENTED_RATE_LIMITS, "wb.cards_update": "20/60:5"}
    assert "secret-token-value" not in repr(settings)
    assert settings.secret_values() == ["secret-token-value"]


def test_unknown_lane_and_timezone_are_rejected():
    with pytest.raises(ValidationError, match="unknown lanes"):
        Settings(_env_file=None, concurrency={"content_hgh": 3})
    with pytest.raises(ValidationError):
        Settings(_env_file=None, timezone="Mars/Olympus")


def test_json_log_lines_carry_job_context_and_no_secrets():
    formatter = JsonFormatter(SecretMasker(["tok-123456"]))
    record = logging.LogRecord("adolf.x", logging.INFO, __file__, 1, "sent with %s", ("tok-123456",), None)
    record.duration_ms = 12.5
    with log_context(job_id="j1", job_name="content_factory.tasks.publish_content", tries=2):
        line = orjson.loads(formatter.format(record))
    assert line["msg"] == "sent with ***"
    assert (line["job_id"], line["tries"], line["duration_ms"], line["level"]) == ("j1", 2, 12.5, "INFO")


def test_infrastructure_errors_include_database_timeouts_but_not_marketplace_ones():
    import asyncpg

    from adolf.errors import Timeout, is_infra_error

    assert is_infra_error(TimeoutError()) and is_infra_error(ConnectionRefusedError())
    assert is_infra_error(asyncpg.exceptions.CannotConnectNowError("starting up"))
    assert not is_infra_error(Timeout("WB did not answer")) and not is_infra_error(ValueError())
