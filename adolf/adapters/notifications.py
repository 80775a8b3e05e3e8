"""Notification channels: a Telegram bot and a Slack incoming webhook, over aiohttp.

Errors name the channel and the status, never the URL: the bot token and the webhook path are secrets.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from adolf.models.content import Notification
from adolf.settings import Settings

MAX_TEXT = 3500


class ChannelError(Exception):
    """A channel refused or did not take a message."""


def format_text(notification: Notification) -> str:
    data = dict(notification.data)
    headline = data.pop("message", None) or notification.event_type
    prefix = "ALERT " if notification.kind == "alert" else ""
    lines = [f"{prefix}[{notification.event_type}] {headline}"]
    lines += [f"{key}: {value}" for key, value in data.items()]
    return "\n".join(lines)[:MAX_TEXT]


async def _post(session: aiohttp.ClientSession, channel: str, url: str, payload: dict[str, Any]) -> bytes:
    try:
        async with session.post(url, data=orjson.dumps(payload), headers={"Content-Type": "application/json"}) as r:
            body = await r.read()
            if r.status >= 300:
                raise ChannelError(f"{channel} answered HTTP {r.status}")
            return body
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise ChannelError(f"{channel} unreachable: {type(exc).__name__}") from None


class TelegramChannel:
    name = "telegram"

    def __init__(self, session: aiohttp.ClientSession, *, api_url: str, bot_token: str, chat_id: str) -> None:
        self.session = session
        self._url = f"{api_url.rstrip('/')}/bot{bot_token}/sendMessage"
        self.chat_id = chat_id

    async def send(self, notification: Notification) -> None:
        payload = {"chat_id": self.chat_id, "text": format_text(notification), "disable_web_page_preview": True}
        body = await _post(self.session, self.name, self._url, payload)
        try:
            answer = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise ChannelError("telegram answered with a body that is not JSON") from None
        if not isinstance(answer, dict) or answer.get("ok") is not True:
            raise ChannelError(
                f"telegram refused the message: {answer.get('description') if isinstance(answer, dict) else answer}"
            )


class SlackChannel:
    name = "slack"

    def __init__(self, session: aiohttp.ClientSession, *, webhook_url: str) -> None:
        self.session = session
        self._url = webhook_url

    async def send(self, notification: Notification) -> None:
        await _post(self.session, self.name, self._url, {"text": format_text(notification)})


def build_channels(settings: Settings, session: aiohttp.ClientSession) -> list[TelegramChannel | SlackChannel]:
    channels: list[TelegramChannel | SlackChannel] = []
    if settings.telegram_bot_token is not None and settings.telegram_chat_id:
        channels.append(
            TelegramChannel(
                session,
                api_url=settings.telegram_api_url,
                bot_token=settings.telegram_bot_token.get_secret_value(),
                chat_id=settings.telegram_chat_id,
            )
        )
    if settings.slack_webhook_url is not None:
        channels.append(SlackChannel(session, webhook_url=settings.slack_webhook_url.get_secret_value()))
    return channels
