"""The worker's HTTP probe: /health, /ready and /metrics, served by a running lane group."""

import socket

import pytest

from adolf.workers.health import start_health_server
from tests.support.waiting import eventually


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def probe(lane_group, http_session):
    group = await lane_group(["content_low", "content_default"])
    port = free_port()
    runner = await start_health_server(group.resources, group.workers, port=port)
    yield f"http://127.0.0.1:{port}", group
    await runner.cleanup()


async def test_health_ready_and_metrics(probe, http_session, client):
    url, _ = probe
    async with http_session.get(f"{url}/health") as response:
        assert response.status == 200 and await response.json() == {"status": "ok"}

    async def ready():
        async with http_session.get(f"{url}/ready") as response:
            return await response.json() if response.status == 200 else None

    state = await eventually(ready, what="ready")
    assert state["lanes"] == {"content_low": "ok", "content_default": "ok"} and state["postgres"] == "ok"

    await (await client.enqueue("tests.echo", value=1)).result(timeout=10, poll_delay=0.05)
    await client.enqueue("tests.slow", key="m", seconds=0, _defer_by=3600)
    async with http_session.get(f"{url}/metrics") as response:
        text = await response.text()
    assert 'adolf_job_runs_total{lane="content_low",outcome="success",task="tests.echo"}' in text
    assert 'adolf_queue_length{lane="content_default"} 1.0' in text
    assert 'adolf_queue_due{lane="content_default"} 0.0' in text


async def test_ready_says_503_when_a_lane_stopped(probe, http_session):
    url, group = probe
    group.workers["content_default"].main_task.cancel()
    async with http_session.get(f"{url}/ready") as response:
        body = await response.json()
    assert response.status == 503 and body["lanes"]["content_default"] == "stopped"
