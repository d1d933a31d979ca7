"""The read side with auth on: UI, read API, /metrics and feedback need a ``read`` token;
receivers an ``ingest`` one; /healthz stays open. Real app over HTTP, and a real Prometheus."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from helpers import free_port, serve_app
from logradar.config import ConfigError, Settings, load_config
from logradar.schema import now_ns
from logradar.sources.auth import Authenticator
from logradar.store import ALL_TEMPLATES
from logradar.web import create_app

S = 10**9
W = 10 * S
READER = "r3ad-only-t0ken"
SHIPPER = "sh1pper-t0ken"
BOTH = "b0th-scopes-t0ken"
TOKENS = [
    {"token": READER, "tenant": "people", "scopes": ["read"]},
    {"token": SHIPPER, "tenant": "shippers", "streams": ["app*"]},  # default: ingest only
    {"token": BOTH, "tenant": "ops", "scopes": ["ingest", "read"]},
]
SECRET_LINE = "login failed for user=alice password=hunter2"
HTML = {"Accept": "text/html"}  # without it, GET / is the Elasticsearch handshake
READ_ENDPOINTS = [
    "/",
    "/anomalies",
    "/anomalies/1",
    "/templates?stream=web",
    "/api/v1/anomalies",
    "/api/v1/anomalies/1",
    "/api/v1/templates?stream=web",
    "/api/v1/volume",
    "/api/v1/alerts",
    "/api/v1/mutes",
    "/metrics",
]
PROMETHEUS = shutil.which("prometheus")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def secure(pipeline: Any, tmp_path: Path, **auth: Any) -> None:
    """Give ``pipeline`` settings that listen beyond loopback (auth on by default)."""
    pipeline.settings = Settings(
        data_dir=tmp_path, server={"host": "0.0.0.0"}, auth={"tokens": TOKENS, **auth}
    )
    pipeline.auth = Authenticator(pipeline.settings.auth, pipeline.settings.auth_enabled)


@pytest.fixture
def data(store, make_anomaly) -> None:
    """One recent anomaly whose example is a raw log line, and volume for its stream."""
    t = now_ns() // W * W - 3 * W
    store.add_anomalies([make_anomaly("web", t, examples=[SECRET_LINE])])
    store.add_window_counts([("web", t, t + W, ALL_TEMPLATES, 12)])


@pytest.fixture
def secured(pipeline, tmp_path, data) -> Iterator[TestClient]:
    secure(pipeline, tmp_path)
    assert pipeline.settings.auth_enabled
    with TestClient(create_app(pipeline)) as c:
        yield c


def get(client: TestClient, path: str, headers: dict[str, str] | None = None, **kw: Any):
    headers = {**HTML, **(headers or {})} if is_page(path) else headers
    return client.get(path, headers=headers, **kw)


def is_page(path: str) -> bool:
    return not path.startswith(("/api/", "/metrics"))


@pytest.mark.parametrize("path", READ_ENDPOINTS)
def test_no_token_is_401_with_a_challenge_and_no_data(secured, path):
    r = get(secured, path)
    assert r.status_code == 401
    if is_page(path):
        assert r.headers["WWW-Authenticate"].startswith('Basic realm="logradar"')
        assert r.headers["content-type"].startswith("text/html")
        assert "Sign-in required" in r.text and "read</code> scope" in r.text
    else:
        assert r.headers["WWW-Authenticate"] == 'Bearer realm="logradar"'
        assert r.json() == {
            "error": "authentication required: send 'Authorization: Bearer <token>'"
        }
    assert "hunter2" not in r.text and "logradar_lines" not in r.text


@pytest.mark.parametrize("path", READ_ENDPOINTS)
@pytest.mark.parametrize(
    "headers",
    [bearer("not-a-token"), {"Authorization": "Basic dXNlcjpub3Bl"}, {"Authorization": "Bearer"}],
)
def test_invalid_token_is_401(secured, path, headers):
    r = get(secured, path, headers)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"].startswith("Basic" if is_page(path) else "Bearer")
    assert "hunter2" not in r.text


@pytest.mark.parametrize("path", READ_ENDPOINTS)
def test_ingest_only_token_is_403_naming_the_scope(secured, path):
    r = get(secured, path, bearer(SHIPPER))
    assert r.status_code == 403
    assert "WWW-Authenticate" not in r.headers
    reason = "the token of tenant 'shippers' lacks the 'read' scope"
    if is_page(path):
        assert "Not allowed" in r.text and reason in r.text.replace("&#39;", "'")
    else:
        assert r.json()["error"].startswith(reason)
    assert "hunter2" not in r.text


@pytest.mark.parametrize(
    "headers",
    [
        bearer(READER),
        {"Authorization": f"ApiKey {READER}"},
        {"X-Auth-Token": READER},
        bearer(BOTH),
    ],
)
def test_read_token_reads_everything(secured, headers):
    anomalies = get(secured, "/api/v1/anomalies", headers)
    assert anomalies.status_code == 200
    assert anomalies.json()[0]["examples"] == [SECRET_LINE]
    volume = get(secured, "/api/v1/volume", headers).json()
    assert volume["series"][0]["stream"] == "web"
    assert get(secured, "/api/v1/alerts", headers).json() == []
    assert get(secured, "/api/v1/mutes", headers).json() == []
    page = get(secured, "/anomalies", headers)
    assert page.status_code == 200 and SECRET_LINE in page.text
    assert get(secured, "/", headers).status_code == 200
    metrics = get(secured, "/metrics", headers)
    assert metrics.status_code == 200
    names = {f.name for f in text_string_to_metric_families(metrics.text)}
    assert "logradar_consumer_lag_lines" in names


def test_browser_basic_auth_any_user_name(secured):
    for user in ("viewer", ""):
        page = get(secured, "/anomalies", auth=(user, READER))
        assert page.status_code == 200 and SECRET_LINE in page.text
    assert get(secured, "/", auth=("viewer", SHIPPER)).status_code == 403


#: Open with auth on: health for load balancers, and the Elasticsearch handshake shippers
#: probe before sending (fixed answers, no data; ``GET /`` from a browser is the UI).
OPEN_PATHS = {
    "/healthz",
    "/_license",
    "/_xpack",
    "/_cluster/health",
    "/_index_template/{name}",
    "/_ilm/policy/{name}",
}


def test_every_other_route_needs_a_token(secured):
    """Guards routes added later: each answers 401 to a request without a token."""
    checked = 0
    for route in secured.app.routes:
        url = re.sub(r"\{[^}]+\}", "1", route.path)
        for method in sorted(route.methods - {"HEAD"}):
            r = secured.request(method, url, headers=HTML | {"Content-Type": "application/json"})
            expected = 200 if route.path in OPEN_PATHS else 401
            assert r.status_code == expected, (method, route.path, r.status_code, r.text)
            checked += 1
    assert checked >= 25


def test_healthz_stays_open(secured):
    r = secured.get("/healthz")
    assert r.status_code == 200 and r.json()["status"] == "ok"


def test_elasticsearch_handshake_stays_open_and_holds_no_data(secured):
    r = secured.get("/", headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.json()["tagline"] == "You Know, for Search"
    assert "hunter2" not in r.text


def test_feedback_needs_the_read_scope(secured, store):
    [a] = store.list_anomalies()
    url = f"/api/v1/anomalies/{a['id']}/expected"
    mute = {"stream": "web", "for": "1h"}
    assert secured.post(url, json={}).status_code == 401
    assert secured.post(url, json={}, headers=bearer(SHIPPER)).status_code == 403
    assert secured.post("/api/v1/mutes", json=mute, headers=bearer(SHIPPER)).status_code == 403
    assert store.list_mutes() == [] and store.get_anomaly(a["id"])["status"] == "open"
    # auth comes first, then the JSON-only rule
    form = secured.post(url, data={"x": "1"}, headers=bearer(READER))
    assert form.status_code == 415
    assert secured.post(url, json={}, headers=bearer(READER)).json()["status"] == "expected"
    added = secured.post("/api/v1/mutes", json=mute, headers=bearer(READER))
    assert added.status_code == 201
    gone = secured.delete(f"/api/v1/mutes/{added.json()['id']}", headers=bearer(SHIPPER))
    assert gone.status_code == 403
    assert secured.delete(f"/api/v1/mutes/{added.json()['id']}", headers=bearer(BOTH)).is_success


def test_receivers_need_the_ingest_scope(secured, pipeline):
    text = {"Content-Type": "text/plain"}
    denied = secured.post("/api/v1/logs?stream=app", content="x", headers=text | bearer(READER))
    assert denied.status_code == 403
    assert denied.json()["error"].startswith("the token of tenant 'people' lacks the 'ingest'")
    assert pipeline.ingested == []
    for token in (SHIPPER, BOTH):
        r = secured.post("/api/v1/logs?stream=app", content="y", headers=text | bearer(token))
        assert r.status_code == 200, r.text
    # stream globs still apply, with their message
    other = secured.post("/api/v1/logs?stream=db", content="z", headers=text | bearer(SHIPPER))
    assert other.status_code == 403
    assert other.json()["error"] == "tenant 'shippers' may not write to stream 'db'"
    assert sum(t.num_rows for t in pipeline.ingested) == 2


@pytest.mark.parametrize("path", READ_ENDPOINTS)
def test_auth_off_changes_nothing(client, path, data):
    """Loopback default: no token needed, as before."""
    assert get(client, path).status_code == 200


def test_auth_explicitly_off_beyond_loopback(pipeline, tmp_path, data):
    secure(pipeline, tmp_path, enabled=False)
    with TestClient(create_app(pipeline)) as c:
        assert all(get(c, path).status_code == 200 for path in READ_ENDPOINTS)


def test_tokens_are_never_logged_or_echoed(pipeline, tmp_path, data, caplog):
    caplog.set_level(logging.DEBUG)
    secure(pipeline, tmp_path)
    answers = []
    with TestClient(create_app(pipeline)) as c:
        for token in (READER, SHIPPER, BOTH, "wr0ng-guess"):
            for path in READ_ENDPOINTS:
                answers.append(get(c, path, bearer(token)))
            answers.append(c.post("/api/v1/logs?stream=x", content="l", headers=bearer(token)))
    seen = caplog.text + "".join(r.text + str(r.headers) for r in answers)
    assert {r.status_code for r in answers} >= {200, 401, 403}
    for token in (READER, SHIPPER, BOTH, "wr0ng-guess"):
        assert token not in seen


def test_scopes_default_to_ingest_and_are_validated(tmp_path):
    plain = Settings(auth={"tokens": [{"token": "t"}]})
    assert plain.auth.tokens[0].scopes == ["ingest"]
    config = tmp_path / "logradar.toml"
    config.write_text('[[auth.tokens]]\ntoken = "t"\nscopes = ["read", "admin"]\n')
    with pytest.raises(ConfigError, match=r"auth\.tokens\.0\.scopes: unknown scope 'admin'"):
        load_config(config)
    config.write_text('[[auth.tokens]]\ntoken = "t"\nscopes = []\n')
    with pytest.raises(ConfigError, match="give at least one scope: ingest and/or read"):
        load_config(config)


def test_a_warning_when_no_token_may_read(caplog):
    caplog.set_level(logging.WARNING, logger="logradar.sources.auth")
    shippers = Settings(auth={"enabled": True, "tokens": [{"token": "t"}]})
    Authenticator(shippers.auth, shippers.auth_enabled)
    assert "no token has the 'read' scope" in caplog.text
    caplog.clear()
    readers = Settings(auth={"enabled": True, "tokens": [{"token": "t", "scopes": ["read"]}]})
    Authenticator(readers.auth, readers.auth_enabled)
    assert caplog.text == ""


# A real Prometheus scraping /metrics -------------------------------------------------------


@pytest.fixture
def served(pipeline, tmp_path) -> Iterator[str]:
    """The app with auth on, served by uvicorn on a free port; its host:port."""
    secure(pipeline, tmp_path)
    with serve_app(create_app(pipeline)) as address:
        yield address


def wait_for(
    read: Callable[[], Any], done: Callable[[Any], bool], proc: subprocess.Popen, log: Path
) -> Any:
    """``read()`` until ``done`` says yes (or 120 s pass); the last value read. Answers that
    are not there yet (connection refused, 503 while starting, partial JSON) are retried."""
    deadline = time.monotonic() + 120
    value = None
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        try:
            value = read()
        except (httpx.HTTPError, ValueError, KeyError, TypeError):
            value = None
        if value is not None and done(value):
            return value
        time.sleep(0.3)
    return value


def _scrape_config(target: str) -> str:
    jobs = {"read_token": READER, "ingest_token": SHIPPER, "no_token": None}
    # a scrape slower than the timeout on a loaded machine is retried at the next interval
    out = ["global:", "  scrape_interval: 1s", "  scrape_timeout: 1s", "scrape_configs:"]
    for job, token in jobs.items():
        out += [f"  - job_name: {job}", "    metrics_path: /metrics"]
        if token:
            out += ["    authorization:", "      type: Bearer", f"      credentials: {token}"]
        out += ["    static_configs:", f"      - targets: ['{target}']"]
    return "\n".join(out) + "\n"


@pytest.mark.integration
def test_prometheus_scrapes_metrics_only_with_a_read_token(served, tmp_path):
    if PROMETHEUS is None:
        reason = "prometheus is not installed (scripts/install-test-deps.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    config = tmp_path / "prometheus.yml"
    config.write_text(_scrape_config(served))
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    proc = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    api = f"http://127.0.0.1:{port}/api/v1"

    def targets() -> dict[str, dict[str, Any]]:
        active = httpx.get(f"{api}/targets").json()["data"]["activeTargets"]
        return {t["labels"]["job"]: t for t in active}

    def settled(found: dict[str, dict[str, Any]]) -> bool:
        """Each target scraped as it should be (a slow scrape is retried, not judged)."""
        health = {job: t["health"] for job, t in found.items()}
        return health == {"read_token": "up", "ingest_token": "down", "no_token": "down"} and (
            "403" in found["ingest_token"]["lastError"] and "401" in found["no_token"]["lastError"]
        )

    def query(expr: str) -> list[dict[str, Any]]:
        return httpx.get(f"{api}/query", params={"query": expr}).json()["data"]["result"]

    def ups() -> dict[str, str]:
        return {r["metric"]["job"]: r["value"][1] for r in query("up")}

    try:
        # Prometheus answers 503 (not JSON) while it starts: wait on what it reports
        found = wait_for(targets, settled, proc, tmp_path / "prometheus.log")
        assert settled(found), f"targets not scraped as expected: {found}"
        expected = {"read_token": "1", "ingest_token": "0", "no_token": "0"}
        assert wait_for(ups, lambda u: u == expected, proc, tmp_path / "prometheus.log") == (
            expected
        )
        lag = wait_for(
            lambda: query('logradar_consumer_lag_lines{consumer="engine"}'),
            bool,
            proc,
            tmp_path / "prometheus.log",
        )
        assert [(r["metric"]["job"], r["value"][1]) for r in lag] == [("read_token", "7")]
    finally:
        proc.terminate()
        proc.wait(20)
        log.close()
