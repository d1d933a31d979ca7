"""Alert channel down, then SIGKILL while the alert is still owed, then restart: the anomaly
is stored once, its alert is delivered exactly once when the channel is back, and every
acknowledged line is archived exactly once."""

from __future__ import annotations

import collections
import time

import httpx
import pytest

from faults.fault_tools import (
    NEW_ERROR,
    Load,
    assert_archived_exactly_once,
    drain,
    normal_lines,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

RETRY_FAST = {
    "LOGRADAR_ALERTS__BACKOFF_SECONDS": "0.2",
    "LOGRADAR_ALERTS__BACKOFF_MAX_SECONDS": "1",
}


def send_text(load: Load, lines: list[str]) -> None:
    r = httpx.post(
        load.url + "/api/v1/logs", params={"stream": load.stream}, content="\n".join(lines)
    )
    assert r.status_code == 200, r.text
    load.sent.update(lines)
    load.acked.extend(lines)


def new_error_anomalies(url: str) -> list[dict]:
    r = httpx.get(url + "/api/v1/anomalies", params={"stream": "web"}, timeout=10)
    return [a for a in r.json() if "certificate expired" in (a.get("template") or "")]


def test_alert_channel_down_and_a_kill_deliver_each_alert_exactly_once(start_up, hook, tmp_path):
    hook.down.set()
    args = ["--webhook", hook.url]
    up = start_up(args=args, env=RETRY_FAST)
    load = Load(up.url, stream="web")
    for k in range(40):  # ~10 s of normal traffic: the engine learns for 6 s of event time
        send_text(load, normal_lines(k))
        time.sleep(0.25)  # pacing the traffic, not waiting for a result
    send_text(load, [NEW_ERROR.format(i=i) for i in range(30)])
    [anomaly] = wait_for(lambda: new_error_anomalies(up.url), "the new-error anomaly")
    wait_for(lambda: len(hook.failed) >= 2, "failed deliveries while the channel is down")
    up.kill()  # the alert is still owed

    hook.down.clear()
    restarted = start_up(args=args, env=RETRY_FAST)
    wait_for(lambda: hook.accepted, "the alert once the channel is back")

    def all_delivered() -> bool:
        alerts = httpx.get(restarted.url + "/api/v1/alerts", timeout=10).json()
        return bool(alerts) and all(a["status"] == "delivered" for a in alerts)

    wait_for(all_delivered, "every alert marked delivered")
    drain(restarted)
    stored = new_error_anomalies(restarted.url)
    assert restarted.stop() == 0

    assert [a["id"] for a in stored] == [anomaly["id"]]  # stored once, replay or not
    delivered = collections.Counter(b["anomaly_id"] for b in hook.accepted)
    assert delivered[anomaly["id"]] == 1, delivered
    assert all(n == 1 for n in delivered.values()), delivered
    assert_archived_exactly_once(tmp_path / "data" / "archive", load)
