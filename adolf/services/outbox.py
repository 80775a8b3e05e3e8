"""Delivers the notification outbox to the configured channels: retried with backoff, never lost.

Rows are leased (claim_due pushes next_attempt_at forward) so several processes can dispatch at once. A channel that
took a message is recorded before the next one is tried, so a retry never repeats a channel that succeeded. Delivery
is at-least-once only across a crash between a channel's answer and that record.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

import asyncpg

from adolf.db.repositories.notifications import NotificationRepository
from adolf.errors import is_infra_error
from adolf.models.content import Notification

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 600.0


class Channel(Protocol):
    name: str

    async def send(self, notification: Notification) -> None:
        """Deliver, or raise."""


class OutboxDispatcher:
    def __init__(
        self,
        db: asyncpg.Pool,
        channels: list[Channel],
        *,
        poll_interval: float = 2.0,
        batch_size: int = 50,
        max_attempts: int = 20,
        lease_seconds: float = 60.0,
        max_backoff: float = MAX_BACKOFF_SECONDS,
    ) -> None:
        self.db = db
        self.channels = channels
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.lease_seconds = lease_seconds
        self.max_backoff = max_backoff
        self._kick = asyncio.Event()

    def kick(self) -> None:
        """Deliver now rather than at the next poll."""
        self._kick.set()

    async def run_forever(self) -> None:
        while True:
            try:
                delivered = await self.deliver_due()
            except Exception as exc:
                if not is_infra_error(exc):
                    logger.exception("outbox dispatch failed")
                else:
                    logger.warning("outbox paused, database unavailable: %s", exc)
                delivered = 0
            if delivered < self.batch_size:
                await self._wait()

    async def _wait(self) -> None:
        try:
            await asyncio.wait_for(self._kick.wait(), self.poll_interval)
        except TimeoutError:
            pass
        self._kick.clear()

    async def deliver_due(self) -> int:
        """Deliver one batch of due notifications; returns how many were claimed."""
        claimed = await NotificationRepository(self.db).claim_due(
            limit=self.batch_size, lease_seconds=self.lease_seconds
        )
        delivered = await asyncio.gather(*(self._deliver(n) for n in claimed))
        done = [n.id for n, ok in zip(claimed, delivered, strict=True) if ok]
        if done:  # one statement for the whole batch
            await NotificationRepository(self.db).mark_delivered_many(
                done, status="sent" if self.channels else "logged"
            )
        return len(claimed)

    async def _deliver(self, notification: Notification) -> bool:
        """Send to every channel not yet reached; True when all took it (the caller marks it delivered)."""
        if not self.channels:
            _log_undelivered(notification)
            return True
        repo = NotificationRepository(self.db)
        try:
            for channel in self.channels:
                if channel.name not in notification.sent_channels:
                    await channel.send(notification)
                    await repo.add_sent_channel(notification.id, channel.name)
        except Exception as exc:
            await self._failed(repo, notification, exc)
            return False
        return True

    async def _failed(self, repo: NotificationRepository, notification: Notification, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"
        if notification.attempts >= self.max_attempts:
            logger.error("giving up notification %s after %d attempts: %s", notification.id, self.max_attempts, error)
            await repo.give_up(notification.id, error=error)
            return
        delay = min(2.0**notification.attempts, self.max_backoff)
        logger.warning("notification %s not delivered (%s), next try in %.0fs", notification.id, error, delay)
        await repo.reschedule(notification.id, error=error, delay_seconds=delay)


def _log_undelivered(notification: Notification) -> None:
    level = logging.WARNING if notification.kind == "alert" else logging.INFO
    logger.log(
        level,
        "%s %s (no channel configured)",
        notification.kind,
        notification.event_type,
        extra={"notification_id": notification.id, "user_id": notification.user_id, "data": notification.data},
    )
