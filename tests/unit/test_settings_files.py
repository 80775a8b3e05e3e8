"""Where settings come from: the environment, then .env.local (the throwaway servers' URLs), then .env."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from adolf.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith("ADOLF_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_env_local_is_read_after_env_and_the_environment_wins_over_both(clean_env: Path, monkeypatch):
    (clean_env / ".env").write_text(
        "ADOLF_DATABASE_URL=postgresql://from-env/adolf\nADOLF_REDIS_URL=redis://from-env:6379/0\n"
        "ADOLF_TIMEZONE=Europe/Berlin\nADOLF_HEALTH_PORT=9001\n"
    )
    assert Settings().database_url == "postgresql://from-env/adolf"

    (clean_env / ".env.local").write_text(
        "ADOLF_DATABASE_URL=postgresql://from-env-local/adolf\nADOLF_REDIS_URL=redis://from-env-local:1/0\n"
        "ADOLF_HEALTH_PORT=9002\n"
    )
    monkeypatch.setenv("ADOLF_HEALTH_PORT", "9003")
    settings = Settings()
    assert settings.database_url == "postgresql://from-env-local/adolf"  # .env.local over .env
    assert settings.redis_url == "redis://from-env-local:1/0"
    assert settings.timezone == "Europe/Berlin"  # .env still gives what .env.local does not
    assert settings.health_port == 9003  # the environment over both


def test_env_local_alone_is_enough(clean_env: Path):
    (clean_env / ".env.local").write_text("ADOLF_REDIS_URL=redis://only-local:6380/2\n")
    assert Settings().redis_url == "redis://only-local:6380/2"


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again: nothing answers there


def test_devservices_writes_the_throwaway_urls_to_env_local_prints_them_and_down_removes_only_them(tmp_path: Path):
    """A copy of scripts/devservices.py in a scratch checkout: configured Redis dead, so it starts one."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "devservices.py", tmp_path / "scripts" / "devservices.py")
    user_lines = "# mine\nADOLF_LOG_FORMAT=text\n"
    (tmp_path / ".env.local").write_text(user_lines)
    database_url = os.environ["ADOLF_TEST_DATABASE_URL"]  # answers: only Redis is started (fast, no initdb)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADOLF_")}
    env.update(ADOLF_DATABASE_URL=database_url, ADOLF_REDIS_URL=f"redis://127.0.0.1:{_dead_port()}/0")
    script = [sys.executable, str(tmp_path / "scripts" / "devservices.py")]

    up = subprocess.run([*script, "up"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert up.returncode == 0, up.stderr
    exported = dict(
        line.removeprefix("export ").split("=", 1) for line in up.stdout.splitlines() if line.startswith("export ")
    )
    exported = {name: value.strip("'") for name, value in exported.items()}
    state = json.loads(Path(exported["ADOLF_SERVICES_STATE"]).read_text())
    try:
        redis_url = exported["ADOLF_REDIS_URL"]
        assert redis_url.startswith("redis://127.0.0.1:") and redis_url != env["ADOLF_REDIS_URL"]
        assert f"ADOLF_REDIS_URL={redis_url}" in up.stderr and f"ADOLF_DATABASE_URL={database_url}" in up.stderr

        written = (tmp_path / ".env.local").read_text()
        assert written.startswith(user_lines)  # the user's own lines stay
        assert f"ADOLF_REDIS_URL={redis_url}\n" in written and f"ADOLF_DATABASE_URL={database_url}\n" in written

        # what a second terminal's `adolf` reads there (no ADOLF_* in its environment)
        read = subprocess.run(
            [sys.executable, "-c", "from adolf.settings import Settings; s = Settings(); print(s.redis_url)"],
            env={k: v for k, v in env.items() if not k.startswith("ADOLF_")} | {"PYTHONPATH": str(ROOT)},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert read.stdout.strip() == redis_url
    finally:
        down = subprocess.run(
            [*script, "down"],
            env={**env, "ADOLF_SERVICES_STATE": exported["ADOLF_SERVICES_STATE"]},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert down.returncode == 0, down.stderr
    assert (tmp_path / ".env.local").read_text() == user_lines
    assert [server["kind"] for server in state["servers"]] == ["redis"]
    assert not Path(exported["ADOLF_SERVICES_STATE"]).exists()

    # with nothing of the user's there, down leaves no file behind
    (tmp_path / ".env.local").unlink()
    up = subprocess.run([*script, "up"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert up.returncode == 0, up.stderr
    assert (tmp_path / ".env.local").exists()
    state_file = next(line for line in up.stdout.splitlines() if "ADOLF_SERVICES_STATE" in line).split("=", 1)[1]
    down = subprocess.run(
        [*script, "down"],
        env={**env, "ADOLF_SERVICES_STATE": state_file.strip("'")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert down.returncode == 0, down.stderr
    assert not (tmp_path / ".env.local").exists()
