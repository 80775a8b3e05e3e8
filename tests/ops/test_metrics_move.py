"""/metrics of a real `adolf worker` process (on the session's test servers) moves as jobs run and fail: each run is
counted once under its task, lane and outcome, final failures and run times with it, and the queue gauges count a
deferred job (deploy/README.md "Metrics and alerts")."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Callable
from uuid import uuid4

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from adolf.client import queue_for
from tests.support.factories import USER_ID
from tests.support.waiting import eventually

pytestmark = pytest.mark.timeout(180)

PING = "adolf.ping"
PUBLISH = "content_factory.tasks.publish_content"
PINGS = 3  # succeed
MISSING = 2  # publishes of drafts that do not exist: they end as outcome failed (DRAFT_NOT_FOUND)
INVALID = 1  # publishes with arguments that do not validate: outcome invalid_args

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; 0 for a series not reported yet (a counter nobody has touched)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_move_as_jobs_run_and_fail(worker_processes, client, redis, http_session):
    port = _free_port()
    pid = await worker_processes.start(
        "worker", "--lanes", "content_high,content_low", "--health-port", str(port), module="adolf"
    )
    process = next(p for p in worker_processes.processes if p.pid == pid)
    url = f"http://127.0.0.1:{port}"

    async def ready() -> bool:
        assert process.returncode is None, worker_processes.log_of(pid)
        with contextlib.suppress(aiohttp.ClientConnectionError):
            async with http_session.get(f"{url}/ready") as response:
                return response.status == 200
        return False

    async def scrape() -> Samples:
        async with http_session.get(f"{url}/metrics") as response:
            assert response.status == 200
            return _parse(await response.text())

    await eventually(ready, timeout=60, interval=0.1, what="the worker's /ready answering 200")
    before = await scrape()

    def moved(after: Samples) -> Callable[..., float]:
        return lambda name, **labels: _value(after, name, **labels) - _value(before, name, **labels)

    jobs = [await client.ping("content_low", payload=index) for index in range(PINGS)]
    jobs += [await client.publish_content(draft_id=uuid4(), user_id=USER_ID) for _ in range(MISSING)]
    jobs += [
        await redis.enqueue_job(PUBLISH, _queue_name=queue_for(PUBLISH), draft_id="draft-123", user_id=str(USER_ID))
        for _ in range(INVALID)
    ]

    async def finished() -> bool:
        return all([await job.result_info() is not None for job in jobs])

    await eventually(finished, timeout=30, interval=0.1, what="every job's result")
    infos = [await job.result_info() for job in jobs]
    assert [info.success for info in infos[:PINGS]] == [True] * PINGS
    assert [info.result["error_code"] for info in infos[PINGS : PINGS + MISSING]] == ["DRAFT_NOT_FOUND"] * MISSING
    assert [info.success for info in infos[PINGS + MISSING :]] == [False] * INVALID

    expected = {
        ("adolf_job_runs_total", PING, "content_low", "success"): PINGS,
        ("adolf_job_runs_total", PUBLISH, "content_high", "failed"): MISSING,
        ("adolf_job_runs_total", PUBLISH, "content_high", "invalid_args"): INVALID,
        ("adolf_job_duration_seconds_count", PING, "content_low", "success"): PINGS,
        ("adolf_job_duration_seconds_count", PUBLISH, "content_high", "failed"): MISSING,
        ("adolf_job_duration_seconds_count", PUBLISH, "content_high", "invalid_args"): INVALID,
    }

    async def counted() -> Samples | None:
        # a run's metrics and its result are written one after the other: wait for the scrape to catch up
        after = await scrape()
        delta = moved(after)
        reached = all(
            delta(name, task=task, lane=lane, outcome=outcome) >= n
            for (name, task, lane, outcome), n in expected.items()
        )
        return after if reached else None

    after = await eventually(counted, timeout=10, interval=0.1, what="the runs counted on /metrics")
    delta = moved(after)
    for (name, task, lane, outcome), n in expected.items():
        assert delta(name, task=task, lane=lane, outcome=outcome) == n, (name, task, outcome)
    # once each: nothing else counted for these jobs
    assert delta("adolf_job_runs_total", task=PUBLISH, lane="content_high", outcome="success") == 0
    assert delta("adolf_job_runs_total", task=PING, lane="content_low", outcome="failed") == 0
    assert delta("adolf_job_failures_total", task=PUBLISH, lane="content_high") == MISSING + INVALID
    assert delta("adolf_job_failures_total", task=PING, lane="content_low") == 0
    assert delta("adolf_job_retries_total", task=PUBLISH, lane="content_high") == 0
    for task, lane, outcome, n in (
        (PING, "content_low", "success", PINGS),
        (PUBLISH, "content_high", "failed", MISSING),
    ):
        labels = {"task": task, "lane": lane, "outcome": outcome}
        assert delta("adolf_job_duration_seconds_bucket", **labels, le="+Inf") == n
        assert delta("adolf_job_duration_seconds_sum", **labels) > 0
    assert _value(after, "adolf_queue_length", lane="content_high") == 0
    assert _value(after, "adolf_jobs_running", lane="content_high") == 0

    deferred = await client.enqueue(PUBLISH, _defer_by=3600, draft_id=uuid4(), user_id=USER_ID)
    later = await scrape()  # the queue gauges are read from Redis at each scrape
    assert _value(later, "adolf_queue_length", lane="content_high") == 1
    assert _value(later, "adolf_queue_due", lane="content_high") == 0
    assert await deferred.result_info() is None  # still waiting: not run, nor counted
    assert _value(later, "adolf_job_runs_total", task=PUBLISH, lane="content_high", outcome="failed") == _value(
        after, "adolf_job_runs_total", task=PUBLISH, lane="content_high", outcome="failed"
    )
    assert process.returncode is None, worker_processes.log_of(pid)
