"""Running jobs' leases: arq's in-progress keys, kept short and renewed while the jobs run.

arq marks a claimed job with `arq:in-progress:<id>` for (longest job timeout + 10 s), so a killed worker's job waits
that long before anyone runs it again. Here each run stamps the key with a token of its own and the process renews
every lease it holds, all in one pipelined round trip every third of the lease, only while the token is still its
own: once it is not, another worker has taken the job over and the run's lease is marked lost."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from dataclasses import dataclass, field

from redis.asyncio import Redis

from adolf.workers.arq_keys import in_progress_key

logger = logging.getLogger(__name__)

# KEYS[1] in-progress key; ARGV: token, lease ms. 1 = renewed, 0 = the key is gone or someone else's
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


@dataclass(eq=False)
class Lease:
    job_id: str
    token: str
    stamped: bool = False
    lost: asyncio.Event = field(default_factory=asyncio.Event)


class Leases:
    def __init__(self, redis: Redis, lease_seconds: float) -> None:
        self.redis = redis
        self.lease_ms = int(lease_seconds * 1000)
        self._renew = redis.register_script(_RENEW)
        self._held: set[Lease] = set()
        self._keeper: asyncio.Task[None] | None = None

    def hold(self, job_id: str, job_try: int) -> Lease:
        """Keep this run's lease until `release`; its `lost` event is set if another worker takes the job over."""
        lease = Lease(job_id, f"{os.getpid()}:{uuid.uuid4().hex[:12]}:{job_try}")
        self._held.add(lease)
        if self._keeper is None or self._keeper.done():
            self._keeper = asyncio.get_running_loop().create_task(self._keep(), name="adolf-leases")
        return lease

    def release(self, lease: Lease) -> None:
        self._held.discard(lease)

    async def _keep(self) -> None:
        while self._held:
            try:
                await self._renew_all(list(self._held))
            except Exception as exc:  # Redis unreachable: try again next round; arq's own loop will notice too
                logger.warning("could not renew %d job lease(s): %s", len(self._held), exc)
            await asyncio.sleep(self.lease_ms / 3000)

    async def _renew_all(self, leases: list[Lease]) -> None:
        async with self.redis.pipeline(transaction=False) as pipe:
            for lease in leases:
                key = in_progress_key(lease.job_id)
                if lease.stamped:
                    await self._renew(keys=[key], args=[lease.token, self.lease_ms], client=pipe)
                else:
                    pipe.set(key, lease.token, xx=True, px=self.lease_ms)
            answers = await pipe.execute(raise_on_error=False)
        for lease, answer in zip(leases, answers, strict=True):
            if isinstance(answer, Exception):
                logger.warning("could not renew the lease of job %s: %s", lease.job_id, answer)
            elif not lease.stamped:
                lease.stamped = True  # stamped now (or arq's claim key was already gone: the next renewal says so)
            elif not answer and lease in self._held:
                logger.warning("job %s lost its lease: another worker may be running it now", lease.job_id)
                self._held.discard(lease)
                lease.lost.set()

    async def close(self) -> None:
        self._held.clear()
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
