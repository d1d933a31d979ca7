"""The Grafana dashboards: generated from code, valid for the SDK, and every query runs.

SQL panels run against the PostgreSQL a real `logradar up` filled (Grafana's macros
substituted as its PostgreSQL datasource does); PromQL panels name only metrics that a real
Prometheus scraped from that server.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from helpers import free_port

ROOT = Path(__file__).parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
NAMES = ("overview", "stream", "operations")
_DURATION = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("dashboards", GRAFANA / "dashboards.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load(name: str) -> dict[str, Any]:
    return json.loads((GRAFANA / "dashboards" / f"{name}.json").read_text())


def targets(dashboard: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(p["title"], t) for p in dashboard["panels"] for t in p.get("targets", [])]


def grafana_sql(sql: str, start: datetime, end: datetime, variables: dict[str, str]) -> str:
    """``sql`` with Grafana's PostgreSQL macros and template variables expanded."""
    sql = sql.replace("$__interval", "60s")

    def seconds(text: str) -> int:
        m = re.fullmatch(r"\s*'?(\d+)([smhd])'?\s*", text)
        assert m, f"unsupported interval {text!r}"
        return int(m[1]) * _DURATION[m[2]]

    def group(m: re.Match[str], alias: bool) -> str:
        column, interval, *_fill = (a.strip() for a in m[1].split(","))
        s = seconds(interval)
        expr = f"floor(extract(epoch from {column})/{s})*{s}"
        return f'{expr} AS "time"' if alias else expr

    sql = re.sub(r"\$__timeGroupAlias\(([^)]*)\)", lambda m: group(m, True), sql)
    sql = re.sub(r"\$__timeGroup\(([^)]*)\)", lambda m: group(m, False), sql)
    sql = re.sub(
        r"\$__timeFilter\(([^)]*)\)",
        lambda m: f"{m[1]} BETWEEN '{start.isoformat()}' AND '{end.isoformat()}'",
        sql,
    )
    for name, value in variables.items():
        sql = sql.replace(f"${{{name}}}", value).replace(f"${name}", value)
    assert "$" not in sql.replace("$stream", ""), f"unexpanded macro in {sql}"
    return sql


# Static checks ---------------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_committed_json_is_what_the_generator_writes(name: str) -> None:
    assert (GRAFANA / "dashboards" / f"{name}.json").read_text() == _generator().render(name)


@pytest.mark.parametrize("name", NAMES)
def test_dashboard_round_trips_through_the_sdk_model(name: str) -> None:
    data = load(name)
    back = json.loads(json.dumps(Dashboard.from_json(data), cls=JSONEncoder))
    assert back == data
    assert data["uid"] == f"logradar-{name}" and data["panels"]


def test_every_panel_uses_a_provisioned_datasource() -> None:
    provisioned = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "datasources.yml").read_text()
    )
    by_uid = {d["uid"]: d["type"] for d in provisioned["datasources"]}
    for name in NAMES:
        for panel in load(name)["panels"]:
            for ds in [panel["datasource"], *(t.get("datasource") for t in panel["targets"])]:
                if ds is not None:
                    assert by_uid.get(ds["uid"]) == ds["type"], f"{name}/{panel['title']}: {ds}"
    provider_file = GRAFANA / "provisioning" / "dashboards" / "logradar.yml"
    provider = yaml.safe_load(provider_file.read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_macro_expansion_matches_grafanas_documented_forms() -> None:
    t0, t1 = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 2, tzinfo=UTC)
    sql = "SELECT $__timeGroupAlias(t, $__interval, 0) FROM x WHERE $__timeFilter(t)"
    assert grafana_sql(sql, t0, t1, {}) == (
        'SELECT floor(extract(epoch from t)/60)*60 AS "time" FROM x WHERE t BETWEEN '
        "'2024-01-01T00:00:00+00:00' AND '2024-01-02T00:00:00+00:00'"
    )


# Against the data of a real run ----------------------------------------------------------------
def _run_all(url: str, name: str, start: datetime, end: datetime) -> dict[str, list[Any]]:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    results: dict[str, list[Any]] = {}
    try:
        with engine.connect() as conn:
            for title, target in targets(load(name)):
                if "rawSql" not in target:
                    continue
                sql = grafana_sql(target["rawSql"], start, end, {"stream": "web"})
                results[title] = conn.execute(sa.text(sql.replace(":", r"\:"))).mappings().all()
    finally:
        engine.dispose()
    return results


@pytest.mark.integration
@pytest.mark.slow
def test_every_sql_panel_runs_and_the_overview_shows_the_incident(filled) -> None:
    start = datetime.fromtimestamp(filled.started_ns / 1e9 - 3600, UTC)
    end = datetime.now(UTC)
    overview = _run_all(filled.store_url, "overview", start, end)
    stream = _run_all(filled.store_url, "stream", start, end)
    assert len(overview) == 10 and len(stream) == 4

    severity = filled.anomaly["severity"]
    by_severity = overview["Anomalies by severity"]
    assert any(r["metric"] == severity and r["value"] >= 1 for r in by_severity)
    assert any(r["metric"] == "web" for r in overview["Anomalies by stream"])
    [incident] = [r for r in overview["Incidents"] if r["id"] == filled.incident_id]
    assert (incident["stream"], incident["severity"]) == ("web", severity)
    assert any(r["metric"] == "web" for r in overview["Incidents by stream"])
    assert overview["Firing incidents"][0]["firing"] >= 1
    assert any("certificate" in r["template"] for r in overview["Top templates by anomalies"])
    normal = 30 * 8 // 2  # at least half the normal lines: windows still open are not stored
    assert sum(r["value"] for r in overview["Volume per stream (lines)"]) >= normal

    assert sum(r["lines"] for r in stream["Volume of $stream (lines)"]) >= normal
    errors = [r["error %"] for r in stream["Error rate of $stream"] if r["error %"]]
    assert errors and max(errors) > 0  # the ERROR burst
    anomalies = stream["Anomalies of $stream (click a row to open it in logradar)"]
    assert filled.anomaly["id"] in [r["id"] for r in anomalies]
    assert all(r["explanation"] for r in anomalies)


# Prometheus -------------------------------------------------------------------------------------
PROMETHEUS = shutil.which("prometheus")


def _need(binary: str | None, name: str) -> str:
    if binary is None:
        reason = f"{name} is not installed (scripts/install-test-deps.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return binary


def promql_metrics() -> set[str]:
    names = set()
    for _, target in targets(load("operations")):
        names |= set(re.findall(r"\blogradar_[a-z_]+\b", target["expr"]))
    return names


@pytest.mark.integration
@pytest.mark.slow
def test_prometheus_scraping_logradar_has_every_metric_the_operations_panels_use(
    filled, tmp_path
) -> None:
    prometheus = _need(PROMETHEUS, "prometheus")
    # a rejected request, so the rejection counter has a series (as in production)
    too_long = {"log_time_ns": time.time_ns(), "contents": ["x" * 5000], "labels": {}}
    path = "/v2/" + "p" * 32 + "/lts/groups/g1/streams/web/tenant/contents"
    assert httpx.post(filled.up.url + path, json=too_long, timeout=10).status_code == 400
    target = filled.up.url.removeprefix("http://")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        f"scrape_configs:\n  - job_name: logradar\n    static_configs:\n"
        f"      - targets: ['{target}']\n"
    )
    port = free_port()
    with (tmp_path / "prometheus.log").open("wb") as log:
        proc = subprocess.Popen(
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        api = f"http://127.0.0.1:{port}/api/v1"
        try:
            wanted = promql_metrics()

            def scraped() -> set[str]:
                assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()
                try:
                    names = httpx.get(f"{api}/label/__name__/values", timeout=5).json()["data"]
                except httpx.HTTPError:
                    return set()
                base = {re.sub(r"_(bucket|sum|count|created)$", "", n) for n in names}
                return set(names) | base

            assert wanted, "no metric names in the operations dashboard"
            names = wait_for_metrics(scraped, wanted)
            assert wanted <= names, f"not scraped: {sorted(wanted - names)}"
        finally:
            proc.terminate()
            proc.wait(20)


def wait_for_metrics(scraped: Any, wanted: set[str], timeout: float = 60) -> set[str]:
    """The metric names Prometheus has, once it has ``wanted`` or ``timeout`` passed."""
    deadline = time.monotonic() + timeout
    names: set[str] = set()
    while time.monotonic() < deadline and not wanted <= names:
        names = scraped()
        time.sleep(0.3)
    return names
