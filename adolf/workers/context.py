"""What a job handler gets: its identity, its try count and the process's shared resources."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from adolf.workers.arq_keys import job_ref

if TYPE_CHECKING:
    from adolf.workers.lifecycle import Resources
    from adolf.workers.registry import JobSpec


@dataclass(frozen=True)
class JobContext:
    job_id: str
    job_name: str
    job_try: int
    max_tries: int
    enqueue_time: datetime
    lane: str
    resources: Resources

    @classmethod
    def from_arq(cls, ctx: dict[str, Any], spec: JobSpec, *, max_tries: int | None = None) -> JobContext:
        return cls(
            job_id=ctx["job_id"],
            job_name=spec.name,
            job_try=ctx["job_try"],
            max_tries=spec.max_tries if max_tries is None else max_tries,
            enqueue_time=ctx["enqueue_time"],
            lane=spec.lane,
            resources=ctx["resources"],
        )

    @property
    def ref(self) -> str:
        """This run of the job: its id and enqueue time (a re-enqueued job id is another run)."""
        return job_ref(self.job_id, self.enqueue_time)
