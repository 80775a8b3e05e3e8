"""Worker processes for multi-process tests, started and stopped by pid (never by name)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

import orjson

from adolf.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def settings_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADOLF_")}
    env.update(
        ADOLF_DATABASE_URL=settings.database_url,
        ADOLF_REDIS_URL=settings.redis_url,
        ADOLF_POLL_DELAY=str(settings.poll_delay),
        ADOLF_JOB_LEASE_SECONDS=str(settings.job_lease_seconds),
        ADOLF_HEALTH_CHECK_INTERVAL=str(settings.health_check_interval),
        ADOLF_SHUTDOWN_GRACE_SECONDS=str(settings.shutdown_grace_seconds),
        ADOLF_RETRY_DELAYS=f"[{','.join(map(str, settings.retry_delays))}]",
        ADOLF_NOTIFY_POLL_INTERVAL=str(settings.notify_poll_interval),
        ADOLF_RATE_LIMITS=orjson.dumps(settings.rate_limits).decode(),
        ADOLF_HTTP_TIMEOUT=str(settings.http_timeout),
        ADOLF_OZON_IMPORT_WAIT=str(settings.ozon_import_wait),
        ADOLF_WB_CONTENT_URL=settings.wb_content_url,
        ADOLF_OZON_API_URL=settings.ozon_api_url,
        ADOLF_YM_API_URL=settings.ym_api_url,
        PYTHONPATH=str(ROOT),
    )
    secrets = {
        "ADOLF_WB_TOKEN": settings.wb_token,
        "ADOLF_OZON_API_KEY": settings.ozon_api_key,
        "ADOLF_YM_API_KEY": settings.ym_api_key,
    }
    env.update({name: value.get_secret_value() for name, value in secrets.items() if value is not None})
    if settings.ozon_client_id:
        env["ADOLF_OZON_CLIENT_ID"] = settings.ozon_client_id
    if settings.ym_business_id:
        env["ADOLF_YM_BUSINESS_ID"] = str(settings.ym_business_id)
    env.update(extra)
    return env


class WorkerProcesses:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.processes: list[asyncio.subprocess.Process] = []
        self.logs: dict[int, Path] = {}

    async def start(self, *args: str, module: str = "tests.support.worker_main", **env: str) -> int:
        """Start `python -m module *args`; returns its pid. Output goes to a log file per process."""
        log = Path(os.environ.get("TMPDIR", "/tmp")) / f"adolf-test-worker-{len(self.processes)}-{os.getpid()}.log"
        handle = log.open("wb")
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            *args,
            cwd=ROOT,
            env=settings_env(self.settings, **env),
            stdout=handle,
            stderr=handle,
        )
        handle.close()
        self.processes.append(process)
        self.logs[process.pid] = log
        return process.pid

    def log_of(self, pid: int) -> str:
        return self.logs[pid].read_text(errors="replace")

    async def kill(self, pid: int, sig: signal.Signals = signal.SIGKILL) -> int:
        process = next(p for p in self.processes if p.pid == pid)
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        return await asyncio.wait_for(process.wait(), 30)

    async def stop_all(self) -> None:
        for process in self.processes:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        for log in self.logs.values():
            log.unlink(missing_ok=True)
