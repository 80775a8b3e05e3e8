"""Every job and schedule of the product. Adding a job is one line here."""

from __future__ import annotations

from adolf.models import jobs as a
from adolf.workers.jobs import content_factory as cf
from adolf.workers.registry import CronSpec, JobSpec, Registry

JOBS: tuple[JobSpec, ...] = (
    JobSpec(
        "content_factory.tasks.handle_failed_task",
        cf.handle_failed_task,
        "content_low",
        a.DeadLetterArgs,
        timeout=60,
        max_tries=10,
    ),
)

CRONS: tuple[CronSpec, ...] = ()

REGISTRY = Registry(JOBS, CRONS)
