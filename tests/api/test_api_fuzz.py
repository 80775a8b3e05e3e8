"""A fuzz pass over every operation of the OpenAPI document: random path ids, query values and bodies (JSON of any
shape, or not JSON at all), with and without a token. No answer may be a 5xx; every error is JSON {code, message}."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from adolf.api.openapi import OPENAPI
from tests.api.test_api_cli import free_port

OPERATIONS = sorted((method, path) for path, ops in OPENAPI["paths"].items() for method in ops)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
IDS = st.uuids().map(str) | st.text(min_size=1, max_size=30) | st.integers().map(str)
FIELDS = st.sampled_from(["draft_id", "params", "format", "cost", "horizon_weeks", "x"])


@pytest.fixture(scope="module")
def api(settings, database) -> Iterator[tuple[str, str]]:
    env = {
        **os.environ,
        "ADOLF_DATABASE_URL": database,
        "ADOLF_REDIS_URL": settings.redis_url,
        "ADOLF_LOG_LEVEL": "ERROR",
    }
    user = "00000000-0000-4000-8000-0000000000aa"
    token = subprocess.run(
        [sys.executable, "-m", "adolf", "token", "create", "--user", user],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    ).stdout.strip()
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "adolf", "api", "--port", str(port)], env=env)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(base + "/health", timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "adolf api did not start"
            time.sleep(0.1)
    yield base, token
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=20)


def request(base: str, method: str, path: str, token: str | None, query: dict[str, str], body: bytes | None):
    url = base + path + ("?" + urllib.parse.urlencode(query) if query else "")
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=body, method=method.upper(), headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.headers.get_content_type(), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get_content_type(), error.read()


@hypothesis_settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_operation_answers_5xx(api, data):
    base, token = api
    method, template = data.draw(st.sampled_from(OPERATIONS), label="operation")
    path = template
    for part in [p for p in template.split("/") if p.startswith("{")]:
        value = data.draw(IDS, label=part)
        path = path.replace(part, urllib.parse.quote(value, safe=""), 1)
    query = data.draw(
        st.dictionaries(
            st.sampled_from(["limit", "offset", "name", "status", "niche_id", "since", "job"]),
            st.text(max_size=20),
            max_size=3,
        ),
        label="query",
    )
    body = None
    if method == "post":
        body = data.draw(
            st.one_of(
                JSON.map(lambda v: json.dumps(v).encode()),
                st.dictionaries(FIELDS, JSON, max_size=3).map(lambda v: json.dumps(v).encode()),
                st.binary(max_size=64),
            ),
            label="body",
        )
    use_token = data.draw(st.booleans(), label="with token")
    status, content_type, payload = request(base, method, path, token if use_token else None, query, body)
    assert status < 500, (method, path, query, body, payload[:300])
    if status >= 400:
        assert content_type == "application/json"
        error = json.loads(payload)
        assert set(error) == {"code", "message"}
