"""DNS rebinding and cross-site writes against the default loopback server, auth off
(issue 17, item 3): the app as ``logradar up`` serves it (:func:`build_server`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from logradar.config import load_config
from logradar.server import build_server

LOGS = "/api/v1/logs?stream=s"
BULK = b'{"index": {"_index": "app"}}\n{"message": "x"}\n'


@pytest.fixture
def served(tmp_path) -> Iterator[Callable[..., TestClient]]:
    pipelines = []

    def serve(
        base_url: str = "http://127.0.0.1:8080", auth: dict | None = None, **server: Any
    ) -> TestClient:
        data_dir = tmp_path / f"d{len(pipelines)}"
        settings = load_config(data_dir=data_dir, server=server, auth=auth or {})
        pipeline, uvicorn_server = build_server(settings)
        pipelines.append(pipeline)
        return TestClient(uvicorn_server.config.app, base_url=base_url)

    yield serve
    for pipeline in pipelines:
        pipeline.stop()


def test_a_rebound_host_name_is_refused_on_every_route(served):
    c = served()
    evil = {"Host": "attacker.example:8080"}
    for method, path in [("GET", "/api/v1/anomalies"), ("POST", LOGS), ("GET", "/")]:
        r = c.request(method, path, headers=evil, content=b"line")
        assert r.status_code == 400, (path, r.text)
        assert "server.allowed_hosts" in r.json()["error"]
    for host in ("127.0.0.1:8080", "localhost:8080", "[::1]:8080", "localhost"):
        assert c.get("/api/v1/anomalies", headers={"Host": host}).status_code == 200, host


def test_allowed_hosts_configure_the_names(served):
    c = served(allowed_hosts=["logs.example.com", "*.internal"])
    assert c.get("/api/v1/anomalies", headers={"Host": "logs.example.com"}).status_code == 200
    assert c.get("/api/v1/anomalies", headers={"Host": "a.internal:80"}).status_code == 200
    assert c.get("/api/v1/anomalies", headers={"Host": "localhost"}).status_code == 400


def test_any_host_when_listening_beyond_loopback_without_a_list(served):
    c = served(base_url="http://logs.example.com", host="0.0.0.0", auth={"enabled": False})
    assert c.get("/healthz").status_code in (200, 503)  # served: not refused by the guard
    assert c.get("/api/v1/anomalies").status_code != 400


@pytest.mark.parametrize(
    ("path", "body", "content_type"),
    [(LOGS, b"hello", "text/plain"), ("/_bulk", BULK, "text/plain")],
)
def test_cross_site_browser_writes_are_refused(served, path, body, content_type):
    c = served()
    headers = {"Content-Type": content_type, "Origin": "https://attacker.example"}
    r = c.post(path, content=body, headers=headers)
    assert r.status_code == 403, r.text
    assert "server.allowed_origins" in r.json()["error"]
    fetch_meta = {"Content-Type": content_type, "Sec-Fetch-Site": "cross-site"}
    assert c.post(path, content=body, headers=fetch_meta).status_code == 403
    assert c.post(path, content=body, headers={"Origin": "null"}).status_code == 403


def test_same_origin_browsers_shippers_and_allowed_origins_may_write(served):
    c = served(allowed_origins=["https://grafana.example"])
    same = {"Origin": "http://127.0.0.1:8080", "Sec-Fetch-Site": "same-origin"}
    assert c.post(LOGS, content=b"a", headers=same).status_code == 200
    assert c.post(LOGS, content=b"b").status_code == 200  # no browser headers: a shipper
    allowed = {"Origin": "https://grafana.example", "Sec-Fetch-Site": "cross-site"}
    assert c.post(LOGS, content=b"c", headers=allowed).status_code == 200
    # reads stay open cross-site: the browser keeps the answer from the page (no CORS)
    assert c.get("/api/v1/anomalies", headers={"Origin": "https://x.example"}).status_code == 200
