"""`adolf sandbox` as a user meets it: the banner it prints is enough to point ADOLF at it and seed a card."""

from __future__ import annotations

import json
import os
import selectors
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _read_banner(process: subprocess.Popen[bytes], timeout: float = 20.0) -> list[str]:
    """stdout lines up to the curl example (the banner's last line)."""
    assert process.stdout is not None
    received = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not selector.select(timeout=0.2):
                if process.poll() is not None:
                    break
                continue
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                break
            received += chunk
            lines = received.decode().splitlines()
            if received.endswith(b"\n") and lines and lines[-1].startswith("curl "):
                return lines
    pytest.fail(f"no banner from adolf sandbox: {received!r}")


@pytest.fixture
def sandbox_process(tmp_path: Path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADOLF_")}
    env.update(PYTHONPATH=str(ROOT), ADOLF_LOG_FORMAT="text")
    process = subprocess.Popen(
        [sys.executable, "-m", "adolf.cli", "sandbox", "--port", str(port)],
        cwd=tmp_path,  # no .env / .env.local of the checkout
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield port, process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        assert process.stdout is not None
        process.stdout.close()


def test_the_banner_gives_urls_credentials_a_working_control_url_and_a_seeding_example(sandbox_process):
    port, process = sandbox_process
    lines = _read_banner(process)
    base = f"http://127.0.0.1:{port}"
    assert base in lines[0]

    settings = dict(line.split("=", 1) for line in lines if line.startswith("ADOLF_"))
    assert settings == {
        "ADOLF_WB_CONTENT_URL": base,
        "ADOLF_WB_ANALYTICS_URL": base,
        "ADOLF_OZON_API_URL": base,
        "ADOLF_YM_API_URL": base,
        "ADOLF_WB_TOKEN": "sandbox-wb-token",
        "ADOLF_OZON_CLIENT_ID": "100500",
        "ADOLF_OZON_API_KEY": "sandbox-ozon-key",
        "ADOLF_YM_API_KEY": "sandbox-ym-key",
        "ADOLF_YM_BUSINESS_ID": "777",
    }

    # the settings lines are what ADOLF reads
    from adolf.settings import Settings

    parsed = Settings(_env_file=None, **{name[len("ADOLF_") :].lower(): value for name, value in settings.items()})
    assert parsed.ym_business_id == 777 and parsed.wb_token is not None

    # the advertised control URL answers, and lists the seeding endpoint
    control = next(line for line in lines if line.startswith("Control API: ")).split()[2]
    assert control == f"{base}/__sandbox/"
    with urllib.request.urlopen(control, timeout=5) as response:
        assert response.status == 200
        index = json.load(response)
    assert any(e["method"] == "POST" and e["path"] == "/__sandbox/cards" for e in index["endpoints"])

    # the curl example, run as written (by curl itself when it is there, else its URL and body by urllib)
    example = lines[-1]
    argv = shlex.split(example)
    url, body = argv[argv.index("-X") + 2], argv[argv.index("-d") + 1]
    if _has_curl():
        seeded = json.loads(subprocess.run(argv, check=True, capture_output=True, text=True, timeout=10).stdout)
    else:
        request = urllib.request.Request(
            url, data=body.encode(), method="POST", headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            seeded = json.load(response)
    sku = json.loads(body)["cards"][0]["sku"]
    assert seeded["cards"][0]["sku"] == sku
    with urllib.request.urlopen(f"{base}/__sandbox/cards/wb/{sku}", timeout=5) as response:
        assert response.status == 200


def _has_curl() -> bool:
    return shutil.which("curl") is not None
