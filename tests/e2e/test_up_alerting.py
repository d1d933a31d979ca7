"""`logradar up` with [alerts] receivers and routes: an incident fires to every receiver of
its route once, then resolves; receivers of other routes hear nothing."""

from __future__ import annotations

import time
from collections import Counter

import httpx
import pytest

from alert_helpers import HttpService, Request

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ENV = {  # short windows (as in test_up_end_to_end.py), notify at once, resolve after 4 s
    "LOGRADAR_ENGINE__WINDOW_SECONDS": "2",
    "LOGRADAR_ENGINE__LEARNING_SECONDS": "6",
    "LOGRADAR_ENGINE__ALLOWED_LATENESS_SECONDS": "0.5",
    "LOGRADAR_ALERTS__GROUP_WAIT_SECONDS": "0",
    "LOGRADAR_ALERTS__RESOLVE_AFTER_SECONDS": "4",
}
ERROR = "ERROR ledger write failed: disk quota exceeded on volume vol-{i}"
LTS = "/v2/{project}/lts/groups/{group}/streams/{stream}/tenant/contents"


def normal_lines(k: int) -> list[str]:
    return [f"INFO POST /ledger/{k * 10 + j} 201 {12 + j} ms user=u{j % 7}" for j in range(8)]


def post_lts(url: str, stream: str, lines: list[str]) -> None:
    path = LTS.format(project="p" * 32, group="g1", stream=stream)
    body = {"log_time_ns": time.time_ns(), "contents": lines, "labels": {}}
    r = httpx.post(url + path, json=body, timeout=10)
    assert r.status_code == 200, r.text


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def http_service():
    started: list[HttpService] = []

    def start(handler) -> HttpService:
        started.append(HttpService(handler).start())
        return started[-1]

    yield start
    for s in started:
        s.stop()


def config(services: dict[str, HttpService]) -> str:
    return f"""
[alerts]
ui_url = "http://logradar.example:8080"

[[alerts.receivers]]
name = "pd"
type = "pagerduty"
routing_key = "R0123456789abcdef0123456789abcd"
url = "{services["pd"].url}/v2/enqueue"
[[alerts.receivers]]
name = "chat"
type = "slack"
webhook_url = "{services["chat"].url}/services/T/B/X"
[[alerts.receivers]]
name = "hook"
type = "webhook"
url = "{services["hook"].url}/hook"
headers = {{ Authorization = "Bearer e2e" }}
[[alerts.receivers]]
name = "other"
type = "webhook"
url = "{services["other"].url}/hook"

[[alerts.routes]]
match = {{ stream = "ledg*" }}
receivers = ["pd", "chat"]
continue = true
[[alerts.routes]]
match = {{ stream = "ledger" }}
receivers = ["hook"]
[[alerts.routes]]
match = {{ stream = "db-*" }}
receivers = ["other"]
"""


def incident_events(service: HttpService) -> Counter:
    """(incident id, firing|resolved) -> how many times this receiver got it."""
    events: Counter = Counter()
    for r in service.accepted:
        body = r.json()
        if "event_action" in body:  # PagerDuty
            key = body["dedup_key"].removeprefix("logradar-")
            events[(int(key), "firing" if body["event_action"] == "trigger" else "resolved")] += 1
        elif "blocks" in body:  # Slack
            state, *_ = body["blocks"][0]["text"]["text"].split()
            incident = int(body["blocks"][-1]["elements"][0]["url"].rsplit("/", 1)[1])
            events[(incident, state.lower())] += 1
        else:
            events[(body["incident"]["id"], body["event"])] += 1
    return events


def test_incident_fires_to_its_route_once_then_resolves(start_up, tmp_path, http_service) -> None:
    def ok(request: Request):
        return (202 if request.path == "/v2/enqueue" else 200), {}, b"ok"

    services = {name: http_service(ok) for name in ("pd", "chat", "hook", "other")}
    path = tmp_path / "alerts.toml"
    path.write_text(config(services))
    up = start_up(["--config", str(path)], ENV)
    for k in range(40):  # ~10 s of normal traffic
        post_lts(up.url, "ledger", normal_lines(k))
        time.sleep(0.25)
    post_lts(up.url, "ledger", [ERROR.format(i=i) for i in range(30)])

    def incidents_about_the_error() -> list[int]:
        found = set()
        for body in (r.json() for r in services["hook"].accepted):
            if "quota exceeded" in (body["incident"]["template"] or ""):
                found.add(body["incident"]["id"])
        return sorted(found)

    (incident,) = wait_for(incidents_about_the_error, 30, "a notification about the error")

    def all_resolved() -> bool:
        seen = {i for s in ("pd", "chat", "hook") for i, _ in incident_events(services[s])}
        return all(
            incident_events(services[s])[(i, "resolved")]
            for s in ("pd", "chat", "hook")
            for i in seen
        )

    wait_for(all_resolved, 30, "every incident to resolve at every receiver")
    time.sleep(1)  # a late duplicate would arrive now
    for name in ("pd", "chat", "hook"):
        events = incident_events(services[name])
        assert events[(incident, "firing")] == 1, (name, events)
        assert events[(incident, "resolved")] == 1, (name, events)
        assert all(n == 1 for n in events.values()), (name, events)  # every incident once
    assert services["other"].requests == []  # another route's receiver
    assert services["hook"].accepted[0].headers["authorization"] == "Bearer e2e"
    listed = httpx.get(up.url + "/api/v1/anomalies", params={"stream": "ledger"}, timeout=5).json()
    linked = {a["incident_id"] for a in listed if "quota exceeded" in (a["template"] or "")}
    assert linked == {incident}
    assert up.stop() == 0
