"""Prometheus Alertmanager: the v2 API alert an incident becomes, and the v4 webhook payload.

An incident is one Alertmanager alert with labels ``alertname="LogAnomaly"``, ``stream``,
``detector``, ``kind``, ``severity``, ``template_id`` (``""`` when none) and
``incident_id``, and annotations ``summary``, ``description``, ``example`` and ``url``.
A firing notification posts it with ``endsAt`` ``firing_ttl_seconds`` ahead (every reminder
moves it on; if logradar stops, Alertmanager resolves the alert by itself then); a resolved
notification posts it again with ``endsAt`` = the resolve time.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from logradar.alerts.channels.base import post_json
from logradar.alerts.payload import iso

ALERT_NAME = "LogAnomaly"


def labels(incident: dict[str, Any]) -> dict[str, str]:
    """The alert's identity in Alertmanager (all label values are strings)."""
    return {
        "alertname": ALERT_NAME,
        "stream": incident["stream"],
        "detector": incident["detector"],
        "kind": incident["kind"],
        "severity": incident["severity"],
        "template_id": "" if incident["template_id"] is None else str(incident["template_id"]),
        "incident_id": str(incident["id"]),
    }


def annotations(payload: dict[str, Any]) -> dict[str, str]:
    incident = payload["incident"]
    out = {"summary": incident["summary"], "description": incident["explanation"]}
    if incident["examples"]:
        out["example"] = incident["examples"][0]
    if payload.get("url"):
        out["url"] = payload["url"]
    return out


def api_alert(payload: dict[str, Any], firing_ttl_seconds: float) -> dict[str, Any]:
    """The ``POST /api/v2/alerts`` item for a notification."""
    incident = payload["incident"]
    if payload["event"] == "resolved":
        ends = incident["resolved_at"]
    else:
        ends = iso(time.time_ns() + int(firing_ttl_seconds * 1e9))
    alert = {
        "labels": labels(incident),
        "annotations": annotations(payload),
        "startsAt": incident["first_seen"],
        "endsAt": ends,
    }
    if payload.get("url"):
        alert["generatorURL"] = payload["url"]
    return alert


def webhook_v4(payload: dict[str, Any], receiver: str) -> dict[str, Any]:
    """The body Alertmanager's webhook receiver sends (``version`` 4), for one incident."""
    incident = payload["incident"]
    status = "resolved" if payload["event"] == "resolved" else "firing"
    alert_labels = labels(incident)
    return {
        "version": "4",
        "groupKey": json.dumps(json.loads(incident["group_key"]), sort_keys=True),
        "truncatedAlerts": 0,
        "status": status,
        "receiver": receiver,
        "groupLabels": {k: str(v) for k, v in json.loads(incident["group_key"]).items()},
        "commonLabels": alert_labels,
        "commonAnnotations": annotations(payload),
        "externalURL": payload.get("url") or "",
        "alerts": [
            {
                "status": status,
                "labels": alert_labels,
                "annotations": annotations(payload),
                "startsAt": incident["first_seen"],
                "endsAt": incident["resolved_at"] or "0001-01-01T00:00:00Z",
                "generatorURL": payload.get("url") or "",
                "fingerprint": f"{incident['id']:016x}",
            }
        ],
    }


class AlertmanagerChannel:
    """Post each notification to an Alertmanager's ``/api/v2/alerts``."""

    def __init__(
        self, name: str, url: str, *, firing_ttl_seconds: float, timeout: float = 10.0
    ) -> None:
        self.name = name
        self.url = str(url).rstrip("/") + "/api/v2/alerts"
        self.firing_ttl_seconds = firing_ttl_seconds
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)

    def send(self, payload: dict[str, Any]) -> str:
        body = [api_alert(payload, self.firing_ttl_seconds)]
        return post_json(self._client, self.name, self.url, body)

    def close(self) -> None:
        self._client.close()
