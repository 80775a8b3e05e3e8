"""send_notification / send_alert: rows in the outbox, delivered to channels by OutboxDispatcher."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from adolf.db.repositories.base import Executor
from adolf.db.repositories.notifications import NotificationRepository
from adolf.models.content import Notification


async def send_notification(
    db: Executor, *, user_id: UUID | None, event_type: str, data: dict[str, Any], dedup_key: str | None = None
) -> Notification | None:
    """Queue a user notification; with a dedup_key, a re-run job cannot queue it twice (returns None then)."""
    return await NotificationRepository(db).add(user_id=user_id, event_type=event_type, data=data, dedup_key=dedup_key)


async def send_alert(
    db: Executor, *, event_type: str, message: str, data: dict[str, Any] | None = None, dedup_key: str | None = None
) -> Notification | None:
    """Queue an operator alert (Slack/Telegram, or the log when no channel is configured)."""
    return await NotificationRepository(db).add(
        kind="alert", event_type=event_type, data={"message": message, **(data or {})}, dedup_key=dedup_key
    )
