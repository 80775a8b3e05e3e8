"""A running job's lease: arq's in-progress key, kept short and renewed while the job runs.

arq marks a claimed job with `arq:in-progress:<id>` for (longest job timeout + 10 s), so a killed worker's job waits
that long before anyone runs it again. The job wrapper instead stamps the key with a token of its own and renews it
every third of the lease, only while the token is still its own: once it is not, another worker has taken the job
over and this run is told so."""

from __future__ import annotations

import asyncio
import logging
import os
import uuid

from arq.constants import in_progress_key_prefix
from redis.asyncio import Redis

logger = logging.getLogger(__name__)

# KEYS[1] in-progress key; ARGV: token, lease ms. 1 = renewed, 0 = the key is gone or someone else's
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""


class Leases:
    def __init__(self, redis: Redis, lease_seconds: float) -> None:
        self.redis = redis
        self.lease_ms = int(lease_seconds * 1000)
        self._renew = redis.register_script(_RENEW)

    async def hold(self, job_id: str, job_try: int) -> None:
        """Run for as long as the job runs (cancel it when the job ends); returns if the lease is lost."""
        key = in_progress_key_prefix + job_id
        token = f"{os.getpid()}:{uuid.uuid4().hex[:12]}:{job_try}"
        try:
            await self.redis.set(key, token, xx=True, px=self.lease_ms)
        except Exception as exc:
            logger.warning("could not stamp the lease of job %s: %s", job_id, exc)
        while True:
            await asyncio.sleep(self.lease_ms / 3000)
            try:
                held = await self._renew(keys=[key], args=[token, self.lease_ms])
            except Exception as exc:  # Redis unreachable: try again; arq's own loop will notice too
                logger.warning("could not renew the lease of job %s: %s", job_id, exc)
                continue
            if not held:
                logger.warning("job %s lost its lease: another worker may be running it now", job_id)
                return
