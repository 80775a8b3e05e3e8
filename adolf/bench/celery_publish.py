"""The seed's deployment, for `adolf bench throughput` to measure beside ADOLF: a Celery prefork worker whose task
publishes one draft synchronously, each process running one task at a time.

The task runs ADOLF's own publish service (the same reads, card update, rows, notification and office reports) on
an event loop of its process, so the two contenders differ only in how the jobs run. A process holds one job at a
time, so nothing gathers: the batch window is 0 and each card is looked up on its own (no catalog snapshot shared
between jobs), which is the seed's one card per request.

Started as `celery -A adolf.bench.celery_publish worker --pool prefork -c 4 -Q adolf-bench`, with ADOLF_* settings
and BENCH_CELERY_BROKER in the environment.
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any
from uuid import UUID

from celery import Celery
from celery.signals import worker_process_init

from adolf.services import publishing
from adolf.settings import Settings
from adolf.workers import arq_seam
from adolf.workers.lifecycle import Resources

QUEUE = "adolf-bench"

app = Celery("adolf_bench", broker=os.environ.get("BENCH_CELERY_BROKER", "redis://127.0.0.1:6379/0"))
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    task_default_queue=QUEUE,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
)

_loop: asyncio.AbstractEventLoop | None = None
_resources: Resources | None = None


@worker_process_init.connect
def _open(**_: Any) -> None:
    global _loop, _resources
    _loop = asyncio.new_event_loop()
    settings = Settings(batch_window=0.0, wb_catalog_ttl=0.0)
    redis = _loop.run_until_complete(arq_seam.connect(settings))
    _resources = _loop.run_until_complete(Resources.open(settings, redis))


async def _any_run_alive(job_ref: str) -> bool:
    return True


@app.task(name="bench.publish")
def publish(draft_id: str, user_id: str) -> dict[str, Any]:
    assert _loop is not None and _resources is not None
    settings = _resources.settings
    now = _loop.time()
    run = publishing.PublishRun(
        job_ref=f"celery:{draft_id}:{time.time_ns()}",
        attempt=1,
        send_by=now + settings.publish_soft_timeout - settings.http_timeout,
        answer_by=now + settings.publish_soft_timeout,
        record_by=now + settings.publish_hard_timeout - 5,
    )
    return _loop.run_until_complete(
        publishing.publish_content(
            UUID(draft_id),
            UUID(user_id),
            db=_resources.db,
            adapters=_resources.adapters,
            reporter=_resources.office["content_descriptions"],
            run=run,
            job_alive=_any_run_alive,
            records=_resources.publish_records,
        )
    )
