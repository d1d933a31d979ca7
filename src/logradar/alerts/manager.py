"""Incident alerting wired to the store: group anomalies, save incidents, queue notifications.

Typical wiring (what ``logradar up`` does)::

    alerting = build_alerting(store, cfg.alerts)
    alerting.observe(new_anomalies)          # engine thread, after storing them
    threading.Thread(target=alerting.run, args=(stop,), daemon=True).start()

:meth:`IncidentAlerting.observe` and :meth:`IncidentAlerting.tick` share a lock, so the
engine thread and the delivery thread can call them at once. Incidents firing when the
process stopped are picked up again from the store (their flap history is not).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from logradar.alerts.channels import build_channels
from logradar.alerts.grouping import Grouper, Incident, Notice
from logradar.alerts.outbox import Outbox
from logradar.alerts.payload import notification
from logradar.alerts.routing import Router
from logradar.config import AlertsConfig
from logradar.schema import Anomaly
from logradar.store import IncidentRow, MuteRow, Store

MUTES_REFRESH_NS = 5 * 10**9
RESTORE_LIMIT = 100_000


class IncidentAlerting:
    """Anomalies in, incidents in the store, notifications through ``outbox``."""

    def __init__(
        self,
        store: Store,
        cfg: AlertsConfig,
        outbox: Outbox,
        router: Router,
        *,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.store = store
        self.cfg = cfg
        self.outbox = outbox
        self.clock = clock
        self.grouper = Grouper(cfg, router, silenced=self._silenced)
        self._lock = threading.Lock()
        self._mutes: list[MuteRow] = []
        self._mutes_at: int | None = None
        self.restore()

    # Silences ------------------------------------------------------------------------------
    def _silenced(self, incident: Incident, now_ns: int) -> bool:
        if self._mutes_at is None or now_ns - self._mutes_at >= MUTES_REFRESH_NS:
            self._mutes = self.store.list_mutes(active_at_ns=now_ns)
            self._mutes_at = now_ns
        return any(
            now_ns < m.until_ns
            and (m.stream is None or m.stream == incident.stream)
            and (m.template_id is None or m.template_id == incident.template_id)
            for m in self._mutes
        )

    # Anomalies in --------------------------------------------------------------------------
    def observe(self, new: Iterable[tuple[int, Anomaly]]) -> None:
        """Group newly stored anomalies (``(id, anomaly)``) into incidents, then notify what
        is due (with ``group_wait_seconds = 0``, at once)."""
        with self._lock:
            now = self.clock()
            for anomaly_id, anomaly in new:
                self.grouper.add(anomaly, now, anomaly_id)
            self._save(now)
        self.tick()

    def tick(self) -> int:
        """Resolve quiet incidents and queue the notifications due; return how many."""
        with self._lock:
            now = self.clock()
            notices = self.grouper.due(now)
            self._save(now)
            return sum(self._queue(n) for n in notices)

    def _queue(self, notice: Notice) -> int:
        incident = notice.incident
        assert incident.id is not None
        ui_url = str(self.cfg.ui_url) if self.cfg.ui_url else None
        payload = notification(incident, notice.event, notice.seq, ui_url)
        ids = self.outbox.queue(
            incident.id, list(notice.receivers), event=notice.event, seq=notice.seq, payload=payload
        )
        return len(ids)

    def _save(self, now_ns: int) -> None:
        for incident in self.grouper.take_changed():
            fields = _fields(incident)
            if incident.id is None:
                incident.id = self.store.add_incident(now_ns=now_ns, **fields)
            else:
                self.store.update_incident(incident.id, now_ns=now_ns, **fields)
            if incident.new_anomaly_ids:
                self.store.link_anomalies(incident.id, incident.new_anomaly_ids)
                incident.new_anomaly_ids.clear()

    # Restart -------------------------------------------------------------------------------
    def restore(self) -> int:
        """Adopt the incidents still firing in the store; return how many."""
        rows = self.store.list_incidents(status="firing", limit=RESTORE_LIMIT)
        for row in rows:
            self.grouper.restore(self._incident(row))
        return len(rows)

    def _incident(self, row: IncidentRow) -> Incident:
        fields = {
            "stream": row.stream,
            "severity": str(row.severity),
            "detector": row.detector,
            "kind": row.kind,
            "template_id": row.template_id,
        }
        receivers = self.grouper.router.receivers(fields)
        notified = row.notifications > 0
        latest = self.store.incident_anomalies(row.id, limit=1)
        return Incident(
            key=row.group_key,
            stream=row.stream,
            detector=row.detector,
            kind=row.kind,
            template_id=row.template_id,
            template=row.template,
            severity=row.severity,
            first_seen_ns=row.first_seen_ns,
            last_seen_ns=row.last_seen_ns,
            summary=row.summary,
            explanation=row.explanation,
            examples=list(row.examples),
            receivers=receivers,
            id=row.id,
            anomaly_count=row.anomaly_count,
            flaps=row.flaps,
            suppressed=row.suppressed,
            held=row.suppressed == "flapping",
            notifications=row.notifications,
            last_notified_ns=row.last_notified_ns,
            notified_severity=row.severity if notified else None,
            notified_receivers=receivers if notified else (),
            last_anomaly_id=latest[0]["id"] if latest else None,
            anomaly=latest[0] if latest else None,
        )

    # Delivery ------------------------------------------------------------------------------
    def run(self, stop: threading.Event, poll_seconds: float = 0.5) -> None:
        """Tick and deliver until ``stop`` is set (the body of a background thread)."""
        self.outbox.run(stop, poll_seconds, before=self.tick)

    def wake(self) -> None:
        self.outbox.wake()


def _fields(incident: Incident) -> dict[str, Any]:
    """The :class:`~logradar.store.IncidentRow` fields the store keeps of ``incident``."""
    return {
        "group_key": incident.key,
        "stream": incident.stream,
        "detector": incident.detector,
        "kind": incident.kind,
        "template_id": incident.template_id,
        "template": incident.template,
        "severity": incident.severity,
        "status": incident.status,
        "first_seen_ns": incident.first_seen_ns,
        "last_seen_ns": incident.last_seen_ns,
        "anomaly_count": incident.anomaly_count,
        "resolved_ns": incident.resolved_ns,
        "summary": incident.summary,
        "explanation": incident.explanation,
        "examples": incident.examples,
        "flaps": incident.flaps,
        "suppressed": incident.suppressed,
        "notifications": incident.notifications,
        "last_notified_ns": incident.last_notified_ns,
    }


def build_alerting(
    store: Store,
    cfg: AlertsConfig,
    console_callback: Callable[[dict[str, Any]], None] | None = None,
    *,
    clock: Callable[[], int] = time.time_ns,
) -> IncidentAlerting:
    """Incident alerting with the receivers, routes and retry policy of ``cfg``."""
    channels, defaults = build_channels(cfg, console_callback)
    configured = [r.name for r in cfg.receivers]
    router = Router(cfg.routes, all_receivers=configured, default_receivers=defaults)
    outbox = Outbox(
        store,
        channels,
        min_intervals={r.name: r.min_interval_seconds for r in cfg.receivers},
        max_attempts=cfg.max_attempts,
        backoff_seconds=cfg.backoff_seconds,
        backoff_max_seconds=cfg.backoff_max_seconds,
        clock=clock,
    )
    return IncidentAlerting(store, cfg, outbox, router, clock=clock)
