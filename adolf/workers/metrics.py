"""Prometheus metrics of the worker process (seed §7.8.1), exposed on /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

JOB_DURATION = Histogram(
    "adolf_job_duration_seconds",
    "Job run time by task (job name), lane and outcome",
    ["task", "lane", "outcome"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
JOB_FAILURES = Counter("adolf_job_failures_total", "Jobs that finally failed", ["task", "lane"])
JOB_RETRIES = Counter("adolf_job_retries_total", "Job runs that asked for another try", ["task", "lane"])
JOB_RUNS = Counter("adolf_job_runs_total", "Job runs by outcome", ["task", "lane", "outcome"])


def observe_job(task: str, lane: str, outcome: str, duration_s: float) -> None:
    JOB_DURATION.labels(task, lane, outcome).observe(duration_s)
    JOB_RUNS.labels(task, lane, outcome).inc()
    if outcome in {"failed", "invalid_args"}:
        JOB_FAILURES.labels(task, lane).inc()
    elif outcome == "retry":
        JOB_RETRIES.labels(task, lane).inc()
