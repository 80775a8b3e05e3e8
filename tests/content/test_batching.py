"""Batched publishing at the marketplaces' documented limits, through real workers, PostgreSQL, Redis and the
simulator. The documented limits run on a clock ten times faster, the same for the simulator and for our limiter."""

import asyncio
import itertools
import math
from datetime import UTC, datetime, timedelta

import pytest

from adolf.db.pool import STATEMENTS
from adolf.limits import DOCUMENTED_RATE_LIMITS, scaled
from adolf.models.results import PublishContentResult
from tests.conftest import make_settings
from tests.support.factories import USER_ID, make_draft
from tests.support.waiting import eventually

SPEED = 10
FAST_DOCUMENTED = scaled(DOCUMENTED_RATE_LIMITS, SPEED)
WINDOW = 0.25


@pytest.fixture
async def documented(marketplace, sandbox_server):
    """The simulator and the workers both at the documented limits (10x clock)."""
    await marketplace.control("PUT", "/config", {"rate_limits": FAST_DOCUMENTED, "apply_delay_s": 0.05})
    return make_settings(sandbox_server.url, rate_limits=FAST_DOCUMENTED, batch_window=WINDOW)


async def _seed_drafts(db, marketplace, mp, skus, **content):
    await marketplace.seed(mp, *({"sku": sku, "title": "Old", "description": "Old"} for sku in skus))
    return [await make_draft(db, marketplace=mp, sku=sku, **content.get(sku, {})) for sku in skus]


async def _publish_all(client, drafts):
    return await asyncio.gather(*(client.publish_content(draft_id=d.id, user_id=USER_ID) for d in drafts))


def _cards(entry, prefix):
    return [sku for sku in entry["skus"] if sku.startswith(prefix)]


async def test_300_wb_drafts_go_in_a_few_full_requests_at_the_documented_limits(
    db, marketplace, client, burst, rows, documented
):
    drafts = await _seed_drafts(db, marketplace, "wb", [f"B-{i:04d}" for i in range(300)])
    jobs = await _publish_all(client, drafts)
    group = await burst(["content_high"], settings_=documented)

    results = [(await job.result_info()).result for job in jobs]
    by_draft = {p["draft_id"]: p for p in await rows.publications()}
    for draft, result in zip(drafts, results, strict=True):
        publication = by_draft[draft.id]
        expected = PublishContentResult(success=True, publication_id=publication["id"], nm_id=publication["nm_id"])
        assert result == expected.wire()
        assert publication["status"] == "published" and publication["published_at"] is not None
        assert (publication["retry_count"], publication["error_code"]) == (0, None)
    assert group.workers["content_high"].jobs_retried == 0
    assert await db.fetchval("SELECT count(*) FROM content_drafts WHERE status = 'published'") == 300
    assert len(await rows.notifications("content.published")) == 300

    counters = await marketplace.counters()
    assert counters["rate_limited"] == 0
    updates = sorted(await marketplace.control("GET", "/requests?path_contains=cards/update"), key=lambda e: e["ts"])
    sent = [sku for entry in updates for sku in _cards(entry, "B-")]
    assert sorted(sent) == sorted(d.sku for d in drafts)  # every card exactly once
    for before, after in itertools.pairwise(updates):  # one request per gathering window at most
        assert after["ts"] - before["ts"] >= 0.9 * WINDOW or len(_cards(before, "B-")) == 3000
    assert len(updates) <= 5
    reads = await marketplace.control("GET", "/requests?path_contains=cards/list")
    assert len(reads) <= math.ceil(300 / 100) + 20  # one walk of the catalog (after a few searches), not one per card


async def test_one_bad_card_per_marketplace_fails_alone_with_the_marketplaces_own_reason(
    db, marketplace, client, burst, rows, documented
):
    too_long = {"wb": "Ж" * 61, "ozon": "Ж" * 501, "ym": "Ж" * 257}
    drafts = {}
    for mp in ("wb", "ozon", "ym"):
        skus = [f"{mp.upper()}-{i}" for i in range(12)]
        drafts[mp] = await _seed_drafts(db, marketplace, mp, skus, **{f"{mp.upper()}-5": {"title": too_long[mp]}})
    jobs = await _publish_all(client, [d for group in drafts.values() for d in group])
    await burst(["content_high"], settings_=documented)

    everything = [d for group in drafts.values() for d in group]
    results = {d.sku: (await job.result_info()).result for d, job in zip(everything, jobs, strict=True)}
    ozon_bad, ym_bad = results.pop("OZON-5"), results.pop("YM-5")
    assert all(result["success"] for result in results.values())  # WB-5 too: WB accepts it and rejects it later
    assert ozon_bad["error_code"] == "VALIDATION_ERROR" and "maximum is 500" in ozon_bad["error_message"]
    assert ym_bad["error_code"] == "VALIDATION_ERROR" and "maximum is 256" in ym_bad["error_message"]
    ym_updates = await marketplace.control("GET", "/requests?path_contains=offer-mappings/update")
    assert [(e["status"], len(e["skus"])) for e in ym_updates] == [(200, 11)]  # YM-5 failed before it was sent

    wb_bad = next(d for d in drafts["wb"] if d.sku == "WB-5")

    async def rejected_by_wb():  # WB applies an accepted update later; only then is the card in its error list
        return (await marketplace.counters())["cards_rejected"]["wb"] == 1

    await eventually(rejected_by_wb, what="WB's rejection of WB-5")
    sync = await client.sync_publication_status()
    await burst(["content_default"], settings_=documented)
    assert (await sync.result_info()).result["rejected"] == 1
    statuses = {p["sku"]: (p["status"], p["error_message"]) for p in await rows.publications()}
    failed = {sku: message for sku, (status, message) in statuses.items() if status == "failed"}
    assert set(failed) == {"WB-5", "OZON-5", "YM-5"}
    assert "превышена максимальная длина 60" in failed[wb_bad.sku]


async def test_a_limit_answer_mid_batch_sends_exactly_its_cards_again_and_costs_no_try(
    db, marketplace, client, burst, rows, documented
):
    drafts = await _seed_drafts(db, marketplace, "ym", [f"Y-{i:03d}" for i in range(150)])
    await marketplace.fault(kind="rate_limit", marketplace="ym", path_contains="offer-mappings/update", sku="Y-120")
    jobs = await _publish_all(client, drafts)
    group = await burst(["content_high"], settings_=documented)

    assert {(await job.result_info()).job_try for job in jobs} == {1}
    assert group.workers["content_high"].jobs_retried == 0
    publications = await rows.publications()
    assert {(p["status"], p["retry_count"], p["error_code"]) for p in publications} == {("published", 0, None)}
    updates = sorted(
        await marketplace.control("GET", "/requests?path_contains=offer-mappings/update"), key=lambda e: e["ts"]
    )
    [limited] = [e for e in updates if e["status"] == 420]
    accepted = [sku for e in updates if e["status"] == 200 for sku in e["skus"]]
    assert sorted(accepted) == sorted(d.sku for d in drafts)  # each card accepted once
    sent_twice = {sku for sku in accepted if sku in limited["skus"]}
    assert "Y-120" in limited["skus"] and sent_twice == set(limited["skus"])  # exactly the limited ones went again


async def test_a_job_whose_slot_is_beyond_its_deadline_is_deferred_without_spending_a_try(
    db, marketplace, client, lane_group, rows, sandbox_server
):
    limits = {"wb.cards_update": "1/3:1"}  # one update every 3 s, longer than a run may wait here
    await marketplace.control("PUT", "/config", {"rate_limits": limits})
    settings = make_settings(sandbox_server.url, rate_limits=limits, publish_soft_timeout=1.5, batch_window=0.05)
    first, second = await _seed_drafts(db, marketplace, "wb", ["D-1", "D-2"])
    group = await lane_group(["content_high"], settings_=settings)
    one = await client.publish_content(draft_id=first.id, user_id=USER_ID)
    assert (await one.result(timeout=10))["success"]
    two = await client.publish_content(draft_id=second.id, user_id=USER_ID)  # its slot is ~3 s away

    assert (await two.result(timeout=30))["success"]
    info = await two.result_info()
    assert group.workers["content_high"].jobs_retried >= 1 and info.job_try == 1  # deferred at no cost of a try
    [publication] = await rows.publications(second.id)
    assert (publication["retry_count"], publication["error_code"]) == (0, None)


async def test_a_card_put_back_by_a_limit_answer_is_never_sent_after_its_job_stopped_waiting(
    db, marketplace, client, lane_group, rows, sandbox_server
):
    # the 420 comes back after the card's send deadline and names a time past the run's answer deadline
    await marketplace.seed("ym", {"sku": "ORPH-1", "title": "Old", "description": "Old"})
    draft = await make_draft(db, marketplace="ym", sku="ORPH-1", attributes={})  # nothing to read before sending
    await marketplace.control("PUT", "/config", {"latency_ms": 2500})
    await marketplace.fault(kind="rate_limit", marketplace="ym", path_contains="offer-mappings/update", times=1)
    settings = make_settings(sandbox_server.url, publish_soft_timeout=3.0, http_timeout=5.0, batch_window=0.02)
    await lane_group(["content_high"], settings_=settings)

    job = await client.publish_content(draft_id=draft.id, user_id=USER_ID)
    assert (await job.result(timeout=30))["success"]

    log = await marketplace.control("GET", "/requests?path_contains=offer-mappings/update")
    assert [e["status"] for e in log] == [420, 200]  # the run that met the 420 left nothing to be sent later
    [publication] = await rows.publications(draft.id)
    assert publication["status"] == "published"


async def test_a_used_up_ozon_daily_quota_defers_the_job_until_it_resets_at_no_cost_of_a_try(
    db, marketplace, client, lane_group, rows, documented
):
    await marketplace.control("PUT", "/config", {"ozon_daily_update_limit": 1})
    first, second = await _seed_drafts(db, marketplace, "ozon", ["QUOTA-1", "QUOTA-2"])
    await lane_group(["content_high"], settings_=documented)
    assert (await (await client.publish_content(draft_id=first.id, user_id=USER_ID)).result(timeout=20))["success"]

    waiting = await client.publish_content(draft_id=second.id, user_id=USER_ID)

    async def deferred():
        return (await waiting.status()).value == "deferred"

    await eventually(deferred, timeout=20, what="the second job deferred to the quota's reset")
    score = await client.redis.zscore("adolf:queue:content_high", waiting.job_id)
    now = datetime.now(UTC)
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert abs(score / 1000 - midnight.timestamp()) < 5  # when Ozon's counter resets, not a retry ladder step
    [publication] = await rows.publications(second.id)
    assert (publication["status"], publication["retry_count"], publication["error_code"]) == ("processing", 0, None)


async def test_the_publish_jobs_of_one_process_share_their_database_statements(
    db, marketplace, client, burst, rows, documented
):
    """Issue 8, finding 7: several queries and two transactions per card made PostgreSQL round trips the largest
    share of a publish job's CPU. The jobs of one process now read, claim and record in shared statements."""
    drafts = await _seed_drafts(db, marketplace, "wb", [f"S-{i:04d}" for i in range(200)])
    jobs = await _publish_all(client, drafts)
    before = STATEMENTS._value.get()
    await burst(["content_high"], settings_=documented)
    statements = STATEMENTS._value.get() - before

    assert [(await job.result_info()).result["success"] for job in jobs] == [True] * 200
    assert len(await rows.notifications("content.published")) == 200
    assert await db.fetchval("SELECT count(*) FROM content_drafts WHERE status = 'published'") == 200
    assert statements < len(drafts), f"{statements} statements for {len(drafts)} publish jobs (8.5 a job before)"
