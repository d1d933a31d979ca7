"""Incidents from anomalies, and when to notify: Alertmanager's grouping plus flap damping.

Pure logic: no store, no threads, no clock of its own; every call takes ``now_ns``.

*Grouping.* Anomalies at or above ``min_severity`` that are equal on the ``group_by`` fields
form one incident while it is open. The first notification goes out ``group_wait`` after the
incident opened (so a burst becomes one message). Later ones go out when the incident got
worse (higher severity, or a route added receivers), at most once per ``group_interval``, and
as a reminder every ``repeat_interval`` while it lasts. An incident no anomaly joined for
``resolve_after`` resolves; the receivers its firing reached get a ``resolved`` notification.
A later anomaly of the same group opens a new incident.

*Inhibition.* While an incident at or above ``inhibit_severity`` is open on a stream, less
severe incidents of that stream send nothing (``suppressed = "inhibited"``); once it resolves
they notify as usual.

*Silences* are the store's mutes: ``silenced(incident, now_ns)`` says if one matches.

*Flap damping.* A group that already resolved ``flap_threshold`` times within
``flap_period`` is held open at its next resolve (``suppressed = "flapping"``): anomalies keep
joining it without paging, and it resolves only after ``flap_period`` without anomalies.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from logradar.alerts.routing import Router
from logradar.config import AlertsConfig
from logradar.schema import Anomaly, Severity

SECOND_NS = 10**9
SUMMARY_CHARS = 200
FIRING, RESOLVED = "firing", "resolved"


def one_line(text: str, limit: int = SUMMARY_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def anomaly_fields(anomaly: Anomaly) -> dict[str, Any]:
    """The fields routes match and incidents group on."""
    return {
        "stream": anomaly.stream,
        "severity": str(anomaly.severity),
        "detector": anomaly.detector,
        "kind": anomaly.kind,
        "template_id": anomaly.template_id,
    }


def group_key(anomaly: Anomaly, group_by: Iterable[str]) -> str:
    """The incident group of ``anomaly``: JSON of its ``group_by`` fields."""
    fields = anomaly_fields(anomaly)
    return json.dumps({name: fields[name] for name in sorted(group_by)})


@dataclass(eq=False)
class Incident:
    """An open (or just resolved) incident; the store keeps the same fields."""

    key: str
    stream: str
    detector: str
    kind: str
    template_id: int | None
    template: str | None
    severity: Severity
    first_seen_ns: int
    last_seen_ns: int
    summary: str
    explanation: str
    examples: list[str]
    receivers: tuple[str, ...]
    id: int | None = None
    anomaly_count: int = 1
    status: str = FIRING
    resolved_ns: int | None = None
    flaps: int = 0
    suppressed: str | None = None
    held: bool = False
    notifications: int = 0
    last_notified_ns: int | None = None
    notified_severity: Severity | None = None
    notified_receivers: tuple[str, ...] = ()
    last_anomaly_id: int | None = None
    anomaly: dict[str, Any] | None = None
    """The anomaly that describes the incident (its first or most severe), as a dict."""
    new_anomaly_ids: list[int] = field(default_factory=list)
    """Anomalies that joined since the store last saw the incident."""

    @property
    def fields(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "severity": str(self.severity),
            "detector": self.detector,
            "kind": self.kind,
            "template_id": self.template_id,
        }

    def take(self, anomaly: Anomaly) -> None:
        """Describe the incident by ``anomaly`` (its first, or a more severe one)."""
        self.severity = anomaly.severity
        self.summary = one_line(anomaly.explanation)
        self.explanation = anomaly.explanation
        self.examples = list(anomaly.examples)[:5]
        self.anomaly = anomaly.to_dict()


@dataclass(frozen=True, slots=True)
class Notice:
    """A notification to queue: ``event`` of ``incident`` for ``receivers``, number ``seq``."""

    incident: Incident
    event: str
    receivers: tuple[str, ...]
    seq: int


class Grouper:
    """Groups anomalies into incidents and says which notifications are due (see module)."""

    def __init__(
        self,
        cfg: AlertsConfig,
        router: Router,
        *,
        silenced: Callable[[Incident, int], bool] = lambda incident, now_ns: False,
    ) -> None:
        self.cfg = cfg
        self.router = router
        self.silenced = silenced
        self.open: dict[str, Incident] = {}
        self.changed: dict[int, Incident] = {}
        """Incidents changed since :meth:`take_changed` (by object id)."""
        self._resolves: dict[str, deque[int]] = {}
        self._flaps: dict[str, int] = {}

    def _ns(self, seconds: float) -> int:
        return int(seconds * SECOND_NS)

    def _touch(self, incident: Incident) -> None:
        self.changed[id(incident)] = incident

    def take_changed(self) -> list[Incident]:
        """Incidents changed since the last call (to save them)."""
        out = list(self.changed.values())
        self.changed.clear()
        return out

    def restore(self, incident: Incident) -> None:
        """Adopt an incident that was open before a restart."""
        self.open[incident.key] = incident

    # Anomalies in --------------------------------------------------------------------------
    def add(self, anomaly: Anomaly, now_ns: int, anomaly_id: int | None = None) -> Incident | None:
        """Put ``anomaly`` in its incident (opening one if needed); None if below
        ``min_severity``."""
        if anomaly.severity < self.cfg.min_severity:
            return None
        key = group_key(anomaly, self.cfg.group_by)
        incident = self.open.get(key)
        if incident is None:
            fields = anomaly_fields(anomaly)
            incident = Incident(
                key=key,
                stream=anomaly.stream,
                detector=anomaly.detector,
                kind=anomaly.kind,
                template_id=anomaly.template_id,
                template=anomaly.template,
                severity=anomaly.severity,
                first_seen_ns=now_ns,
                last_seen_ns=now_ns,
                summary="",
                explanation="",
                examples=[],
                receivers=self.router.receivers(fields),
            )
            incident.take(anomaly)
            if self._recent_resolves(key, now_ns):
                self._flaps[key] = self._flaps.get(key, 0) + 1
                incident.flaps = self._flaps[key]
            self.open[key] = incident
        else:
            incident.last_seen_ns = max(incident.last_seen_ns, now_ns)
            incident.anomaly_count += 1
            if anomaly.severity > incident.severity:
                incident.take(anomaly)
                routed = self.router.receivers(incident.fields)
                incident.receivers = tuple(dict.fromkeys((*incident.receivers, *routed)))
        if anomaly_id is not None:
            incident.new_anomaly_ids.append(anomaly_id)
            incident.last_anomaly_id = anomaly_id
        self._touch(incident)
        return incident

    # Time passing ------------------------------------------------------------------------
    def due(self, now_ns: int) -> list[Notice]:
        """Resolve quiet incidents and return the notifications due at ``now_ns``."""
        resolved = (self._resolve(incident, now_ns) for incident in list(self.open.values()))
        notices = [n for n in resolved if n is not None]
        for incident in self.open.values():
            reason = self._suppression(incident, now_ns)
            if reason != incident.suppressed:
                incident.suppressed = reason
                self._touch(incident)
            if reason is None and incident.receivers and self._firing_due(incident, now_ns):
                notices.append(self._notice(incident, FIRING, incident.receivers, now_ns))
        return notices

    def _recent_resolves(self, key: str, now_ns: int) -> deque[int]:
        times = self._resolves.setdefault(key, deque())
        while times and now_ns - times[0] > self._ns(self.cfg.flap_period_seconds):
            times.popleft()
        return times

    def _resolve(self, incident: Incident, now_ns: int) -> Notice | None:
        quiet = now_ns - incident.last_seen_ns
        if incident.held:
            if quiet < self._ns(self.cfg.flap_period_seconds):
                return None
        elif quiet < self._ns(self.cfg.resolve_after_seconds):
            return None
        else:
            resolves = self._recent_resolves(incident.key, now_ns)
            if len(resolves) >= self.cfg.flap_threshold:
                incident.held = True
                incident.suppressed = "flapping"
                self._touch(incident)
                return None
        self._recent_resolves(incident.key, now_ns).append(now_ns)
        del self.open[incident.key]
        incident.status = RESOLVED
        incident.resolved_ns = now_ns
        incident.suppressed = None
        self._touch(incident)
        if not incident.notified_receivers:
            return None  # nobody was told it fired
        return self._notice(incident, RESOLVED, incident.notified_receivers, now_ns)

    def _suppression(self, incident: Incident, now_ns: int) -> str | None:
        if incident.held:
            return "flapping"
        if self.silenced(incident, now_ns):
            return "silenced"
        floor = self.cfg.inhibit_severity
        if floor is not None and incident.severity < floor:
            for other in self.open.values():
                if other.stream == incident.stream and other.severity >= floor:
                    return "inhibited"
        return None

    def _firing_due(self, incident: Incident, now_ns: int) -> bool:
        last = incident.last_notified_ns
        if last is None:
            return now_ns - incident.first_seen_ns >= self._ns(self.cfg.group_wait_seconds)
        worse = (
            incident.notified_severity is None
            or incident.severity > incident.notified_severity
            or not set(incident.receivers) <= set(incident.notified_receivers)
        )
        if worse and now_ns - last >= self._ns(self.cfg.group_interval_seconds):
            return True
        return now_ns - last >= self._ns(self.cfg.repeat_interval)

    def _notice(
        self, incident: Incident, event: str, receivers: tuple[str, ...], now_ns: int
    ) -> Notice:
        incident.notifications += 1
        incident.last_notified_ns = now_ns
        if event == FIRING:
            incident.notified_severity = incident.severity
            incident.notified_receivers = tuple(
                dict.fromkeys((*incident.notified_receivers, *receivers))
            )
        self._touch(incident)
        return Notice(incident, event, receivers, incident.notifications)
