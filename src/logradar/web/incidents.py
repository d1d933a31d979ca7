"""The incidents view's rows: anomalies grouped the way an on-call person reads them.

An anomaly linked to an incident (``anomalies.incident_id``, set by incident alerting) is
shown in that incident's row. The others (found while learning, below the alerting
threshold, or stored before incident alerting existed) are grouped by stream, template (or
detector and kind without one) and hour. :func:`incident_rows` is the one place that decides.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from logradar.schema import Severity
from logradar.store import Store, reads
from logradar.web.api import iso

HOUR_NS = 3600 * 10**9
STATUSES = ("open", "firing", "resolved", "expected", "muted", "baselined")


@dataclass
class IncidentRow:
    """One row: an incident, or a group of anomalies without one."""

    key: str
    incident: dict[str, Any] | None
    stream: str
    template: str | None
    template_id: int | None
    severity: str = "info"
    severity_rank: int = 0
    first_ns: int = 0
    last_ns: int = 0
    count: int = 0
    detectors: list[str] = field(default_factory=list)
    status: str = "open"
    lead: dict[str, Any] = field(default_factory=dict)
    """The most severe (then newest) anomaly: what the row links to."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "incident_id": self.incident["id"] if self.incident else None,
            "summary": self.incident["summary"] if self.incident else None,
            "stream": self.stream,
            "template_id": self.template_id,
            "template": self.template,
            "severity": self.severity,
            "first_seen": iso(self.first_ns),
            "last_seen": iso(self.last_ns),
            "count": self.count,
            "detectors": self.detectors,
            "status": self.status,
            "anomaly_id": self.lead["id"],
            "explanation": self.lead["explanation"],
        }


def _group_key(a: dict[str, Any]) -> str:
    if a["incident_id"] is not None:
        return f"incident-{a['incident_id']}"
    what = a["template_id"] if a["template_id"] is not None else f"{a['detector']}/{a['kind']}"
    return f"group-{a['stream']}-{what}-{a['start_ns'] // HOUR_NS}"


def incident_rows(
    store: Store,
    *,
    since_ns: int,
    until_ns: int,
    stream: str | None = None,
    detector: str | None = None,
    min_severity: Severity = Severity.MEDIUM,
    status: str | None = None,
) -> list[IncidentRow]:
    """Rows for anomalies found in ``[since_ns, until_ns)`` at or above ``min_severity``,
    most recently seen first; ``status`` keeps only rows with that status."""
    found = reads.find_anomalies(
        store,
        since_ns=since_ns,
        until_ns=until_ns,
        stream=stream,
        detector=detector,
        min_rank=int(min_severity),
    )
    groups: dict[str, list[dict[str, Any]]] = {}
    for a in found:
        groups.setdefault(_group_key(a), []).append(a)
    linked = reads.incidents_by_id(
        store, {a["incident_id"] for a in found if a["incident_id"] is not None}
    )
    rows = [_row(key, members, linked) for key, members in groups.items()]
    if status:
        rows = [r for r in rows if r.status == status]
    rows.sort(key=lambda r: (r.last_ns, r.severity_rank), reverse=True)
    return rows


def _row(key: str, members: list[dict[str, Any]], linked: dict[int, dict[str, Any]]) -> IncidentRow:
    lead = max(members, key=lambda a: (Severity.parse(a["severity"]), a["start_ns"], a["id"]))
    incident = linked.get(lead["incident_id"]) if lead["incident_id"] is not None else None
    statuses = Counter(a["status"] for a in members)
    if incident is not None:
        status = incident["status"]
    else:
        status = "open" if statuses["open"] else statuses.most_common(1)[0][0]
    rank = Severity.parse(lead["severity"])
    return IncidentRow(
        key=key,
        incident=incident,
        stream=lead["stream"],
        template=lead["template"],
        template_id=lead["template_id"],
        severity=str(rank),
        severity_rank=int(rank),
        first_ns=min(a["start_ns"] for a in members),
        last_ns=max(a["start_ns"] for a in members),
        count=len(members),
        detectors=sorted({a["detector"] for a in members}),
        status=status,
        lead=lead,
    )
