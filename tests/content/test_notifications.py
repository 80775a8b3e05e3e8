"""The outbox: delivered to Telegram and Slack (a local HTTP receiver stands in for both), retried, never lost,
never sent twice to a channel that took it; logged when no channel is configured."""

import asyncio

import orjson
import pytest
from aiohttp import web

from adolf.adapters.notifications import build_channels
from adolf.services.notifications import send_alert, send_notification
from adolf.services.outbox import OutboxDispatcher
from tests.conftest import make_settings
from tests.support.factories import USER_ID
from tests.support.waiting import eventually


class Receiver:
    """Answers like the Telegram Bot API and a Slack webhook, failing the first `fail[channel]` calls."""

    def __init__(self) -> None:
        self.received: dict[str, list[dict]] = {"telegram": [], "slack": []}
        self.fail = {"telegram": 0, "slack": 0}
        self.paths: list[str] = []

    async def telegram(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        if self._failing("telegram"):
            return web.json_response({"ok": False, "error_code": 502, "description": "Bad Gateway"}, status=502)
        self.received["telegram"].append(await request.json())
        return web.json_response({"ok": True, "result": {"message_id": len(self.received["telegram"])}})

    async def slack(self, request: web.Request) -> web.Response:
        if self._failing("slack"):
            return web.Response(status=500, text="internal_error")
        self.received["slack"].append(await request.json())
        return web.Response(text="ok")

    def _failing(self, channel: str) -> bool:
        if self.fail[channel] > 0:
            self.fail[channel] -= 1
            return True
        return False


@pytest.fixture
async def receiver():
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/bot{token}/sendMessage", receiver.telegram)
    app.router.add_post("/services/T000/B000/secret", receiver.slack)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    yield receiver
    await runner.cleanup()


@pytest.fixture
async def dispatcher(db, receiver, http_session):
    settings = make_settings(
        telegram_bot_token="123456:SECRET-BOT-TOKEN",
        telegram_chat_id="-100500",
        telegram_api_url=receiver.url,
        slack_webhook_url=f"{receiver.url}/services/T000/B000/secret",
    )
    return OutboxDispatcher(db, build_channels(settings, http_session), poll_interval=0.05, max_attempts=5)


async def _status(db, notification_id):
    return await db.fetchrow(
        "SELECT status, attempts, sent_channels, last_error FROM notifications WHERE id = $1", notification_id
    )


async def test_a_notification_reaches_both_channels_once(db, dispatcher, receiver):
    note = await send_notification(
        db,
        user_id=USER_ID,
        event_type="content.published",
        data={"sku": "A-1", "marketplace": "wb", "nm_id": "42"},
        dedup_key="p:1",
    )
    assert (
        await send_notification(db, user_id=USER_ID, event_type="content.published", data={}, dedup_key="p:1") is None
    )

    assert await dispatcher.deliver_due() == 1

    [telegram], [slack] = receiver.received["telegram"], receiver.received["slack"]
    assert telegram["chat_id"] == "-100500" and "[content.published]" in telegram["text"] and "A-1" in telegram["text"]
    assert "sku: A-1" in slack["text"]
    assert receiver.paths == ["/bot123456:SECRET-BOT-TOKEN/sendMessage"]
    row = await _status(db, note.id)
    assert (row["status"], row["attempts"], sorted(row["sent_channels"])) == ("sent", 1, ["slack", "telegram"])
    assert await dispatcher.deliver_due() == 0


async def test_a_failing_channel_is_retried_without_repeating_the_one_that_took_it(db, dispatcher, receiver):
    receiver.fail["slack"] = 2
    alert = await send_alert(db, event_type="job.failed", message="Task x permanently failed")
    dispatcher.max_backoff = 0.1
    runner = asyncio.create_task(dispatcher.run_forever())
    try:
        await eventually(lambda: _is_sent(db, alert.id), timeout=10, what="alert delivered")
    finally:
        runner.cancel()
    assert len(receiver.received["telegram"]) == 1 and len(receiver.received["slack"]) == 1
    assert receiver.received["telegram"][0]["text"].startswith("ALERT [job.failed] Task x permanently failed")
    assert (await _status(db, alert.id))["attempts"] == 3


async def _is_sent(db, notification_id):
    return (await _status(db, notification_id))["status"] == "sent"


async def test_a_channel_down_for_good_gives_up_after_max_attempts_and_keeps_the_row(db, dispatcher, receiver):
    receiver.fail["telegram"] = 100
    note = await send_notification(db, user_id=USER_ID, event_type="content.publish_error", data={"sku": "B"})
    for _ in range(5):
        await db.execute("UPDATE notifications SET next_attempt_at = now() WHERE id = $1", note.id)
        await dispatcher.deliver_due()
    row = await _status(db, note.id)
    assert (row["status"], row["attempts"]) == ("failed", 5)
    assert row["last_error"] == "ChannelError: telegram answered HTTP 502" and "SECRET" not in row["last_error"]


async def test_without_channels_notifications_are_logged_and_marked(db, caplog):
    caplog.set_level("INFO", logger="adolf.services.outbox")
    note = await send_notification(db, user_id=USER_ID, event_type="content.published", data={"sku": "C"})
    await OutboxDispatcher(db, []).deliver_due()
    assert (await _status(db, note.id))["status"] == "logged"
    assert "content.published (no channel configured)" in caplog.text


def test_channels_are_built_only_when_configured():
    assert build_channels(make_settings(), None) == []
    settings = make_settings(slack_webhook_url="https://hooks.slack.com/services/x")
    assert [c.name for c in build_channels(settings, None)] == ["slack"]
    assert orjson.dumps(settings.model_dump(mode="json")).find(b"hooks.slack.com/services/x") == -1
