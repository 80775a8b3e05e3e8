"""The worker lanes: the seeds' queues, each its own arq queue with its own concurrency budget."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Lane:
    name: str
    default_concurrency: int
    purpose: str

    @property
    def queue(self) -> str:
        """The arq queue (Redis sorted set) of this lane."""
        return f"adolf:queue:{self.name}"


LANES: dict[str, Lane] = {
    lane.name: lane
    for lane in (
        # a publish job waiting for its batch costs a coroutine: room for full WB batches (3,000 cards) to gather
        Lane("content_high", 5000, "publishing: publish_content, retry_publication"),
        Lane("content_default", 20, "verification: sync_publication_status"),
        Lane("content_low", 10, "housekeeping: cleanup, heartbeats, dead letters"),
        Lane("scout_default", 10, "trend data, opportunity scores, Scout housekeeping"),
        Lane("scout_heavy", 2, "niche analysis (CPU work runs in a process pool)"),
        Lane("scout_export", 4, "report export"),
    )
}
