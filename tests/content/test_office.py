"""OfficeReporter: state in Redis for every process, pushed to a dashboard when configured, never failing a job."""

import orjson
import pytest
from aiohttp import web
from redis.asyncio import Redis

from adolf.services.office import AGENTS, OfficeReporter, all_agents, build_reporters
from tests.support.waiting import eventually


async def test_reports_are_visible_in_redis_with_the_agents_profile(redis):
    reporters = build_reporters(redis)
    descriptions = reporters["content_descriptions"]
    await descriptions.report_working("Публикация SKU-1 на wb")
    assert (await descriptions.state())["status"] == "working"
    await descriptions.report_idle(metrics={"last_published_sku": "SKU-1", "marketplace": "wb"})
    await descriptions.report_idle(metrics={"marketplace": "ozon"})
    await reporters["content_seo"].report_error("RATE_LIMIT: 429")
    await reporters["scout_niche"].heartbeat()

    agents = {a["agent_id"]: a for a in await all_agents(redis)}
    assert set(agents) == {"content_descriptions", "content_seo", "scout_niche"}
    state = agents["content_descriptions"]
    assert (state["name"], state["salary_equivalent"], state["fte_coefficient"], state["status"]) == (
        "Генератор описаний",
        60000,
        1.0,
        "idle",
    )
    assert state["metrics"] == {"last_published_sku": "SKU-1", "marketplace": "ozon"}
    assert (agents["content_seo"]["status"], agents["content_seo"]["last_error"]) == ("error", "RATE_LIMIT: 429")
    assert "last_heartbeat" in agents["scout_niche"]
    assert {a[0] for a in AGENTS} == set(agents)


async def test_an_unreachable_redis_never_fails_the_caller(caplog):
    dead = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    reporter = OfficeReporter(
        agent_id="content_seo",
        department="content_factory",
        name="SEO",
        salary_equivalent=1,
        fte_coefficient=1.0,
        redis=dead,
    )
    await reporter.report_working("x")
    await reporter.report_error("y")
    await reporter.heartbeat()
    await dead.aclose()
    assert caplog.text.count("office report for content_seo failed") == 3


@pytest.fixture
async def dashboard():
    received = []

    async def agent(request: web.Request) -> web.Response:
        received.append((request.match_info["agent_id"], await request.json()))
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/agents/{agent_id}", agent)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}", received
    await runner.cleanup()


async def test_state_is_pushed_to_an_external_dashboard(redis, dashboard, http_session):
    url, received = dashboard
    reporter = build_reporters(redis, push_session=http_session, dashboard_url=url)["content_descriptions"]
    await reporter.report_working("Публикация")
    await eventually(lambda: _async(received), what="dashboard push")
    agent_id, state = received[0]
    assert agent_id == "content_descriptions" and state["status"] == "working"
    assert orjson.dumps(state)  # plain JSON


async def _async(value):
    return value


async def test_a_flushing_reporter_writes_the_latest_of_many_reports_at_once(redis):
    reporter = build_reporters(redis, flush_interval=0.05)["content_descriptions"]
    await reporter.report_working("Публикация SKU-1 на wb")
    for i in range(100):
        await reporter.report_idle(metrics={"last_published_sku": f"SKU-{i}", "marketplace": "wb"})
    assert await redis.exists("adolf:office:agent:content_descriptions") == 0  # nothing written yet

    async def flushed():
        return (await reporter.state()).get("metrics")

    metrics = await eventually(flushed, what="the coalesced write")
    assert metrics == {"last_published_sku": "SKU-99", "marketplace": "wb"}
    assert (await reporter.state())["status"] == "idle"
    await reporter.report_error("RATE_LIMIT: 429")
    await reporter.close()  # what is still pending is written on close
    assert (await reporter.state())["last_error"] == "RATE_LIMIT: 429"
