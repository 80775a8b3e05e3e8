"""What a job handler gets: its identity, its try count and the process's shared resources."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from adolf.workers.arq_seam import job_ref

if TYPE_CHECKING:
    from adolf.workers.lifecycle import Resources


@dataclass(frozen=True)
class JobContext:
    job_id: str
    job_name: str
    job_try: int
    max_tries: int
    enqueue_time: datetime
    lane: str
    resources: Resources
    arguments: dict[str, Any] = field(default_factory=dict)  # as the job was called (for its history row)
    # set when an operator aborts this run: the engine's cancellation then ends it as a final failure (ABORTED)
    abort_requested: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def ref(self) -> str:
        """This run of the job: its id and enqueue time (a re-enqueued job id is another run)."""
        return job_ref(self.job_id, self.enqueue_time)
