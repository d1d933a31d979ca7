"""`logradar up --engine spark`: the same receivers and API, detection on Spark (local mode)."""

from __future__ import annotations

import time

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.spark]

FAST = {
    "LOGRADAR_ENGINE__WINDOW_SECONDS": "2",
    "LOGRADAR_ENGINE__LEARNING_SECONDS": "4",
    "LOGRADAR_ENGINE__ALLOWED_LATENESS_SECONDS": "0.5",
}


def test_up_with_the_spark_engine_detects_a_new_error(start_up):
    up = start_up(["--engine", "spark", "--spark-master", "local[1]"], FAST)
    text = {"Content-Type": "text/plain"}
    for _ in range(16):
        r = httpx.post(
            up.url + "/api/v1/logs?stream=web",
            content="INFO GET /a 200\nINFO GET /b 200",
            headers=text,
            timeout=10,
        )
        assert r.status_code == 200
        time.sleep(0.5)
    r = httpx.post(
        up.url + "/api/v1/logs?stream=web",
        content="ERROR kernel panic in module zfs\nERROR kernel panic in module zfs",
        headers=text,
        timeout=10,
    )
    assert r.status_code == 200
    deadline = time.monotonic() + 90
    found = []
    while time.monotonic() < deadline and not found:
        anomalies = httpx.get(up.url + "/api/v1/anomalies?stream=web", timeout=10).json()
        found = [a for a in anomalies if "kernel panic" in (a["template"] or "")]
        time.sleep(0.5)
    assert found, up.output()[-3000:]
    assert found[0]["detector"] == "new_pattern" and found[0]["severity"] == "high"
    assert up.stop() == 0
