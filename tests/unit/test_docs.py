"""The docs that users copy from stay true to the code."""

from pathlib import Path

from adolf.lanes import LANES
from adolf.settings import Settings
from adolf.workers import LANE_CLASSES
from adolf.workers.catalog import REGISTRY

ROOT = Path(__file__).resolve().parents[2]


def _env_example_keys() -> set[str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return {line.split("=", 1)[0] for line in lines if line.strip() and not line.startswith("#")}


def test_env_example_lists_every_setting_and_nothing_else():
    keys = _env_example_keys()
    expected = {f"ADOLF_{name.upper()}" for name in Settings.model_fields if name != "concurrency"}
    expected |= {f"ADOLF_CONCURRENCY__{lane.upper()}" for lane in LANES}
    assert keys == expected


def test_env_example_values_are_the_defaults_and_parse():
    values = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    settings = Settings(_env_file=ROOT / ".env.example")
    defaults = Settings(_env_file=None)
    for name in ("redis_url", "database_url", "timezone", "wb_content_url", "rate_limits", "retry_delays"):
        assert getattr(settings, name) == getattr(defaults, name), name
    assert {lane: settings.lane_concurrency(lane) for lane in LANES} == {
        lane: spec.default_concurrency for lane, spec in LANES.items()
    }
    assert values["ADOLF_WB_TOKEN"] == "" and settings.wb_token is None and settings.ym_business_id is None


def test_readme_names_every_lane_class_and_every_job():
    readme = (ROOT / "README.md").read_text()
    for name in (*LANE_CLASSES, *REGISTRY.jobs):
        assert name in readme, name
