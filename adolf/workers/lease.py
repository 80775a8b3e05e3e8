"""Running jobs' leases: each run holds its job's in-progress key under a token of its own for one lease
(ADOLF_JOB_LEASE_SECONDS), and the process renews every lease it holds in one pipelined round trip every third of
the lease, only while the token is still its own; the same round trip asks whether an operator aborted any of them.
Once the token is not its own (the process stalled or Redis lost the key, and another worker may have taken the job
over), the run's `lost` event is set and the engine cancels the run at once; whatever it still tries to write is
refused by the fenced finish script (adolf/workers/arq_seam.py).

A process cut off from Redis (no answer, not even a refusal) cannot learn that its leases were taken; once a lease has
gone unconfirmed for its whole length, Redis has let it go, another worker may run the job, and the run stops too."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from adolf.workers.arq_seam import Scripts

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class Lease:
    job_id: str
    token: str
    confirmed: float  # wall time no later than when Redis last set this lease's expiry
    lost: asyncio.Event = field(default_factory=asyncio.Event)
    aborted: asyncio.Event = field(default_factory=asyncio.Event)  # an operator asked to abort the job


class Leases:
    def __init__(self, scripts: Scripts, lease_seconds: float) -> None:
        self.scripts = scripts
        self.lease_ms = int(lease_seconds * 1000)
        self._held: set[Lease] = set()
        self._keeper: asyncio.Task[None] | None = None

    def hold(self, job_id: str, token: str, *, since: float | None = None) -> Lease:
        """Keep this run's lease until `release`; `since`: when the claim that took it was sent (wall time)."""
        lease = Lease(job_id, token, since if since is not None else time.time())
        self._held.add(lease)
        if self._keeper is None or self._keeper.done():
            self._keeper = asyncio.get_running_loop().create_task(self._keep(), name="adolf-leases")
        return lease

    def release(self, lease: Lease) -> None:
        self._held.discard(lease)

    async def _keep(self) -> None:
        interval = self.lease_ms / 3000
        while self._held:
            await asyncio.sleep(interval)
            try:
                async with asyncio.timeout(interval):  # a Redis that does not answer is away too
                    await self._renew_all(list(self._held))
            except Exception as exc:  # Redis unreachable: the next round tries again; the key outlives a blip
                logger.warning("could not renew %d job lease(s): %s", len(self._held), type(exc).__name__)
            self._give_up_expired()

    def _give_up_expired(self) -> None:
        now = time.time()
        for lease in list(self._held):
            if now - lease.confirmed >= self.lease_ms / 1000:
                logger.warning("job %s: its lease ran out while Redis did not answer; this run stops", lease.job_id)
                self._held.discard(lease)
                lease.lost.set()

    async def _renew_all(self, leases: list[Lease]) -> None:
        if not leases:
            return
        sent = time.time()
        async with self.scripts.redis.pipeline(transaction=False) as pipe:
            for lease in leases:
                await self.scripts.renew(lease.job_id, lease.token, self.lease_ms, client=pipe)
            self.scripts.aborted([lease.job_id for lease in leases], client=pipe)
            *answers, aborts = await pipe.execute(raise_on_error=False)
        if isinstance(aborts, list):
            for lease, score in zip(leases, aborts, strict=True):
                if score is not None:
                    lease.aborted.set()
        for lease, answer in zip(leases, answers, strict=True):
            if isinstance(answer, Exception):
                logger.warning("could not renew the lease of job %s: %s", lease.job_id, answer)
            elif answer:
                lease.confirmed = sent
            elif lease in self._held:
                logger.warning("job %s lost its lease: another worker may run it now; this run stops", lease.job_id)
                self._held.discard(lease)
                lease.lost.set()

    async def close(self) -> None:
        self._held.clear()
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
