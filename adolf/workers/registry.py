"""Job and cron declarations. Adding a job is one `JobSpec` line in `adolf/workers/catalog.py`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import asyncpg
from pydantic import BaseModel

from adolf.job_contracts import JobContract, UnknownJob
from adolf.models.content import DeadLetter

if TYPE_CHECKING:
    from adolf.settings import Settings
    from adolf.workers.context import JobContext

Handler = Callable[["JobContext", Any], Awaitable[Any]]
# a job's own ending of a final failure inside its run: returns the job's result, or None for a dead letter
Finalizer = Callable[["JobContext", Any, Exception], Awaitable[Any]]
# called once a job has finally failed outside its own handling (dead letter stored), to undo half-done domain state
FailureHook = Callable[[asyncpg.Pool, DeadLetter], Awaitable[None]]
CronField = int | set[int] | None


__all__ = ["CronSpec", "JobSpec", "Registry", "UnknownJob"]


@dataclass(frozen=True)
class JobSpec:
    """One job: its dotted name (the seeds' task name), handler, lane and argument model.

    `max_tries` counts every run, crashes included (arq semantics), but not runs that were deferred or handed back.
    `timeout` is the hard limit in seconds; `timeout_setting` names a Settings field that overrides it.
    `retry_unexpected`: errors that are not AdolfErrors (bugs) are retried too. `finalize` ends a final failure as
    the job's own result (publish_content: the failed publication and the seed's result dict).
    """

    name: str
    handler: Handler
    lane: str
    args: type[BaseModel]
    timeout: float = 300.0
    timeout_setting: str | None = None
    max_tries: int = 1
    retry_unexpected: bool = False
    unique_by: str | None = None  # argument whose value makes the job id (one job per value at a time)
    finalize: Finalizer | None = None
    on_final_failure: FailureHook | None = None

    def __post_init__(self) -> None:
        JobContract(self.name, self.lane, self.args, self.unique_by)  # raises on an unknown lane or unique_by

    @classmethod
    def bind(cls, contract: JobContract, handler: Handler, **options: Any) -> JobSpec:
        """The job a caller knows by its contract (adolf/job_contracts.py), with its handler and run options."""
        return cls(contract.name, handler, contract.lane, contract.args, unique_by=contract.unique_by, **options)

    @property
    def contract(self) -> JobContract:
        return JobContract(self.name, self.lane, self.args, self.unique_by)

    def hard_timeout(self, settings: Settings) -> float:
        return float(getattr(settings, self.timeout_setting)) if self.timeout_setting else self.timeout

    def job_id_for(self, arguments: BaseModel) -> str | None:
        return self.contract.job_id_for(arguments)


@dataclass(frozen=True)
class CronSpec:
    """A schedule for a registered job, in the worker's timezone (Europe/Moscow). It runs on the job's lane."""

    job: str
    hour: CronField = None
    minute: CronField = None
    second: CronField = 0
    kwargs: dict[str, Any] = field(default_factory=dict)
    max_tries: int = 3

    @property
    def name(self) -> str:
        return f"cron:{self.job}"


class Registry:
    def __init__(self, jobs: Iterable[JobSpec], crons: Iterable[CronSpec] = ()) -> None:
        self.jobs: dict[str, JobSpec] = {}
        for spec in jobs:
            if spec.name in self.jobs:
                raise ValueError(f"job {spec.name} registered twice")
            self.jobs[spec.name] = spec
        self.crons = list(crons)
        for cron in self.crons:
            self.job(cron.job)

    def job(self, name: str) -> JobSpec:
        try:
            return self.jobs[name]
        except KeyError:
            raise UnknownJob(f"no job named {name!r}; known jobs: {sorted(self.jobs)}") from None

    def failure_hooks(self) -> dict[str, FailureHook]:
        return {name: spec.on_final_failure for name, spec in self.jobs.items() if spec.on_final_failure}

    def jobs_for_lane(self, lane: str) -> list[JobSpec]:
        return [spec for spec in self.jobs.values() if spec.lane == lane]

    def crons_for_lane(self, lane: str) -> list[CronSpec]:
        return [cron for cron in self.crons if self.job(cron.job).lane == lane]

    def extended(self, jobs: Iterable[JobSpec] = (), crons: Iterable[CronSpec] = ()) -> Registry:
        return Registry([*self.jobs.values(), *jobs], [*self.crons, *crons])
