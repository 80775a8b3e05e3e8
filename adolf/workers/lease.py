"""Running jobs' leases: each run holds its job's in-progress key under a token of its own for one lease
(ADOLF_JOB_LEASE_SECONDS), and the process renews every lease it holds in one pipelined round trip every third of
the lease, only while the token is still its own. Once it is not (the process stalled or Redis lost the key, and
another worker may have taken the job over), the run's `lost` event is set and the engine cancels the run at once;
whatever it still tries to write is refused by the fenced finish script (adolf/workers/arq_seam.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from adolf.workers.arq_seam import Scripts

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class Lease:
    job_id: str
    token: str
    lost: asyncio.Event = field(default_factory=asyncio.Event)


class Leases:
    def __init__(self, scripts: Scripts, lease_seconds: float) -> None:
        self.scripts = scripts
        self.lease_ms = int(lease_seconds * 1000)
        self._held: set[Lease] = set()
        self._keeper: asyncio.Task[None] | None = None

    def hold(self, job_id: str, token: str) -> Lease:
        """Keep this run's lease until `release`."""
        lease = Lease(job_id, token)
        self._held.add(lease)
        if self._keeper is None or self._keeper.done():
            self._keeper = asyncio.get_running_loop().create_task(self._keep(), name="adolf-leases")
        return lease

    def release(self, lease: Lease) -> None:
        self._held.discard(lease)

    async def _keep(self) -> None:
        while self._held:
            await asyncio.sleep(self.lease_ms / 3000)
            try:
                await self._renew_all(list(self._held))
            except Exception as exc:  # Redis unreachable: the next round tries again; the key outlives a blip
                logger.warning("could not renew %d job lease(s): %s", len(self._held), exc)

    async def _renew_all(self, leases: list[Lease]) -> None:
        if not leases:
            return
        async with self.scripts.redis.pipeline(transaction=False) as pipe:
            for lease in leases:
                await self.scripts.renew(lease.job_id, lease.token, self.lease_ms, client=pipe)
            answers = await pipe.execute(raise_on_error=False)
        for lease, answer in zip(leases, answers, strict=True):
            if isinstance(answer, Exception):
                logger.warning("could not renew the lease of job %s: %s", lease.job_id, answer)
            elif not answer and lease in self._held:
                logger.warning("job %s lost its lease: another worker may run it now; this run stops", lease.job_id)
                self._held.discard(lease)
                lease.lost.set()

    async def close(self) -> None:
        self._held.clear()
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
