"""Every ```python block of README.md runs as written: against the test servers, a real `adolf worker` and the
simulator (the session's, in this process), with the settings a user would have in ADOLF_* variables."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from adolf.sandbox import SandboxServer
from tests.conftest import make_settings
from tests.sandbox.helpers import Client as SandboxClient
from tests.support.processes import settings_env

ROOT = Path(__file__).resolve().parents[2]
SNIPPETS = re.findall(r"^```python\n(.*?)^```$", (ROOT / "README.md").read_text(), flags=re.DOTALL | re.MULTILINE)
SNIPPET_TIMEOUT_S = 90


def test_the_readme_has_python_snippets():
    assert len(SNIPPETS) >= 2


@pytest.fixture
async def user_env(sandbox_server: SandboxServer, tmp_path: Path) -> dict[str, str]:
    """ADOLF_* variables as a user sets them: test servers, the simulator and its credentials; no .env read."""
    env = settings_env(make_settings(sandbox_server.url))
    env.update(ADOLF_WB_ANALYTICS_URL=sandbox_server.url, ADOLF_LOG_FORMAT="text", ADOLF_HEALTH_PORT="0")
    env["PYTHONPATH"] = str(ROOT)
    return env


@pytest.fixture
async def worker(user_env: dict[str, str], db: asyncpg.Pool, redis, tmp_path: Path) -> AsyncIterator[None]:
    """`adolf worker` for the content lanes, stopped by its pid with SIGTERM."""
    log = (tmp_path / "worker.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "adolf.cli",
        "worker",
        "--lanes",
        "content_high,content_default",
        "--health-port",
        "0",
        cwd=tmp_path,
        env=user_env,
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        yield
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()


@pytest.mark.parametrize("index", range(len(SNIPPETS)), ids=[f"snippet{i + 1}" for i in range(len(SNIPPETS))])
async def test_readme_snippet_runs_as_written(
    index: int, worker: None, user_env: dict[str, str], marketplace: SandboxClient, db: asyncpg.Pool, tmp_path: Path
):
    # the card scripts/run's demo seeds, which the first snippet publishes a draft of
    await marketplace.seed("wb", {"sku": "DEMO-WB-1", "title": "Товар", "description": "Описание от поставщика"})
    script = tmp_path / f"snippet{index + 1}.py"
    script.write_text(SNIPPETS[index])
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        cwd=tmp_path,
        env=user_env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), SNIPPET_TIMEOUT_S)
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    worker_log = (tmp_path / "worker.log").read_text(errors="replace")
    assert process.returncode == 0, f"{output.decode()}\n--- worker:\n{worker_log[-3000:]}"
    if "publish_content(draft_id=draft.id" in SNIPPETS[index]:
        statuses = await db.fetch("SELECT status FROM publications WHERE sku = 'DEMO-WB-1'")
        assert [row["status"] for row in statuses] == ["published"], output.decode()


def test_snippets_are_complete_programs():
    """No top-level await: each defines what it uses and runs itself."""
    for snippet in SNIPPETS:
        assert "asyncio.run(" in snippet
        compile(snippet, "README.md", "exec")  # a top-level `await` would be a SyntaxError here
