"""`logradar up` as a subprocess: LTS ingest -> anomaly -> webhook, UI and exact archive."""

from __future__ import annotations

import time

import httpx
import pyarrow.dataset as ds
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

LTS = "/v2/{project}/lts/groups/{group}/streams/{stream}/tenant/contents"
FAST = {  # shorter windows than the defaults so the test takes seconds, not minutes
    "LOGRADAR_ENGINE__WINDOW_SECONDS": "2",
    "LOGRADAR_ENGINE__LEARNING_SECONDS": "6",
    "LOGRADAR_ENGINE__ALLOWED_LATENESS_SECONDS": "0.5",
    "LOGRADAR_ARCHIVE__FLUSH_SECONDS": "1",
    "LOGRADAR_ALERTS__GROUP_WAIT_SECONDS": "0",  # notify an incident as soon as it opens
}
NEW_ERROR = "ERROR payment gateway handshake failed: certificate expired for host pay-{i}.example"


def normal_lines(k: int) -> list[str]:
    return [f"INFO GET /api/items/{k * 10 + j} 200 {12 + j} ms user=u{j % 7}" for j in range(8)] + [
        f"INFO cache hit ratio 0.{90 + k % 9} shard={k % 4}"
    ]


def post_lts(url: str, stream: str, lines: list[str], high_accuracy: bool = False) -> None:
    path = LTS.format(project="p" * 32, group="g1", stream=stream)
    now = time.time_ns()
    if high_accuracy:
        body = {"contents": [{"log_time_ns": now, "log": x} for x in lines], "labels": {}}
        path += "/high-accuracy"
    else:
        body = {"log_time_ns": now, "contents": lines, "labels": {"hostName": "web-1"}}
    r = httpx.post(url + path, json=body, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["errorCode"] == "SVCSTG.ALS.200.200"


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def test_new_error_burst_is_detected_alerted_shown_and_archived_once(start_up, webhook):
    up = start_up(["--webhook", webhook.url], FAST)
    sent: list[str] = []
    for k in range(40):  # ~10 s of normal traffic
        lines = normal_lines(k)
        post_lts(up.url, "web", lines, high_accuracy=k % 2 == 1)
        sent += lines
        time.sleep(0.25)
    burst = [NEW_ERROR.format(i=i) for i in range(30)]
    post_lts(up.url, "web", burst)
    sent += burst

    def error_anomaly():
        r = httpx.get(up.url + "/api/v1/anomalies", params={"stream": "web"}, timeout=5)
        assert r.status_code == 200
        return [a for a in r.json() if "certificate expired" in (a.get("template") or "")]

    found = wait_for(error_anomaly, 30, "an anomaly about the new error pattern")
    anomaly = found[0]
    assert anomaly["detector"] == "new_pattern"
    assert anomaly["severity"] in ("medium", "high", "critical")
    assert any("certificate expired" in x for x in anomaly["examples"])
    assert anomaly["explanation"]

    alerts = wait_for(
        lambda: [b for b in webhook.bodies if "certificate expired" in str(b)], 20, "a webhook"
    )
    assert alerts[0]["anomaly"]["stream"] == "web"

    page = httpx.get(up.url + "/", timeout=5)
    assert page.status_code == 200
    assert "certificate expired" in page.text

    assert up.stop() == 0  # graceful: drains the engine, flushes the archive
    archive = ds.dataset(up.data_dir / "archive", partitioning="hive").to_table()
    assert sorted(archive.column("message").to_pylist()) == sorted(sent)
    assert archive.column("offset").to_pylist().__len__() == len(set(archive["offset"].to_pylist()))
    assert set(archive.column("stream").to_pylist()) == {"web"}
