"""`logradar up` reports a never-seen error pattern (API and webhook) while its window is open.

Windows are one hour long here, so a window closing cannot be what makes the anomaly appear:
the baseline lines are timed two hours back (their windows close at once on the wall clock),
the burst now, and the test checks that the anomaly's window was still open when it was seen.
"""

from __future__ import annotations

import time
from datetime import datetime

import httpx
import pytest

pytestmark = [pytest.mark.integration]

LTS = "/v2/p/lts/groups/g/streams/{stream}/tenant/contents"
HOUR = 3600 * 10**9
ENV = {
    "LOGRADAR_ENGINE__WINDOW_SECONDS": "3600",
    "LOGRADAR_ENGINE__LEARNING_SECONDS": "0",
    "LOGRADAR_ALERTS__GROUP_WAIT_SECONDS": "0",  # notify an incident as soon as it opens
}
NORMAL = [f"INFO GET /api/items/{i} 200 in {i % 7 + 2} ms" for i in range(50)]
BURST = [f"ERROR replica {i} lost quorum after fencing token mismatch" for i in range(20)]


def post(url: str, lines: list[str], ts_ns: int) -> None:
    body = {"log_time_ns": ts_ns, "contents": lines, "labels": {"hostName": "db-1"}}
    r = httpx.post(url + LTS.format(stream="db"), json=body, timeout=10)
    assert r.status_code == 200, r.text


def poll(predicate, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    return None


def test_new_error_is_reported_before_its_window_could_close(start_up, webhook):
    up = start_up(["--webhook", webhook.url], ENV)
    post(up.url, NORMAL, time.time_ns() - 2 * HOUR)
    assert poll(lambda: up.metric("logradar_lines_processed_total") >= len(NORMAL), 20)

    left = HOUR - time.time_ns() % HOUR
    if left < 20 * 10**9:  # too close to the end of the hour's window: take the next one
        time.sleep(left / 1e9)
    post(up.url, BURST, time.time_ns())
    sent = time.monotonic()

    def quorum() -> list[dict]:
        r = httpx.get(up.url + "/api/v1/anomalies", params={"stream": "db"}, timeout=5)
        return [a for a in r.json() if "quorum" in (a["template"] or "")]

    found = poll(quorum, 10)
    assert found, "no anomaly within 10 s of the 2xx"
    seen_at = time.time()
    [anomaly] = found
    assert anomaly["detector"] == "new_pattern" and anomaly["severity"] == "high"
    window_end = datetime.fromisoformat(anomaly["end"].replace("Z", "+00:00")).timestamp()
    assert window_end > seen_at, "the window was still open when the anomaly was seen"
    assert anomaly["examples"] and "quorum" in anomaly["examples"][0]

    alerts = poll(
        lambda: [b for b in webhook.bodies if "quorum" in str(b)], 10 - (time.monotonic() - sent)
    )
    assert alerts and len(alerts) == 1
    assert alerts[0]["anomaly_id"] == anomaly["id"]
