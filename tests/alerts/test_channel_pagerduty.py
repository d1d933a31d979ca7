"""PagerDuty Events API v2 against a local server that validates events as documented:
trigger opens an alert per dedup_key, resolve with the same key closes it."""

from __future__ import annotations

import json

import pytest

from alert_helpers import RESOLVED, Request, deliver_through_outage, make_payload
from logradar.alerts.channels import ChannelError
from logradar.alerts.channels.pagerduty import PagerDutyChannel
from logradar.store import Store

ROUTING_KEY = "R0123456789abcdef0123456789abcd"  # 32 characters, as PagerDuty issues them
SEVERITIES = {"critical", "error", "warning", "info"}


class FakePagerDuty:
    """``POST /v2/enqueue``: 202 for a valid event, 400 with ``errors`` otherwise."""

    def __init__(self) -> None:
        self.open: dict[str, dict] = {}
        self.resolved: set[str] = set()

    def problems(self, event: dict) -> list[str]:
        errors = []
        if event.get("routing_key") != ROUTING_KEY:
            errors.append("'routing_key' is invalid")
        action = event.get("event_action")
        if action not in ("trigger", "acknowledge", "resolve"):
            errors.append("'event_action' is invalid")
        if action != "trigger" and not event.get("dedup_key"):
            errors.append("'dedup_key' is required for acknowledge and resolve")
        if action == "trigger":
            payload = event.get("payload") or {}
            for key in ("summary", "source", "severity"):
                if not payload.get(key):
                    errors.append(f"'payload.{key}' is missing or blank")
            if payload.get("severity") not in SEVERITIES:
                errors.append("'payload.severity' is invalid")
            if len(payload.get("summary", "")) > 1024:
                errors.append("'payload.summary' is too long")
            for link in event.get("links", []):
                if not link.get("href"):
                    errors.append("'links.href' is missing")
        return errors

    def __call__(self, request: Request):
        if request.path != "/v2/enqueue" or request.headers.get("content-type") != (
            "application/json"
        ):
            return 404, {}, b"not found"
        event = request.json()
        errors = self.problems(event)
        if errors:
            body = {
                "status": "invalid event",
                "message": "Event object is invalid",
                "errors": errors,
            }
            return 400, {"Content-Type": "application/json"}, json.dumps(body).encode()
        key = event["dedup_key"]
        if event["event_action"] == "trigger":
            self.open[key] = event
        elif event["event_action"] == "resolve":
            self.open.pop(key, None)
            self.resolved.add(key)
        body = {"status": "success", "message": "Event processed", "dedup_key": key}
        return 202, {"Content-Type": "application/json"}, json.dumps(body).encode()


def test_trigger_then_resolve_with_the_same_dedup_key(http_service) -> None:
    pd = FakePagerDuty()
    service = http_service(pd)
    channel = PagerDutyChannel("pd", ROUTING_KEY, service.url + "/v2/enqueue", timeout=5)
    answer = channel.send(make_payload())
    assert answer.startswith("HTTP 202") and '"dedup_key":"logradar-12"' in answer.replace(" ", "")
    event = pd.open["logradar-12"]
    assert event["payload"]["severity"] == "error"  # high
    assert event["payload"]["source"] == "payments"
    assert event["payload"]["summary"].startswith("[high] payments: template 7 seen 40 times")
    assert event["payload"]["custom_details"]["examples"] == ["POST /pay/123 500 upstream timeout"]
    assert event["links"] == [
        {"href": "http://logradar.example:8080/incidents/12", "text": "Incident 12"}
    ]
    channel.send(make_payload())  # a reminder updates the same alert
    assert list(pd.open) == ["logradar-12"]
    channel.send(make_payload(RESOLVED, seq=2))
    assert pd.open == {} and pd.resolved == {"logradar-12"}


def test_rejected_events_and_429_retry_after(http_service) -> None:
    service = http_service(FakePagerDuty())
    channel = PagerDutyChannel("pd", "wrong-key", service.url + "/v2/enqueue", timeout=5)
    with pytest.raises(ChannelError, match=r"400.*routing_key"):
        channel.send(make_payload())
    throttled = http_service(lambda r: (429, {"Retry-After": "17"}, b"rate limited"))
    with pytest.raises(ChannelError) as e:
        PagerDutyChannel("pd", ROUTING_KEY, throttled.url, timeout=5).send(make_payload())
    assert e.value.retry_after == 17


def test_down_for_ten_minutes_loses_nothing(http_service, store: Store) -> None:
    pd = FakePagerDuty()
    service = http_service(pd)
    channel = PagerDutyChannel("pd", ROUTING_KEY, service.url + "/v2/enqueue", timeout=5)
    rows = deliver_through_outage(store, channel, lambda down: setattr(service, "down", down))
    assert [r["status"] for r in rows] == ["delivered", "delivered"]
    actions = [r.json()["event_action"] for r in service.accepted]
    assert actions == ["trigger", "resolve"]  # each once, in order
    assert len(service.requests) > 10 and pd.open == {}
