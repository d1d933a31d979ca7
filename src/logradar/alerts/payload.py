"""The notification payload: what is queued (frozen) and what every channel formats.

``logradar``-format webhooks receive it as is::

    {"version": 2, "event": "firing" | "resolved", "seq": 1, "receiver": "hook",
     "summary": "[high] pay: ...", "url": "<ui_url>/incidents/12" | null,
     "incident": {"id": 12, "status": ..., "severity": ..., "stream": ..., ...},
     "anomaly_id": 345, "anomaly": {...the anomaly that describes the incident...}}

``anomaly_id``, ``anomaly`` and ``summary`` keep the fields of the per-anomaly payload of
earlier versions.
"""

from __future__ import annotations

from typing import Any

from logradar.alerts.grouping import FIRING, Incident
from logradar.schema import Anomaly, Severity, now_ns
from logradar.store.schema import ns_to_datetime

PAYLOAD_VERSION = 2


def iso(ns: int | None) -> str | None:
    """Nanoseconds since the epoch as ISO-8601 UTC (``...Z``), None stays None."""
    return None if ns is None else ns_to_datetime(ns).isoformat().replace("+00:00", "Z")


def incident_url(ui_url: str | None, incident_id: int) -> str | None:
    """The incident's page in the web UI, or None without ``alerts.ui_url``."""
    return None if not ui_url else f"{str(ui_url).rstrip('/')}/incidents/{incident_id}"


def incident_dict(incident: Incident) -> dict[str, Any]:
    """The incident as channels see it (times ISO-8601 UTC)."""
    assert incident.id is not None, "an incident is saved before it notifies"
    return {
        "id": incident.id,
        "group_key": incident.key,
        "status": incident.status,
        "severity": str(incident.severity),
        "stream": incident.stream,
        "detector": incident.detector,
        "kind": incident.kind,
        "template_id": incident.template_id,
        "template": incident.template,
        "summary": incident.summary,
        "explanation": incident.explanation,
        "examples": list(incident.examples),
        "anomaly_count": incident.anomaly_count,
        "first_seen": iso(incident.first_seen_ns),
        "last_seen": iso(incident.last_seen_ns),
        "resolved_at": iso(incident.resolved_ns),
        "flaps": incident.flaps,
    }


def notification(incident: Incident, event: str, seq: int, ui_url: str | None) -> dict[str, Any]:
    """The payload of notification ``seq`` (``event`` firing or resolved) of ``incident``."""
    i = incident_dict(incident)
    return {
        "version": PAYLOAD_VERSION,
        "event": event,
        "seq": seq,
        "summary": f"[{i['severity']}] {i['stream']}: {i['summary']}",
        "url": incident_url(ui_url, i["id"]),
        "incident": i,
        "anomaly_id": incident.last_anomaly_id,
        "anomaly": incident.anomaly,
    }


def test_notification(ui_url: str | None, incident_id: int = 0) -> dict[str, Any]:
    """A made-up firing notification for ``logradar alerts test``."""
    now = now_ns()
    anomaly = Anomaly(
        detector="test",
        kind="test",
        stream="logradar-test",
        start=now,
        end=now,
        score=0.0,
        severity=Severity.INFO,
        explanation="Test notification from `logradar alerts test`: the receiver works.",
        examples=["this is a test line"],
    )
    incident = Incident(
        key='{"stream": "logradar-test"}',
        stream=anomaly.stream,
        detector=anomaly.detector,
        kind=anomaly.kind,
        template_id=None,
        template=None,
        severity=anomaly.severity,
        first_seen_ns=now,
        last_seen_ns=now,
        summary="",
        explanation="",
        examples=[],
        receivers=(),
        id=incident_id,
    )
    incident.take(anomaly)
    return notification(incident, FIRING, 1, ui_url)
