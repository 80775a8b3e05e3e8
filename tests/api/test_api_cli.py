"""`adolf token create` and `adolf api` as an operator runs them."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys

import aiohttp

from tests.support.factories import USER_ID


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def env_for(settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "ADOLF_DATABASE_URL": settings.database_url,
        "ADOLF_REDIS_URL": settings.redis_url,
        "ADOLF_LOG_LEVEL": "WARNING",
        **extra,
    }


async def test_a_token_from_the_cli_opens_the_api_it_starts(settings, db, redis):
    env = env_for(settings)
    created = subprocess.run(
        [sys.executable, "-m", "adolf", "token", "create", "--user", str(USER_ID), "--read-only"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("adolf_") and await db.fetchval("SELECT count(*) FROM api_tokens") == 1
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "adolf", "api", "--port", str(port)], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        async with aiohttp.ClientSession() as session:
            deadline = asyncio.get_running_loop().time() + 30
            while True:
                try:
                    async with session.get(f"http://127.0.0.1:{port}/health") as response:
                        assert response.status == 200
                        break
                except aiohttp.ClientConnectionError:
                    assert asyncio.get_running_loop().time() < deadline, "adolf api did not start"
                    await asyncio.sleep(0.1)
            headers = {"Authorization": f"Bearer {token}"}
            async with session.get(f"http://127.0.0.1:{port}/agents", headers=headers) as response:
                assert response.status == 200
            async with session.post(f"http://127.0.0.1:{port}/publish", headers=headers, json={}) as response:
                assert response.status == 403
        taken = subprocess.run(
            [sys.executable, "-m", "adolf", "api", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert taken.returncode == 1 and "ADOLF_API_PORT" in taken.stderr and "Traceback" not in taken.stderr
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
        process.stderr.close()
    assert process.returncode == 0


def test_a_bad_user_id_is_one_line():
    done = subprocess.run(
        [sys.executable, "-m", "adolf", "token", "create", "--user", "bob"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "'bob' is not a UUID" in done.stderr
