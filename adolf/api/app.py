"""The API service's aiohttp application: publish (seed 000 §7.10), Scout analyses and reports, failed jobs, job
history, office agents. Every request but /health and /openapi.json needs `Authorization: Bearer <token>`; a
read-only token may only read. Every error is JSON `{code, message}`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from adolf.api.openapi import OPENAPI
from adolf.api.tokens import Caller, authenticate
from adolf.client import AdolfClient
from adolf.db.repositories.drafts import DraftRepository
from adolf.db.repositories.failed_jobs import FailedJobRepository
from adolf.db.repositories.scout import ScoutRepository
from adolf.errors import InvalidJobArgs
from adolf.lanes import LANES
from adolf.models.scout import AnalysisParams, ReportFormat
from adolf.services.office import all_agents

logger = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
DB_KEY = web.AppKey("db", asyncpg.Pool)
CLIENT_KEY = web.AppKey("client", AdolfClient)
CALLER = web.RequestKey("caller", Caller)
PUBLIC = {"/health", "/openapi.json", "/", "/dashboard"}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(web.HTTPException):
    def __init__(self, status: int, code: str, message: str) -> None:
        self.status_code = status
        super().__init__(
            text=orjson.dumps({"code": code, "message": message}).decode(), content_type="application/json"
        )


def _dumps(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()


def reply(value: Any, status: int = 200) -> web.Response:
    return web.json_response(value, status=status, dumps=_dumps)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError:
        raise
    except web.HTTPRequestEntityTooLarge:
        raise ApiError(413, "BODY_TOO_LARGE", f"the body exceeds {MAX_BODY} bytes") from None
    except web.HTTPException as exc:
        code = exc.reason.upper().replace(" ", "_")
        raise ApiError(exc.status, code, exc.reason) from None
    except Exception:
        logger.exception("API %s %s failed", request.method, request.path)
        raise ApiError(500, "INTERNAL", "internal error (logged)") from None


@web.middleware
async def auth(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in PUBLIC:
        return await handler(request)
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "UNAUTHORIZED", "send Authorization: Bearer <token> (adolf token create)")
    caller = await authenticate(request.app[DB_KEY], token.strip())
    if caller is None:
        raise ApiError(401, "UNAUTHORIZED", "unknown or revoked token")
    if request.method not in {"GET", "HEAD"} and not caller.can_write:
        raise ApiError(403, "READ_ONLY", "this token may only read")
    if "\x00" in request.path or any("\x00" in key + value for key, value in request.query.items()):
        raise ApiError(400, "INVALID_QUERY", "a NUL character in the path or query")  # PostgreSQL cannot hold it
    request[CALLER] = caller
    return await handler(request)


async def body_of(request: web.Request, model: type[BaseModel]) -> Any:
    raw = await request.read()
    try:
        data = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, "MALFORMED_JSON", f"the body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(400, "INVALID_BODY", "the body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise ApiError(400, "INVALID_BODY", f"{where}: {first['msg']}") from None


def uuid_param(request: web.Request, name: str) -> UUID:
    try:
        return UUID(request.match_info[name])
    except ValueError:
        raise ApiError(404, "NOT_FOUND", f"{name} {request.match_info[name]!r} is not an id") from None


def int_query(request: web.Request, name: str, default: int, *, low: int = 1, high: int = 500) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "INVALID_QUERY", f"{name}: {raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise ApiError(400, "INVALID_QUERY", f"{name}: must be {low}..{high}")
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PublishRequest(Strict):
    draft_id: UUID


class AnalyzeRequest(Strict):
    params: AnalysisParams = Field(default_factory=AnalysisParams)


class ExportRequest(Strict):
    format: ReportFormat = ReportFormat.HTML


# ---------------------------------------------------------------- handlers


DASHBOARD = Path(__file__).with_name("static") / "dashboard.html"


async def dashboard(request: web.Request) -> web.StreamResponse:
    """The dashboard page (it asks for a token and calls this API; nothing is loaded from elsewhere)."""
    return web.FileResponse(DASHBOARD, headers={"Cache-Control": "no-cache"})


async def health(request: web.Request) -> web.Response:
    return reply({"status": "ok"})


async def openapi(request: web.Request) -> web.Response:
    return reply(OPENAPI)


async def publish(request: web.Request) -> web.Response:
    """Seed §7.10.1: 404 missing draft, 400 invalid draft, else the publish job is queued."""
    body = await body_of(request, PublishRequest)
    caller: Caller = request[CALLER]
    draft = await DraftRepository(request.app[DB_KEY]).get_by_id(body.draft_id)
    if draft is None:
        raise ApiError(404, "DRAFT_NOT_FOUND", "Draft not found")
    if not draft.is_valid:
        raise ApiError(400, "DRAFT_NOT_VALID", "Draft has validation errors")
    job = await request.app[CLIENT_KEY].publish_content(draft_id=draft.id, user_id=caller.user_id)
    return reply({"status": "queued", "task_id": job.job_id, "message": "Publication started"})


async def job_status(request: web.Request) -> web.Response:
    task_id = request.match_info["task_id"]
    info = await request.app[CLIENT_KEY].job_info(task_id)
    if info["status"] == "not_found":
        raise ApiError(404, "NOT_FOUND", f"no task {task_id!r} (results are kept 24 h)")
    outcome = {k: info[k] for k in ("outcome", "error_code", "error_message") if k in info}
    return reply({"task_id": task_id, "status": info["status"], "result": info.get("result"), **outcome})


async def analyze(request: web.Request) -> web.Response:
    niche_id = uuid_param(request, "niche_id")
    body = await body_of(request, AnalyzeRequest)
    if await ScoutRepository(request.app[DB_KEY]).niche(niche_id) is None:
        raise ApiError(404, "NOT_FOUND", f"no niche {niche_id}")
    analysis_id = uuid4()
    job = await request.app[CLIENT_KEY].analyze_niche(
        niche_id=niche_id,
        params=body.params.model_dump(mode="json"),
        analysis_id=analysis_id,
        requested_by=request[CALLER].user_id,
    )
    return reply({"status": "queued", "task_id": job.job_id, "analysis_id": str(analysis_id)}, status=202)


async def analysis(request: web.Request) -> web.Response:
    analysis_id = uuid_param(request, "analysis_id")
    found = await ScoutRepository(request.app[DB_KEY]).analysis(analysis_id)
    if found is None:
        raise ApiError(404, "NOT_FOUND", f"no analysis {analysis_id} (it may still be queued)")
    return reply(found.model_dump(mode="json"))


async def export(request: web.Request) -> web.Response:
    analysis_id = uuid_param(request, "analysis_id")
    body = await body_of(request, ExportRequest)
    found = await ScoutRepository(request.app[DB_KEY]).analysis(analysis_id)
    if found is None:
        raise ApiError(404, "NOT_FOUND", f"no analysis {analysis_id}")
    if found.status != "completed":
        raise ApiError(409, "NOT_READY", f"analysis {analysis_id} is {found.status}")
    job = await request.app[CLIENT_KEY].export_report(analysis_id=analysis_id, format=body.format.value)
    return reply({"status": "queued", "task_id": job.job_id}, status=202)


async def download(request: web.Request) -> web.StreamResponse:
    analysis_id = uuid_param(request, "analysis_id")
    try:
        fmt = ReportFormat(request.match_info["format"])
    except ValueError:
        raise ApiError(404, "NOT_FOUND", "formats are csv, xlsx, json, html") from None
    report = await ScoutRepository(request.app[DB_KEY]).report(analysis_id, fmt.value)
    if report is None or not await asyncio.to_thread(Path(report.path).is_file):
        raise ApiError(404, "NOT_FOUND", f"no {fmt.value} report of analysis {analysis_id}; export it first")
    return web.FileResponse(
        report.path, headers={"Content-Disposition": f'attachment; filename="{analysis_id}.{fmt.value}"'}
    )


async def failed_list(request: web.Request) -> web.Response:
    rows = await FailedJobRepository(request.app[DB_KEY]).list_recent(
        limit=int_query(request, "limit", 50),
        offset=int_query(request, "offset", 0, low=0, high=1_000_000),
        job_name=request.query.get("job") or None,
    )
    return reply([row.model_dump(mode="json") for row in rows])


async def failed_retry(request: web.Request) -> web.Response:
    from adolf.ops import FailedJobNotFound, OpsError, retry_failed_job

    try:
        failed_id = int(request.match_info["failed_id"])
    except ValueError:
        raise ApiError(404, "NOT_FOUND", "failed job ids are numbers") from None
    try:
        job_id = await retry_failed_job(request.app[DB_KEY], request.app[CLIENT_KEY], failed_id)
    except FailedJobNotFound as exc:
        raise ApiError(404, "NOT_FOUND", str(exc)) from None
    except OpsError as exc:
        raise ApiError(409, "NOT_RETRIED", str(exc)) from None
    except InvalidJobArgs as exc:
        raise ApiError(409, "NOT_RETRIED", str(exc)) from None
    return reply({"status": "queued", "task_id": job_id}, status=202)


SEARCH_JOBS = """
    SELECT * FROM job_runs
    WHERE ($1::text IS NULL OR job_name = $1) AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR lane = $3)
      AND ($4::uuid IS NULL OR draft_id = $4) AND ($5::uuid IS NULL OR publication_id = $5)
      AND ($6::uuid IS NULL OR niche_id = $6) AND ($7::uuid IS NULL OR analysis_id = $7)
      AND ($8::timestamptz IS NULL OR started_at >= $8) AND ($9::timestamptz IS NULL OR started_at < $9)
      AND ($11::text IS NULL OR draft_id IN (SELECT id FROM content_drafts WHERE sku = $11))
    ORDER BY started_at DESC, id DESC
    LIMIT $10
"""


def _query_value(request: web.Request, name: str, parse: Callable[[str], Any], what: str) -> Any:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        return parse(raw)
    except (ValueError, OverflowError):
        raise ApiError(400, "INVALID_QUERY", f"{name}: not {what}") from None


def _instant(raw: str) -> datetime:
    """An ISO date-time PostgreSQL can compare (its UTC time within datetime's years)."""
    value = datetime.fromisoformat(raw)
    value.astimezone(UTC)  # OverflowError: 0001-01-01T00:00+14:00 is in year 0
    return value


async def jobs(request: web.Request) -> web.Response:
    """Job history, newest first, filtered by name, status, lane, business object (draft, its SKU, publication, niche,
    analysis) and time."""
    values = [
        *(request.query.get(name) or None for name in ("name", "status", "lane")),
        *(
            _query_value(request, name, UUID, "an id")
            for name in ("draft_id", "publication_id", "niche_id", "analysis_id")
        ),
        *(_query_value(request, name, _instant, "an ISO date-time") for name in ("since", "until")),
        int_query(request, "limit", 100),
        request.query.get("sku") or None,
    ]
    rows = await request.app[DB_KEY].fetch(SEARCH_JOBS, *values)
    return reply([dict(row) for row in rows])


async def job(request: web.Request) -> web.Response:
    job_id = request.match_info["job_id"]
    info = await request.app[CLIENT_KEY].job_info(job_id)
    runs = await request.app[DB_KEY].fetch(
        "SELECT * FROM job_runs WHERE job_id = $1 ORDER BY started_at DESC LIMIT 50", job_id
    )
    if info["status"] == "not_found" and not runs:
        raise ApiError(404, "NOT_FOUND", f"no job {job_id!r}")
    return reply({**info, "runs": [dict(row) for row in runs]})


async def agents(request: web.Request) -> web.Response:
    return reply(await all_agents(request.app[CLIENT_KEY].redis))


async def me(request: web.Request) -> web.Response:
    caller: Caller = request[CALLER]
    return reply({"user_id": caller.user_id, "scopes": caller.scopes, "can_write": caller.can_write})


async def queues(request: web.Request) -> web.Response:
    from adolf.ops import queue_stats

    return reply(await queue_stats(request.app[CLIENT_KEY].redis))


STATS = """
    SELECT date_bin($1::interval, started_at, 'epoch'::timestamptz) AS bucket,
           count(*) FILTER (WHERE status = 'success') AS succeeded,
           count(*) FILTER (WHERE status = 'failed') AS failed,
           count(*) FILTER (WHERE status = 'retry') AS retried,
           avg(duration_ms) AS avg_ms,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY duration_ms) AS p95_ms
    FROM job_runs
    WHERE started_at >= now() - $2::interval
    GROUP BY 1 ORDER BY 1
"""
WINDOWS = {
    "1h": (timedelta(minutes=1), timedelta(hours=1)),
    "24h": (timedelta(minutes=30), timedelta(hours=24)),
    "7d": (timedelta(hours=6), timedelta(days=7)),
}


async def stats(request: web.Request) -> web.Response:
    """Throughput, failures and duration over time, from the job history."""
    window = request.query.get("window", "1h")
    if window not in WINDOWS:
        raise ApiError(400, "INVALID_QUERY", f"window: one of {', '.join(WINDOWS)}")
    bucket, span = WINDOWS[window]
    rows = await request.app[DB_KEY].fetch(STATS, bucket, span)
    return reply([dict(row) for row in rows])


async def retry_job(request: web.Request) -> web.Response:
    """Run a job again with the arguments of its latest recorded run (a failed publication: published again)."""
    job_id = request.match_info["job_id"]
    row = await request.app[DB_KEY].fetchrow(
        "SELECT job_name, args FROM job_runs WHERE job_id = $1 ORDER BY started_at DESC LIMIT 1", job_id
    )
    if row is None:
        raise ApiError(404, "NOT_FOUND", f"no recorded run of job {job_id!r}")
    try:
        job = await request.app[CLIENT_KEY].enqueue(row["job_name"], **row["args"])
    except (InvalidJobArgs, KeyError) as exc:
        raise ApiError(409, "NOT_RETRIED", f"job {job_id} cannot run again as recorded: {exc}") from None
    return reply({"status": "queued", "task_id": job.job_id}, status=202)


async def abort_job(request: web.Request) -> web.Response:
    """Abort a queued, deferred or running job: it ends as a failure with code ABORTED (a retryable dead letter)."""
    job_id = request.match_info["job_id"]
    client = request.app[CLIENT_KEY]
    if await client.abort(job_id):
        return reply({"status": "abort_requested", "job_id": job_id}, status=202)
    if (await client.job_info(job_id))["status"] == "complete":
        raise ApiError(409, "JOB_FINISHED", f"job {job_id} has finished; nothing to abort")
    raise ApiError(404, "NOT_FOUND", f"no queued, deferred or running job {job_id!r}")


async def workers(request: web.Request) -> web.Response:
    """The worker processes alive (each rewrites its record every health-check interval)."""
    from adolf.ops import workers_alive

    return reply(await workers_alive(request.app[CLIENT_KEY].redis))


async def active(request: web.Request) -> web.Response:
    """Jobs queued, deferred or running now (from Redis; finished runs are in /jobs)."""
    from adolf.ops import active_jobs

    lane = request.query.get("lane") or None
    if lane is not None and lane not in LANES:
        raise ApiError(400, "INVALID_QUERY", f"lane: one of {', '.join(LANES)}")
    return reply(await active_jobs(request.app[CLIENT_KEY].redis, lane=lane, limit=int_query(request, "limit", 50)))


def create_app(db: asyncpg.Pool, client: AdolfClient) -> web.Application:
    app = web.Application(middlewares=[errors, auth], client_max_size=MAX_BODY)
    app[DB_KEY] = db
    app[CLIENT_KEY] = client
    app.router.add_get("/health", health)
    app.router.add_get("/openapi.json", openapi)
    app.router.add_post("/publish", publish)
    app.router.add_get("/publish/{task_id}/status", job_status)
    app.router.add_post("/niches/{niche_id}/analyses", analyze)
    app.router.add_get("/analyses/{analysis_id}", analysis)
    app.router.add_post("/analyses/{analysis_id}/reports", export)
    app.router.add_get("/analyses/{analysis_id}/reports/{format}", download)
    app.router.add_get("/failed", failed_list)
    app.router.add_post("/failed/{failed_id}/retry", failed_retry)
    app.router.add_get("/jobs", jobs)
    app.router.add_get("/jobs/{job_id}", job)
    app.router.add_post("/jobs/{job_id}/retry", retry_job)
    app.router.add_post("/jobs/{job_id}/abort", abort_job)
    app.router.add_get("/active", active)
    app.router.add_get("/workers", workers)
    app.router.add_get("/agents", agents)
    app.router.add_get("/me", me)
    app.router.add_get("/queues", queues)
    app.router.add_get("/stats", stats)
    app.router.add_get("/", dashboard)
    app.router.add_get("/dashboard", dashboard)
    return app
