"""notifications: the outbox of user notifications and operator alerts."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from adolf.db.repositories.base import Repository
from adolf.models.content import Notification

ADD = """
    INSERT INTO notifications (user_id, kind, event_type, data, dedup_key)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (dedup_key) DO NOTHING
    RETURNING *
"""

# a claimed row is leased by pushing next_attempt_at forward: other dispatchers skip it until the lease ends
CLAIM_DUE = """
    UPDATE notifications SET attempts = attempts + 1, next_attempt_at = now() + make_interval(secs => $2)
    WHERE id IN (
        SELECT id FROM notifications
        WHERE status = 'pending' AND next_attempt_at <= now()
        ORDER BY id
        LIMIT $1
        FOR UPDATE SKIP LOCKED
    )
    RETURNING *
"""

MARK_DELIVERED = """
    UPDATE notifications SET status = $2, delivered_at = now(), last_error = NULL
    WHERE id = $1 AND status = 'pending'
"""

MARK_DELIVERED_MANY = """
    UPDATE notifications SET status = $2, delivered_at = now(), last_error = NULL
    WHERE id = ANY($1::bigint[]) AND status = 'pending'
"""

RESCHEDULE = """
    UPDATE notifications SET last_error = $2, next_attempt_at = now() + make_interval(secs => $3)
    WHERE id = $1 AND status = 'pending'
"""

GIVE_UP = """
    UPDATE notifications SET status = 'failed', last_error = $2
    WHERE id = $1 AND status = 'pending'
"""

ADD_SENT_CHANNEL = """
    UPDATE notifications SET sent_channels = array_append(sent_channels, $2)
    WHERE id = $1 AND NOT ($2 = ANY(sent_channels))
"""


class NotificationRepository(Repository[Notification]):
    model = Notification

    async def add(
        self,
        *,
        event_type: str,
        data: dict[str, Any],
        user_id: UUID | None = None,
        kind: str = "notification",
        dedup_key: str | None = None,
    ) -> Notification | None:
        """Store a notification for delivery; None when one with the same dedup_key already exists."""
        return await self._one(ADD, user_id, kind, event_type, data, dedup_key)

    async def claim_due(self, *, limit: int, lease_seconds: float) -> list[Notification]:
        return await self._many(CLAIM_DUE, limit, lease_seconds)

    async def mark_delivered(self, notification_id: int, *, status: str = "sent") -> bool:
        return await self._count(MARK_DELIVERED, notification_id, status) == 1

    async def mark_delivered_many(self, notification_ids: list[int], *, status: str = "sent") -> int:
        return await self._count(MARK_DELIVERED_MANY, notification_ids, status)

    async def add_sent_channel(self, notification_id: int, channel: str) -> bool:
        return await self._count(ADD_SENT_CHANNEL, notification_id, channel) == 1

    async def reschedule(self, notification_id: int, *, error: str, delay_seconds: float) -> bool:
        return await self._count(RESCHEDULE, notification_id, error, delay_seconds) == 1

    async def give_up(self, notification_id: int, *, error: str) -> bool:
        return await self._count(GIVE_UP, notification_id, error) == 1
