"""PagerDuty Events API v2: ``trigger`` an alert per incident, ``resolve`` it with the same key.

``dedup_key`` is ``logradar-<incident id>``, so reminders update the open PagerDuty alert
instead of opening new ones, and the resolve closes it. PagerDuty answers 202 with
``{"status": "success", "dedup_key": ...}``; 429 means slow down.
"""

from __future__ import annotations

from typing import Any

import httpx

from logradar.alerts.channels.base import post_json

SEVERITIES = {
    "critical": "critical",
    "high": "error",
    "medium": "warning",
    "low": "info",
    "info": "info",
}
"""logradar severity -> PagerDuty's critical/error/warning/info."""

SUMMARY_CHARS = 1024


def dedup_key(incident_id: int) -> str:
    return f"logradar-{incident_id}"


def event(payload: dict[str, Any], routing_key: str) -> dict[str, Any]:
    """The Events API v2 body for a notification."""
    incident = payload["incident"]
    key = dedup_key(incident["id"])
    if payload["event"] == "resolved":
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": key}
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {
            "summary": payload["summary"][:SUMMARY_CHARS],
            "source": incident["stream"],
            "severity": SEVERITIES[incident["severity"]],
            "timestamp": incident["first_seen"],
            "component": incident["stream"],
            "group": incident["detector"],
            "class": incident["kind"],
            "custom_details": {
                "explanation": incident["explanation"],
                "examples": incident["examples"],
                "template_id": incident["template_id"],
                "template": incident["template"],
                "anomaly_count": incident["anomaly_count"],
                "last_seen": incident["last_seen"],
            },
        },
        "client": "logradar",
    }
    if payload.get("url"):
        body["client_url"] = payload["url"]
        body["links"] = [{"href": payload["url"], "text": f"Incident {incident['id']}"}]
    return body


class PagerDutyChannel:
    """Send each notification to the Events API v2 enqueue URL."""

    def __init__(self, name: str, routing_key: str, url: str, *, timeout: float = 10.0) -> None:
        self.name = name
        self.routing_key = routing_key
        self.url = str(url)
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)

    def send(self, payload: dict[str, Any]) -> str:
        return post_json(self._client, self.name, self.url, event(payload, self.routing_key))

    def close(self) -> None:
        self._client.close()
