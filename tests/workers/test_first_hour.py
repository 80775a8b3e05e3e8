"""The first hour (issue 10 §6): a worker whose settings name a server that does not answer, or whose health port is
taken, exits at once with one line naming the setting; a running worker tells an outage once when it starts and once
when it ends; the plain `arq` command logs ADOLF's structured lines, arq's own included, one line per job run."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import orjson
import pytest

from adolf.lanes import LANES
from adolf.workers import arq_seam
from tests.conftest import make_settings, server_urls
from tests.support.processes import ROOT, settings_env
from tests.support.waiting import eventually

LOW = LANES["content_low"].queue
ONE_LINE_WITHIN = 30.0  # seconds a failing start may take at most (it takes about one)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _with(url: str, *, netloc: str | None = None, path: str | None = None) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=netloc or parts.netloc, path=path or parts.path))


async def _run(*args: str, env: dict[str, str], timeout: float = ONE_LINE_WITHIN) -> tuple[int, str, float]:
    """Run `python -m *args` to its end; its exit status, its output (stdout and stderr) and how long it took."""
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace"), time.monotonic() - started


def _env(**overrides: str) -> dict[str, str]:
    return settings_env(make_settings(), ADOLF_LOG_FORMAT="json", **overrides)


WORKER = ("adolf", "worker", "--lanes", "content_high", "--health-port", "0")
ARQ = ("arq", "adolf.workers.ContentHigh")


# --- a wrong setting at start: one line, non-zero exit --------------------------------------------------------------


@pytest.mark.parametrize("command", [WORKER, ARQ], ids=["adolf worker", "arq"])
@pytest.mark.parametrize("what", ["missing database", "missing role"])
async def test_a_database_url_naming_a_missing_database_or_role_fails_at_once_with_one_line(command, what):
    database_url, _ = server_urls()
    if what == "missing database":
        url = _with(database_url, path="/adolf_no_such_database")
        reason = '(database "adolf_no_such_database" does not exist)'
    else:
        host = urlsplit(database_url).netloc.rpartition("@")[2]
        url = _with(database_url, netloc=f"adolf_no_such_role:s3cret-pw@{host}")
        reason = '(role "adolf_no_such_role" does not exist)'

    code, out, took = await _run(*command, env=_env(ADOLF_DATABASE_URL=url))

    prefix = "adolf worker" if command == WORKER else "arq adolf.workers.ContentHigh"
    masked = url.replace("s3cret-pw", "***")
    assert code != 0 and took < ONE_LINE_WITHIN
    assert out.splitlines() == [f"{prefix}: cannot reach PostgreSQL at ADOLF_DATABASE_URL={masked} {reason}"], out
    assert "s3cret-pw" not in out


@pytest.mark.parametrize("command", [WORKER, ARQ], ids=["adolf worker", "arq"])
async def test_a_dead_redis_at_start_fails_at_once_with_one_line(command):
    url = f"redis://:pw-{os.getpid()}@127.0.0.1:{_free_port()}/9"  # nobody listens there

    code, out, took = await _run(*command, env=_env(ADOLF_REDIS_URL=url))

    prefix = "adolf worker" if command == WORKER else "arq adolf.workers.ContentHigh"
    masked = url.replace(f"pw-{os.getpid()}", "***")
    assert code != 0 and took < ONE_LINE_WITHIN
    assert out.splitlines() == [f"{prefix}: cannot reach Redis at ADOLF_REDIS_URL={masked} (connection refused)"], out


async def test_a_taken_health_port_ends_the_worker_at_once_naming_the_port_and_the_setting():
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]

        by_setting = await _run("adolf", "worker", "--lanes", "content_high", env=_env(ADOLF_HEALTH_PORT=str(port)))
        by_option = await _run("adolf", "worker", "--lanes", "content_high", "--health-port", str(port), env=_env())

    for code, out, took in (by_setting, by_option):
        assert code != 0 and took < ONE_LINE_WITHIN
        assert out.splitlines() == [
            f"adolf worker: port {port} is taken, so the health probe cannot listen on it: choose a free port with "
            f"ADOLF_HEALTH_PORT=<port> or --health-port <port> (0: no probe)"
        ], out


# --- a running worker: an outage is told once when it starts and once when it ends ---------------------------------


@contextlib.asynccontextmanager
async def _own_redis(port: int) -> AsyncIterator[asyncio.subprocess.Process]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    process = await asyncio.create_subprocess_exec(
        binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await eventually(lambda: _answers(port), what="our Redis answers")
        yield process
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


async def _answers(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


async def _contains(path, needle: bytes) -> bool:
    return needle in path.read_bytes()


async def _true(value: bool) -> bool:
    return value


def _json_lines(text: str) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in text.splitlines() if line.strip()]


async def test_a_redis_outage_of_a_running_worker_is_logged_once_when_it_starts_and_once_when_it_ends(db, tmp_path):
    port = _free_port()
    log = tmp_path / "worker.log"
    env = _env(ADOLF_REDIS_URL=f"redis://127.0.0.1:{port}/0")
    async with _own_redis(port) as redis_server:
        with log.open("wb") as handle:
            worker = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "adolf", "worker", "--lanes", "content_high,content_low,content_default",
                "--health-port", "0", cwd=ROOT, env=env, stdout=handle, stderr=handle,
            )  # fmt: skip
        try:
            await eventually(lambda: _contains(log, b'"msg":"worker started"'), timeout=30, what="started")
            redis_server.kill()  # by pid: our own server
            await redis_server.wait()
            await asyncio.sleep(6)  # lanes poll, back off and retry many times meanwhile
            async with _own_redis(port):
                await eventually(lambda: _contains(log, b"Redis answers again"), timeout=30, what="back")
                await asyncio.sleep(1)
                assert worker.returncode is None  # an outage after the start never ends the worker
                worker.send_signal(signal.SIGTERM)
                assert await asyncio.wait_for(worker.wait(), 30) == 0
        finally:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()
    text = log.read_text()
    lines = _json_lines(text)  # every line is one JSON object
    messages = [str(line["msg"]) for line in lines]
    assert sum(m.startswith("Redis unavailable") for m in messages) == 1, text
    assert sum(m.startswith("Redis answers again") for m in messages) == 1, text
    assert "Traceback" not in text
    assert len(lines) < 30, text  # not a line per poll, per lane or per loop


async def test_a_postgresql_outage_of_a_running_worker_is_logged_once_when_it_starts_and_once_when_it_ends(
    lane_group, db, caplog
):
    from adolf.db.pool import create_pool

    caplog.set_level(logging.INFO)
    group = await lane_group(["content_low"], settings_=make_settings(health_check_interval=0.2))
    resources = group.resources
    dead = await create_pool("postgresql://postgres@127.0.0.1:1/adolf", min_size=0, max_size=2)
    live, resources.db = resources.db, dead
    try:
        await asyncio.sleep(1.5)
    finally:
        resources.db = live
        await dead.close()
    await eventually(lambda: _true("PostgreSQL answers again" in caplog.text), timeout=10, what="back")
    messages = [r.getMessage() for r in caplog.records if r.name == "adolf.workers.lifecycle"]
    down = [m for m in messages if m.startswith("PostgreSQL unavailable")]
    assert len(down) == 1 and down[0].startswith("PostgreSQL unavailable at ADOLF_DATABASE_URL="), messages
    assert sum(m.startswith("PostgreSQL answers again") for m in messages) == 1, messages


def test_a_warning_repeated_at_every_poll_is_written_once_then_throttled_and_never_as_a_traceback():
    from adolf.logs import OutageNoise, TextFormatter

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(TextFormatter())
    noise = OutageNoise(window=0.3)
    handler.addFilter(noise)
    log = logging.getLogger("tests.first_hour.outbox")
    log.addHandler(handler)
    log.propagate = False
    try:
        for _ in range(20):
            log.warning("outbox paused, database unavailable: %s", "connection refused")
            try:
                raise ConnectionRefusedError(111, "Connect call failed")
            except ConnectionRefusedError:
                log.exception("outbox dispatch failed")
        time.sleep(0.35)
        log.warning("outbox paused, database unavailable: %s", "connection refused")
    finally:
        log.removeHandler(handler)
    lines = out.getvalue().splitlines()
    assert len(lines) == 3, lines
    assert "Traceback" not in out.getvalue()
    assert "error=ConnectionRefusedError: [Errno 111] Connect call failed" in lines[1]
    assert lines[2].endswith("repeated=19")


# --- the plain arq command: ADOLF's lines, arq's structured, one line per job run ---------------------------------


async def test_the_arq_command_logs_adolf_s_json_lines_once_per_job_run_and_an_invalid_job_without_traceback(
    redis, db, tmp_path
):
    log = tmp_path / "arq.log"
    with log.open("wb") as handle:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "arq", "adolf.workers.ContentLow", cwd=ROOT, env=_env(),
            stdout=handle, stderr=handle,
        )  # fmt: skip
    try:
        await eventually(lambda: _contains(log, b'"msg":"worker started"'), timeout=30, what="started")
        ping = await arq_seam.enqueue(redis, "adolf.ping", {"payload": "hour"}, queue=LOW)
        bad = await arq_seam.enqueue(
            redis, "content_factory.tasks.cleanup_old_drafts", {"archive_days": "x"}, queue=LOW
        )
        assert ping is not None and bad is not None
        assert (await ping.result(timeout=30, poll_delay=0.05))["pong"] == "hour"
        info = await bad.result_info()
        for _ in range(300):
            if info is not None:
                break
            await asyncio.sleep(0.05)
            info = await bad.result_info()
        assert info is not None and info.success is False
        await eventually(lambda: db.fetchval("SELECT count(*) FROM failed_jobs"), what="dead letter stored")
        await asyncio.sleep(0.3)
    finally:
        if process.returncode is None:
            os.kill(process.pid, signal.SIGTERM)
        await asyncio.wait_for(process.wait(), 30)
    text = log.read_text()
    lines = _json_lines(text)  # every line, arq's too, is one JSON object
    assert all({"ts", "level", "logger", "msg"} <= set(line) for line in lines), text
    starting = [line for line in lines if line["logger"] == "arq.worker" and line["msg"] == "arq worker starting"]
    assert len(starting) == 1 and "adolf.ping" in starting[0]["functions"], text  # type: ignore[operator]
    assert any(line["msg"] == "redis info" and "redis_version" in line for line in lines), text
    assert not any(": " in str(line["msg"]) and str(line["msg"])[:2].isdigit() for line in lines)  # no "12:00:01: ..."

    ping_lines = [line for line in lines if line.get("job_id") == ping.job_id]
    assert [(line["msg"], line["outcome"]) for line in ping_lines] == [("job adolf.ping success", "success")], text
    bad_lines = [line for line in lines if bad.job_id in orjson.dumps(line).decode()]
    bad_lines = [line for line in bad_lines if line["logger"] != "adolf.services.outbox"]  # its alert, later
    assert len(bad_lines) == 1, text
    (only,) = bad_lines
    assert only["outcome"] == "invalid_args" and only["error_code"] == "INVALID_ARGS" and "exc" not in only
    assert only["failed_job_id"] == await db.fetchval("SELECT id FROM failed_jobs WHERE job_id = $1", bad.job_id)
    assert "Traceback" not in text
