"""Alerting test helpers: anomalies, notification payloads, local HTTP services, a clock."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from logradar.alerts.grouping import FIRING, RESOLVED, Incident
from logradar.alerts.payload import notification
from logradar.schema import Anomaly, Severity
from logradar.store import Store

S = 10**9
T0 = 1_709_294_400 * S  # 2024-03-01T12:00:00Z


def make_anomaly(
    stream: str = "payments",
    *,
    template_id: int | None = 7,
    severity: Severity = Severity.HIGH,
    detector: str = "frequency",
    kind: str = "spike",
) -> Anomaly:
    return Anomaly(
        detector=detector,
        kind=kind,
        stream=stream,
        start=T0,
        end=T0 + 10 * S,
        score=0.9,
        severity=severity,
        explanation=f"template {template_id} seen 40 times in 10 s,\nexpected 3",
        template_id=template_id,
        template="POST /pay <*> 500",
        expected=3.0,
        observed=40.0,
        examples=["POST /pay/123 500 upstream timeout"],
    )


def make_payload(event: str = FIRING, incident_id: int = 12, seq: int = 1) -> dict[str, Any]:
    """A notification payload as the outbox queues it, for an incident of ``make_anomaly``."""
    a = make_anomaly()
    incident = Incident(
        key='{"detector": "frequency", "stream": "payments", "template_id": 7}',
        stream=a.stream, detector=a.detector, kind=a.kind, template_id=a.template_id,
        template=a.template, severity=a.severity, first_seen_ns=T0, last_seen_ns=T0 + 60 * S,
        summary="", explanation="", examples=[], receivers=(), id=incident_id, anomaly_count=5,
        last_anomaly_id=99,
    )  # fmt: skip
    incident.take(a)
    if event == RESOLVED:
        incident.status, incident.resolved_ns = RESOLVED, T0 + 660 * S
    return {**notification(incident, event, seq, "http://logradar.example:8080/"), "receiver": "r"}


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Answer = tuple[int, dict[str, str], bytes]


@dataclass
class HttpService:
    """A local HTTP server: ``handler(request)`` answers; while ``down`` it answers 503."""

    handler: Callable[[Request], Answer]
    requests: list[Request] = field(default_factory=list)
    accepted: list[Request] = field(default_factory=list)
    down: bool = False

    def start(self) -> HttpService:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                request = Request("POST", self.path, headers, body)
                service.requests.append(request)
                if service.down:
                    status, extra, answer = 503, {}, b"down"
                else:
                    status, extra, answer = service.handler(request)
                    if 200 <= status < 300:
                        service.accepted.append(request)
                self.send_response(status)
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()


class Clock:
    """A settable clock in ns, for the outbox and incident timers."""

    def __init__(self, now_ns: int = T0) -> None:
        self.now = now_ns

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * S)


def add_incident(store: Store, stream: str = "payments") -> int:
    return store.add_incident(
        group_key=f'{{"stream": "{stream}"}}', stream=stream, detector="frequency", kind="spike",
        template_id=7, status="firing", first_seen_ns=T0, last_seen_ns=T0, anomaly_count=1,
        summary="s", severity="high", now_ns=T0,
    )  # fmt: skip


def deliver_through_outage(
    store: Store, channel: Any, set_down: Callable[[bool], None], outage_seconds: float = 600
) -> list[dict[str, Any]]:
    """Queue a firing and a resolved notification while ``channel``'s service is down for
    ``outage_seconds`` (simulated clock, real requests), bring it back, deliver; return the
    notification rows (all must be delivered, each sent once: the service checks that)."""
    from logradar.alerts.outbox import Outbox

    clock = Clock()
    outbox = Outbox(store, [channel], clock=clock, backoff_seconds=1, backoff_max_seconds=300)
    incident_id = add_incident(store)
    firing, resolved = make_payload(FIRING, incident_id), make_payload(RESOLVED, incident_id, 2)
    set_down(True)
    outbox.queue(incident_id, [channel.name], event=FIRING, seq=1, payload=firing)
    outbox.queue(incident_id, [channel.name], event=RESOLVED, seq=2, payload=resolved)
    while clock.now < T0 + outage_seconds * S:
        assert outbox.deliver_due() == 0
        clock.advance(10)
    set_down(False)
    delivered = 0
    for _ in range(60):  # the longest backoff is 300 s: at most 30 steps of 10 s
        delivered += outbox.deliver_due()
        if delivered == 2:
            break
        clock.advance(10)
    rows = store.list_notifications(incident_id=incident_id)
    assert delivered == 2, rows
    return sorted(rows, key=lambda r: r["seq"])
