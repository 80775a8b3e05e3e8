"""The API's OpenAPI 3.1 document (served at /openapi.json)."""

from __future__ import annotations

from typing import Any

from adolf.lanes import LANES
from adolf.models.scout import AnalysisParams

ERROR = {
    "type": "object",
    "required": ["code", "message"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
}
UUID_SCHEMA = {"type": "string", "format": "uuid"}
QUEUED = {
    "type": "object",
    "required": ["status", "task_id"],
    "properties": {"status": {"const": "queued"}, "task_id": {"type": "string"}, "message": {"type": "string"}},
}


def _errors(*codes: int) -> dict[str, Any]:
    reasons = {
        400: "bad request",
        401: "no valid token",
        403: "read-only token",
        404: "not found",
        409: "conflict",
        413: "body too large",
    }
    return {
        str(code): {"description": reasons[code], "content": {"application/json": {"schema": ERROR}}}
        for code in (*codes, 401)
    }


def _ok(schema: dict[str, Any], status: int = 200) -> dict[str, Any]:
    return {str(status): {"description": "ok", "content": {"application/json": {"schema": schema}}}}


def _path(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"}}


def _query(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


ANY_OBJECT: dict[str, Any] = {"type": "object"}
ANY_LIST: dict[str, Any] = {"type": "array", "items": {"type": "object"}}
LIMIT = _query("limit", {"type": "integer", "minimum": 1, "maximum": 500})

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "ADOLF API", "version": "0.1.0"},
    "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    "security": [{"bearer": []}],
    "paths": {
        "/health": {"get": {"security": [], "responses": _ok({"type": "object"})}},
        "/publish": {
            "post": {
                "summary": "Publish a draft (seed 000 §7.10)",
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["draft_id"],
                        "properties": {"draft_id": UUID_SCHEMA},
                        "additionalProperties": False,
                    }
                ),
                "responses": {**_ok(QUEUED), **_errors(400, 403, 404, 413)},
            }
        },
        "/publish/{task_id}/status": {
            "get": {
                "parameters": [_path("task_id")],
                "responses": {**_ok({"type": "object", "required": ["task_id", "status"]}), **_errors(404)},
            }
        },
        "/niches/{niche_id}/analyses": {
            "post": {
                "summary": "Queue a niche analysis",
                "parameters": [_path("niche_id", UUID_SCHEMA)],
                "requestBody": _body(
                    {
                        "type": "object",
                        "properties": {"params": AnalysisParams.model_json_schema()},
                        "additionalProperties": False,
                    }
                ),
                "responses": {**_ok(QUEUED, 202), **_errors(400, 403, 404, 413)},
            }
        },
        "/analyses/{analysis_id}": {
            "get": {"parameters": [_path("analysis_id", UUID_SCHEMA)], "responses": {**_ok(ANY_OBJECT), **_errors(404)}}
        },
        "/analyses/{analysis_id}/reports": {
            "post": {
                "summary": "Queue a report export",
                "parameters": [_path("analysis_id", UUID_SCHEMA)],
                "requestBody": _body(
                    {
                        "type": "object",
                        "properties": {"format": {"enum": ["csv", "xlsx", "json", "html"]}},
                        "additionalProperties": False,
                    }
                ),
                "responses": {**_ok(QUEUED, 202), **_errors(400, 403, 404, 409, 413)},
            }
        },
        "/analyses/{analysis_id}/reports/{format}": {
            "get": {
                "summary": "Download a report",
                "parameters": [
                    _path("analysis_id", UUID_SCHEMA),
                    _path("format", {"enum": ["csv", "xlsx", "json", "html"]}),
                ],
                "responses": {"200": {"description": "the file"}, **_errors(404)},
            }
        },
        "/failed": {
            "get": {
                "parameters": [
                    LIMIT,
                    _query("offset", {"type": "integer", "minimum": 0}),
                    _query("job", {"type": "string"}),
                ],
                "responses": {**_ok(ANY_LIST), **_errors(400)},
            }
        },
        "/failed/{failed_id}/retry": {
            "post": {
                "parameters": [_path("failed_id", {"type": "integer"})],
                "responses": {**_ok(QUEUED, 202), **_errors(403, 404, 409)},
            }
        },
        "/jobs": {
            "get": {
                "summary": "Job history, newest first",
                "parameters": [
                    _query("name", {"type": "string"}),
                    _query("status", {"enum": ["success", "failed", "retry", "deferred", "cancelled"]}),
                    _query("lane", {"type": "string"}),
                    *(_query(k, UUID_SCHEMA) for k in ("draft_id", "publication_id", "niche_id", "analysis_id")),
                    _query("sku", {"type": "string"}),
                    _query("since", {"type": "string", "format": "date-time"}),
                    _query("until", {"type": "string", "format": "date-time"}),
                    LIMIT,
                ],
                "responses": {**_ok(ANY_LIST), **_errors(400)},
            }
        },
        "/jobs/{job_id}": {"get": {"parameters": [_path("job_id")], "responses": {**_ok(ANY_OBJECT), **_errors(404)}}},
        "/jobs/{job_id}/retry": {
            "post": {
                "summary": "Run a job again with the arguments of its latest recorded run",
                "parameters": [_path("job_id")],
                "responses": {**_ok(QUEUED, 202), **_errors(403, 404, 409)},
            }
        },
        "/jobs/{job_id}/abort": {
            "post": {
                "summary": "Abort a queued, deferred or running job (it fails with code ABORTED)",
                "parameters": [_path("job_id")],
                "responses": {
                    **_ok(
                        {
                            "type": "object",
                            "required": ["status", "job_id"],
                            "properties": {"status": {"const": "abort_requested"}, "job_id": {"type": "string"}},
                        },
                        202,
                    ),
                    **_errors(403, 404, 409),
                },
            }
        },
        "/active": {
            "get": {
                "summary": "Jobs queued, deferred or running now, per lane",
                "parameters": [
                    _query("lane", {"enum": list(LANES)}),
                    LIMIT,
                ],
                "responses": {**_ok(ANY_LIST), **_errors(400)},
            }
        },
        "/workers": {
            "get": {
                "summary": "Worker processes alive: host, pid, lanes, running and done jobs",
                "responses": _ok(ANY_LIST),
            }
        },
        "/agents": {"get": {"summary": "Office agents", "responses": _ok(ANY_LIST)}},
        "/me": {"get": {"summary": "The token's user and whether it may write", "responses": _ok(ANY_OBJECT)}},
        "/queues": {
            "get": {"summary": "Per lane: queued, due, oldest due job, a worker polling", "responses": _ok(ANY_LIST)}
        },
        "/stats": {
            "get": {
                "summary": "Jobs succeeded / failed / retried and duration over time (from the history)",
                "parameters": [_query("window", {"enum": ["1h", "24h", "7d"]})],
                "responses": {**_ok(ANY_LIST), **_errors(400)},
            }
        },
        "/": {"get": {"security": [], "summary": "The dashboard", "responses": {"200": {"description": "HTML"}}}},
        "/dashboard": {
            "get": {"security": [], "summary": "The dashboard", "responses": {"200": {"description": "HTML"}}}
        },
        "/openapi.json": {"get": {"security": [], "responses": _ok(ANY_OBJECT)}},
    },
}
