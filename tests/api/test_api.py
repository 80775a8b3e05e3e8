"""The HTTP API over real HTTP (an in-process aiohttp server), real PostgreSQL, Redis and arq lanes."""

from __future__ import annotations

import hashlib
import os
from uuid import uuid4

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from adolf.api.app import MAX_BODY, create_app
from adolf.api.openapi import OPENAPI
from adolf.api.tokens import create_token
from adolf.db.repositories.scout import ScoutRepository
from adolf.scout.synthetic import Shape, weekly_series
from tests.scout.test_scout_jobs import _last_week
from tests.support.factories import USER_ID, make_draft
from tests.support.waiting import eventually


@pytest.fixture
async def api(db, redis, client):
    server = TestServer(create_app(db, client))
    await server.start_server()
    async with aiohttp.ClientSession(base_url=str(server.make_url(""))) as session:
        yield session
    await server.close()


@pytest.fixture
async def tokens(db):
    return {
        "write": await create_token(db, user_id=USER_ID),
        "read": await create_token(db, user_id=USER_ID, read_only=True),
    }


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def call(api, method, path, token=None, **kwargs):
    async with api.request(method, path, headers=bearer(token) if token else {}, **kwargs) as response:
        body = await response.json(content_type=None) if response.content_type == "application/json" else None
        return response.status, body


async def test_tokens_are_stored_as_hashes_and_checked(api, db, tokens):
    stored = await db.fetch("SELECT token_sha256, scopes FROM api_tokens")
    assert {bytes(r["token_sha256"]) for r in stored} == {hashlib.sha256(t.encode()).digest() for t in tokens.values()}
    status, body = await call(api, "GET", "/failed")
    assert (status, body["code"]) == (401, "UNAUTHORIZED") and "Bearer" in body["message"]
    status, body = await call(api, "GET", "/failed", "adolf_not-a-token")
    assert status == 401 and body["code"] == "UNAUTHORIZED"
    status, body = await call(api, "POST", "/publish", tokens["read"], json={"draft_id": str(uuid4())})
    assert (status, body["code"]) == (403, "READ_ONLY")
    assert (await call(api, "GET", "/failed", tokens["read"]))[0] == 200
    assert (await call(api, "GET", "/health"))[0] == 200 and (await call(api, "GET", "/openapi.json"))[0] == 200


async def test_publish_as_seed_7_10(api, db, tokens, burst, marketplace):
    token = tokens["write"]
    status, body = await call(api, "POST", "/publish", token, json={"draft_id": str(uuid4())})
    assert (status, body) == (404, {"code": "DRAFT_NOT_FOUND", "message": "Draft not found"})
    invalid = await make_draft(db, is_valid=False, validation_errors=["title too long"])
    status, body = await call(api, "POST", "/publish", token, json={"draft_id": str(invalid.id)})
    assert (status, body["code"]) == (400, "DRAFT_NOT_VALID")
    await marketplace.seed("wb", {"sku": "API-1", "title": "Old", "description": "Old"})
    draft = await make_draft(db, marketplace="wb", sku="API-1")
    status, body = await call(api, "POST", "/publish", token, json={"draft_id": str(draft.id)})
    assert status == 200 and body["status"] == "queued" and body["message"] == "Publication started"
    status, queued = await call(api, "GET", f"/publish/{body['task_id']}/status", token)
    assert status == 200 and queued["status"] in {"queued", "deferred"} and queued["result"] is None
    await burst(["content_high"])
    status, done = await call(api, "GET", f"/publish/{body['task_id']}/status", tokens["read"])
    assert done["status"] == "complete" and done["result"]["success"] is True and done["outcome"] == "success"
    assert (await call(api, "GET", "/publish/nope/status", token))[0] == 404


async def test_a_failed_publications_status_and_job_carry_its_error_code_and_message(api, tokens, client, burst):
    job = await client.publish_content(draft_id=uuid4(), user_id=USER_ID)  # a draft deleted after the enqueue
    await burst(["content_high"])
    status, done = await call(api, "GET", f"/publish/{job.job_id}/status", tokens["read"])
    assert status == 200 and (done["outcome"], done["error_code"], done["error_message"]) == (
        "failed",
        "DRAFT_NOT_FOUND",
        "Draft not found",
    )
    assert done["result"]["error_code"] == "DRAFT_NOT_FOUND" and "error" not in done and "error" not in done["result"]
    status, detail = await call(api, "GET", f"/jobs/{job.job_id}", tokens["read"])
    assert status == 200 and (detail["error_code"], detail["error_message"]) == ("DRAFT_NOT_FOUND", "Draft not found")
    assert "error" not in detail and detail["runs"][0]["error_message"] == "Draft not found"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "MALFORMED_JSON"),
        (b"[1, 2]", "INVALID_BODY"),
        (b'{"draft_id": 5}', "INVALID_BODY"),
        (b'{"draft_id": "x"}', "INVALID_BODY"),
        (b'{"draft_id": "00000000-0000-4000-8000-000000000001", "extra": 1}', "INVALID_BODY"),
    ],
)
async def test_bad_bodies_are_4xx_json(api, tokens, body, code):
    status, answer = await call(api, "POST", "/publish", tokens["write"], data=body)
    assert (status, answer["code"]) == (400, code)


async def test_oversized_bodies_and_unknown_paths_are_json(api, tokens):
    big = b'{"draft_id": "' + b"x" * (MAX_BODY + 10) + b'"}'
    status, answer = await call(api, "POST", "/publish", tokens["write"], data=big)
    assert (status, answer["code"]) == (413, "BODY_TOO_LARGE")
    status, answer = await call(api, "GET", "/nowhere", tokens["read"])
    assert status == 404 and answer["code"] == "NOT_FOUND"
    status, answer = await call(api, "GET", "/jobs?limit=abc", tokens["read"])
    assert (status, answer["code"]) == (400, "INVALID_QUERY")
    status, answer = await call(api, "GET", "/analyses/not-an-id", tokens["read"])
    assert status == 404


async def test_analysis_export_and_download(api, db, tokens, burst):
    repo = ScoutRepository(db)
    niche_id = await repo.ensure_niche("Кофе", "ozon", queries=["кофе"])
    await repo.upsert_trends(niche_id, weekly_series(Shape(), weeks=120, last_week=_last_week()), source="csv")
    status, queued = await call(
        api, "POST", f"/niches/{niche_id}/analyses", tokens["write"], json={"params": {"cost": 300}}
    )
    assert status == 202
    analysis_id = queued["analysis_id"]
    status, _ = await call(api, "POST", f"/analyses/{analysis_id}/reports", tokens["write"], json={"format": "csv"})
    assert status == 404  # not written until the job runs
    await burst(["scout_heavy", "scout_default"])
    status, found = await call(api, "GET", f"/analyses/{analysis_id}", tokens["read"])
    assert status == 200 and found["status"] == "completed" and found["params"]["cost"] == 300
    status, _ = await call(api, "POST", f"/analyses/{analysis_id}/reports", tokens["write"], json={"format": "pdf"})
    assert status == 400
    status, _ = await call(api, "POST", f"/analyses/{analysis_id}/reports", tokens["write"], json={"format": "csv"})
    assert status == 202
    assert (await call(api, "GET", f"/analyses/{analysis_id}/reports/csv", tokens["read"]))[0] == 404
    await burst(["scout_export"])
    async with api.get(f"/analyses/{analysis_id}/reports/csv", headers=bearer(tokens["read"])) as response:
        assert response.status == 200 and "attachment" in response.headers["Content-Disposition"]
        assert "history" in (await response.read()).decode("utf-8-sig")
    status, runs = await call(api, "GET", f"/jobs?niche_id={niche_id}", tokens["read"])
    assert status == 200 and {r["job_name"] for r in runs} >= {"scout.tasks.analyze_niche"}
    status, _ = await call(api, "POST", f"/niches/{uuid4()}/analyses", tokens["write"], json={})
    assert status == 404


async def test_failed_jobs_list_and_retry_and_agents(api, db, tokens, burst, client):
    from tests.ops.test_operator_cli import _dead_letter

    failed_id = await _dead_letter(db)
    status, rows = await call(api, "GET", "/failed", tokens["read"])
    assert status == 200 and rows[0]["id"] == failed_id
    status, queued = await call(api, "POST", f"/failed/{failed_id}/retry", tokens["write"])
    assert status == 202
    status, again = await call(api, "POST", f"/failed/{failed_id}/retry", tokens["write"])
    assert (status, again["code"]) == (409, "NOT_RETRIED")
    assert (await call(api, "POST", "/failed/999999/retry", tokens["write"]))[0] == 404
    await burst(["content_low"])
    status, job = await call(api, "GET", f"/jobs/{queued['task_id']}", tokens["read"])
    assert status == 200 and job["status"] == "complete" and job["runs"][0]["status"] == "success"
    status, agents = await call(api, "GET", "/agents", tokens["read"])
    assert status == 200 and isinstance(agents, list)


def test_the_openapi_document_names_every_route():
    from adolf.api.app import create_app as build

    app = build(None, None)  # type: ignore[arg-type]
    routes = {(r.method.lower(), r.resource.canonical) for r in app.router.routes() if r.method != "HEAD"}
    documented = {(m, p) for p, ops in OPENAPI["paths"].items() for m in ops}
    assert routes == documented


async def test_a_failed_publication_is_retried_from_its_history_and_published(api, db, tokens, burst, marketplace):
    await marketplace.seed("wb", {"sku": "RETRY-1", "title": "Old", "description": "Old"})
    await marketplace.fault(kind="validation", marketplace="wb", sku="RETRY-1", path_contains="update", times=0)
    draft = await make_draft(db, marketplace="wb", sku="RETRY-1")
    status, queued = await call(api, "POST", "/publish", tokens["write"], json={"draft_id": str(draft.id)})
    await burst(["content_high"])
    status, failed = await call(api, "GET", "/jobs?status=failed&draft_id=" + str(draft.id), tokens["read"])
    assert status == 200 and [r["job_id"] for r in failed] == [queued["task_id"]]
    assert failed[0]["error_code"] == "VALIDATION_ERROR"
    by_sku = (await call(api, "GET", "/jobs?sku=RETRY-1", tokens["read"]))[1]
    assert [r["job_id"] for r in by_sku] == [queued["task_id"]]
    assert (await call(api, "GET", "/jobs?sku=OTHER", tokens["read"]))[1] == []
    await marketplace.control("DELETE", "/faults")
    status, _ = await call(api, "POST", f"/jobs/{queued['task_id']}/retry", tokens["read"])
    assert status == 403
    status, again = await call(api, "POST", f"/jobs/{queued['task_id']}/retry", tokens["write"])
    assert status == 202
    await burst(["content_high"])
    status, done = await call(api, "GET", f"/publish/{again['task_id']}/status", tokens["read"])
    assert done["outcome"] == "success" and done["result"]["success"] is True
    assert (await call(api, "POST", "/jobs/nope/retry", tokens["write"]))[0] == 404


async def test_dashboard_data_endpoints(api, tokens, client, burst):
    await client.cleanup_old_drafts()
    status, me = await call(api, "GET", "/me", tokens["read"])
    assert status == 200 and me["can_write"] is False
    status, lanes = await call(api, "GET", "/queues", tokens["read"])
    low = next(lane for lane in lanes if lane["lane"] == "content_low")
    assert (low["queued"], low["worker_polling"]) == (1, False)
    await burst(["content_low"])
    status, series = await call(api, "GET", "/stats?window=1h", tokens["read"])
    assert status == 200 and sum(row["succeeded"] for row in series) == 1
    assert (await call(api, "GET", "/stats?window=1y", tokens["read"]))[0] == 400
    async with api.get("/dashboard") as response:
        page = await response.text()
        assert response.status == 200 and response.content_type == "text/html"
    assert 'id="lanes"' in page and "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page


async def test_a_deferred_job_is_listed_active_and_aborted(api, tokens, client, burst, db):
    job = await client.enqueue("tests.slow", key="api-abort", seconds=0, _defer_by=3600)
    status, listed = await call(api, "GET", "/active?lane=content_default", tokens["read"])
    assert status == 200
    entry = next(row for row in listed if row["job_id"] == job.job_id)
    assert (entry["state"], entry["function"], entry["args"]["key"]) == ("deferred", "tests.slow", "api-abort")
    assert (await call(api, "GET", "/active?lane=nope", tokens["read"]))[0] == 400

    assert (await call(api, "POST", f"/jobs/{job.job_id}/abort", tokens["read"]))[0] == 403
    status, body = await call(api, "POST", f"/jobs/{job.job_id}/abort", tokens["write"])
    assert (status, body) == (202, {"status": "abort_requested", "job_id": job.job_id})
    listed = (await call(api, "GET", "/active", tokens["read"]))[1]
    assert next(row for row in listed if row["job_id"] == job.job_id)["abort_requested"] is True

    await burst(["content_default"])
    status, shown = await call(api, "GET", f"/jobs/{job.job_id}", tokens["read"])
    assert status == 200 and (shown["outcome"], shown["error_code"]) == ("failed", "ABORTED")
    assert await db.fetchval("SELECT error_code FROM failed_jobs WHERE job_id = $1", job.job_id) == "ABORTED"
    assert (await call(api, "POST", f"/jobs/{job.job_id}/abort", tokens["write"]))[0] == 409
    assert (await call(api, "POST", "/jobs/no-such-job/abort", tokens["write"]))[0] == 404


async def test_workers_alive(api, tokens, lane_group):
    await lane_group(["scout_default"])

    async def listed():
        status, workers = await call(api, "GET", "/workers", tokens["read"])
        assert status == 200
        return [w for w in workers if w["lanes"] == ["scout_default"]]

    [worker] = await eventually(listed, what="the worker listed")
    assert worker["pid"] == os.getpid() and worker["running"] == 0
