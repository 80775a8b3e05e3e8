"""Real worker processes against the simulator: a SIGKILL mid-run loses and duplicates nothing, and two processes
share one marketplace rate limit without a single limit answer."""

import asyncio
import signal

import orjson

from adolf.limits import DOCUMENTED_RATE_LIMITS
from tests.support.factories import USER_ID, make_draft
from tests.support.waiting import eventually


async def _drafts(db, marketplace, count, prefix):
    skus = [f"{prefix}-{i:03d}" for i in range(count)]
    await marketplace.seed("wb", *({"sku": sku, "title": "Old", "description": "Old"} for sku in skus))
    return [await make_draft(db, marketplace="wb", sku=sku) for sku in skus]


async def _enqueue_all(client, drafts):
    await asyncio.gather(*(client.publish_content(draft_id=d.id, user_id=USER_ID) for d in drafts))


async def test_a_worker_killed_while_publishing_200_drafts_loses_and_duplicates_nothing(
    db, marketplace, client, worker_processes, capsys
):
    drafts = await _drafts(db, marketplace, 200, "K")
    await marketplace.control("PUT", "/config", {"latency_ms": 40})
    await _enqueue_all(client, drafts)

    victim = await worker_processes.start("content_high", ADOLF_CONCURRENCY__CONTENT_HIGH="10")
    published = "SELECT count(*) FROM publications WHERE status = 'published'"
    await eventually(lambda: _at_least(db, published, 40), timeout=60, what="40 cards published")
    await worker_processes.kill(victim, signal.SIGKILL)
    at_kill = await db.fetchval(published)
    assert at_kill < 200, "the kill must land in the middle of the run"

    await worker_processes.start("content_high", ADOLF_CONCURRENCY__CONTENT_HIGH="10")
    await eventually(lambda: _at_least(db, published, 200), timeout=90, interval=0.2, what="all 200 published")

    per_draft = await db.fetch("SELECT draft_id, count(*) AS n, min(status) AS status FROM publications GROUP BY 1")
    assert len(per_draft) == 200 and {(r["n"], r["status"]) for r in per_draft} == {(1, "published")}
    notifications = await db.fetch("SELECT dedup_key FROM notifications WHERE event_type = 'content.published'")
    assert len(notifications) == 200 == len({n["dedup_key"] for n in notifications})
    assert await db.fetchval("SELECT count(*) FROM content_drafts WHERE status = 'published'") == 200
    assert await db.fetchval("SELECT count(*) FROM failed_jobs") == 0
    log = await marketplace.control("GET", "/requests?path_contains=cards/update")
    sent = sum(_cards(entry, "K-") for entry in log if entry["status"] == 200)
    assert 200 <= sent <= 200 + 10  # at most the cards of the requests the kill cut off were sent twice
    with capsys.disabled():
        print(
            f"\n[sigkill] killed with {at_kill}/200 published; after restart 200 published, "
            f"{sent} card updates sent in {len(log)} requests, 200 notifications"
        )


def _cards(entry, prefix):
    """Cards in a logged update request (its skus name each card by vendorCode and by nmID)."""
    return sum(sku.startswith(prefix) for sku in entry["skus"])


async def _at_least(db, query, n):
    return await db.fetchval(query) >= n


async def test_two_worker_processes_share_the_marketplace_limit_without_a_single_429(
    db, marketplace, client, worker_processes, settings, capsys
):
    # ten jobs at a time per process: 30 requests of up to 10 cards, which the two processes must share at 6/s
    limits = {"wb.cards_update": "6/1:2", "wb.cards_list": "40/1:5"}
    await marketplace.control("PUT", "/config", {"rate_limits": {**DOCUMENTED_RATE_LIMITS, **limits}})
    drafts = await _drafts(db, marketplace, 300, "L")
    await _enqueue_all(client, drafts)

    rate_limits = {**settings.rate_limits, **limits}
    for _ in range(2):
        await worker_processes.start(
            "content_high",
            ADOLF_RATE_LIMITS=orjson.dumps(rate_limits).decode(),
            ADOLF_CONCURRENCY__CONTENT_HIGH="10",
        )
    published = "SELECT count(*) FROM publications WHERE status = 'published'"
    await eventually(lambda: _at_least(db, published, 300), timeout=120, interval=0.25, what="300 published")

    counters = await marketplace.counters()
    assert counters["by_status"].get("429", 0) == 0 and counters["rate_limited"] == 0
    log = await marketplace.control("GET", "/requests?path_contains=cards/update")
    times = sorted(entry["ts"] for entry in log)
    cards = sum(_cards(entry, "L-") for entry in log)
    achieved = (len(times) - 2) / (times[-1] - times[0])  # the first 2 ride the burst
    reads = len(await marketplace.control("GET", "/requests?path_contains=cards/list"))
    with capsys.disabled():
        print(
            f"\n[rate limit] 300 WB cards by 2 processes of 10 jobs each: {len(times)} update requests at "
            f"{achieved:.2f}/s against a limit of 6/s (burst 2), {reads} list reads, 0 answered 429"
        )
    assert cards == 300 and len(times) >= 30
    assert achieved <= 6.0
    assert reads < 100  # searches for the first cards, then one walk of the catalog per process, not one per card
