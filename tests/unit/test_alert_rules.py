"""deploy/prometheus/alerts.yml stays true to what a worker exports and to the seed's thresholds (§7.8.1).

The rules' behaviour (each threshold fires just above it and stays silent just below) is tested by promtool on
deploy/prometheus/alerts_test.yml; the last test here runs it when promtool is installed (.ci/run installs Debian's
`prometheus` package and sets ADOLF_REQUIRE_PROMTOOL, so there it cannot be skipped). These tests catch what promtool
cannot know: a metric, label, job or lane renamed in the code while the rules still name the old one, which would
leave an alert silent forever.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

import adolf.workers.runner  # noqa: F401  (imports everything whose metrics a worker's /metrics serves)
from adolf.lanes import LANES
from adolf.workers.catalog import REGISTRY as JOBS

PROMETHEUS = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
PROMTOOL = shutil.which("promtool")

# Series that Prometheus makes, not a worker: `up` of every scrape target, `probe_success` of the blackbox exporter.
NOT_FROM_WORKERS = {"up": {"job", "instance"}, "probe_success": {"job", "instance"}}
TARGET_LABELS = {"job", "instance", "deployment"}  # added by the scrape (prometheus.yml), not by the worker
PROMQL_WORDS = {
    "sum", "max", "min", "avg", "count", "by", "without", "and", "or", "unless", "on", "ignoring", "rate", "increase",
    "histogram_quantile", "absent", "round", "bool", "offset",
}  # fmt: skip


def _rules() -> dict[str, str]:
    """alert name -> expr. No YAML library is a dependency, so this reads the file's own shape (`- alert:` then
    `expr:` inline or as a `|` block) and fails on anything else rather than miss a rule."""
    lines = (PROMETHEUS / "alerts.yml").read_text().splitlines()
    rules: dict[str, str] = {}
    for index, line in enumerate(lines):
        match = re.match(r"^\s*- alert: (\w+)\s*$", line)
        if not match:
            continue
        expr_line = lines[index + 1]
        inline = re.match(r"^\s*expr: (.+)$", expr_line)
        assert inline, f"{match[1]}: expected `expr:` on the line after `- alert:`, got {expr_line!r}"
        if inline[1].strip() != "|":
            rules[match[1]] = inline[1].strip()
            continue
        indent = len(expr_line) - len(expr_line.lstrip()) + 2
        body = []
        for following in lines[index + 2 :]:
            if following.strip() and len(following) - len(following.lstrip()) < indent:
                break
            body.append(following.strip())
        rules[match[1]] = " ".join(part for part in body if part)
    assert len(rules) == sum(1 for line in lines if "- alert:" in line)
    return rules


def _exported() -> dict[str, tuple[str, ...]]:
    """Every series name a worker's /metrics can carry -> its labels (counters end in _total, histograms are
    _bucket with `le`, _sum and _count)."""
    series: dict[str, tuple[str, ...]] = {}
    for collector in set(REGISTRY._names_to_collectors.values()):
        if not isinstance(collector, MetricWrapperBase):
            continue
        name, labels = collector._name, tuple(collector._labelnames)
        if collector._type == "counter":
            series[f"{name}_total"] = labels
        elif collector._type == "histogram":
            series[f"{name}_bucket"] = (*labels, "le")
            series[f"{name}_sum"] = series[f"{name}_count"] = labels
        else:
            series[name] = labels
    return series


def _selectors(expr: str) -> list[tuple[str, set[str]]]:
    """(metric name, label names in its matcher) of every selector in a PromQL expression."""
    found = []
    for match in re.finditer(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?", expr):
        name, matchers = match[1], match[2] or ""
        if name in PROMQL_WORDS or not (name.startswith("adolf_") or name in NOT_FROM_WORKERS or matchers):
            continue
        found.append((name, set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matchers))))
    return found


def test_every_metric_and_label_in_the_rules_is_one_a_worker_exports():
    exported = _exported()
    for alert, expr in _rules().items():
        selectors = _selectors(expr)
        assert selectors, f"{alert}: no metric found in {expr!r}"
        known_labels = set(TARGET_LABELS)
        for name, matcher_labels in selectors:
            if name in NOT_FROM_WORKERS:
                labels = NOT_FROM_WORKERS[name]
            else:
                assert name in exported, f"{alert} uses {name}, which no worker exports ({sorted(exported)})"
                labels = set(exported[name])
            assert matcher_labels <= labels | TARGET_LABELS, f"{alert}: {name} has no label {matcher_labels - labels}"
            known_labels |= labels
        for grouping in re.findall(r"\bby\s*\(([^)]*)\)", expr):
            by = {label.strip() for label in grouping.split(",")}
            assert by <= known_labels, f"{alert} groups by {by - known_labels}, a label its metrics do not have"


def test_the_scrape_job_is_the_one_the_rules_name():
    config = (PROMETHEUS / "prometheus.yml").read_text()
    assert re.search(r"^\s*- job_name: adolf-worker\s*$", config, re.M)
    for alert, expr in _rules().items():
        for job in re.findall(r'\bjob="([^"]+)"', expr):
            assert job in {"adolf-worker", "adolf-ready"}, alert
            assert f"job_name: {job}" in config, f"{alert} names job {job}, which prometheus.yml does not define"


def test_thresholds_are_the_seeds():
    rules = _rules()
    # task duration > 60 s
    assert re.search(r"histogram_quantile\(0\.95, .*adolf_job_duration_seconds_bucket.*\) > 60$", rules["AdolfJobSlow"])
    # failures > 10 an hour
    assert re.search(r"increase\(adolf_job_failures_total\[1h\]\)\)\) > 10$", rules["AdolfJobFailures"])
    # queue length > 100
    assert rules["AdolfQueueBacklog"] == "max by (lane) (adolf_queue_length) > 100"
    # publication retry rate > 20 %
    retry = rules["AdolfPublicationRetryRate"]
    assert re.search(r"adolf_job_retries_total\{[^}]*\}\[15m\]\)\) / sum\(rate\(adolf_job_runs_total", retry)
    assert re.search(r"\) > 0\.2 and ", retry)
    assert retry.count('task="content_factory.tasks.publish_content"') == 3


def test_the_rules_name_real_jobs_and_every_lane():
    rules = _rules()
    job_names = set(JOBS.jobs)
    for alert, expr in rules.items():
        for pattern in re.findall(r'\btask[!=]~?"([^"]+)"', expr):
            for name in pattern.split("|"):
                assert name in job_names, f"{alert} names job {name}, which the catalog does not have"
    # the 300 s jobs are excluded from the 60 s rule and have their own, whose annotation says "300 s time limit"
    long_jobs = re.search(r'task!~"([^"]+)"', rules["AdolfJobSlow"])
    assert long_jobs and re.search(rf'task=~"{re.escape(long_jobs[1])}"', rules["AdolfLongJobSlow"])
    for name in long_jobs[1].split("|"):
        assert JOBS.job(name).timeout == 300, name
    # a lane nobody serves must alert, whichever lane it is
    assert set(re.findall(r'absent\(adolf_queue_length\{lane="(\w+)"\}\)', rules["AdolfLaneWithoutWorker"])) == set(
        LANES
    )


@pytest.mark.skipif(
    not PROMTOOL and not os.environ.get("ADOLF_REQUIRE_PROMTOOL"), reason="promtool not installed (Debian: prometheus)"
)
def test_promtool_checks_the_config_and_the_rules_and_runs_their_unit_tests():
    assert PROMTOOL, "ADOLF_REQUIRE_PROMTOOL is set but promtool is missing (Debian package: prometheus)"
    for command in (
        ["check", "config", "prometheus.yml"],
        ["check", "rules", "alerts.yml"],
        ["test", "rules", "alerts_test.yml"],
    ):
        done = subprocess.run([PROMTOOL, *command], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"promtool {' '.join(command)}:\n{done.stdout}{done.stderr}"
