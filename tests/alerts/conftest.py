"""A real HTTP webhook receiver on a free local port, and anomalies to alert on."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from logradar.schema import Anomaly, Severity
from logradar.store import Store

S = 10**9
T0 = 1_709_294_400 * S  # 2024-03-01T12:00:00Z


def _make_anomaly(
    stream: str = "web",
    start: int = T0,
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
        start=start,
        end=start + 10 * S,
        score=0.9,
        severity=severity,
        explanation=f"template {template_id}: 40 lines,\nexpected 3",
        template_id=template_id,
        template="GET <*> 500",
        expected=3.0,
        observed=40.0,
        examples=["GET /a 500"],
    )


class Receiver:
    """Collects POSTed JSON bodies; answers ``fail_status`` to the first ``fail_first``."""

    def __init__(self, port: int = 0, *, fail_first: int = 0, fail_status: int = 500) -> None:
        self.fail_first = fail_first
        self.fail_status = fail_status
        self.requests: list[dict[str, Any]] = []
        self.delivered: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.stopped = False
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with receiver._lock:
                    receiver.requests.append(body)
                    ok = len(receiver.requests) > receiver.fail_first
                    if ok:
                        receiver.delivered.append(body)
                self.send_response(200 if ok else receiver.fail_status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok" if ok else b"no")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/secret-token"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join()
        self.stopped = True


@pytest.fixture
def make_anomaly() -> Callable[..., Anomaly]:
    """Build an anomaly starting at ``T0`` (2024-03-01T12:00:00Z) unless told otherwise."""
    return _make_anomaly


@pytest.fixture
def start_receiver() -> Iterator[Callable[..., Receiver]]:
    """Start :class:`Receiver` servers (same arguments); all are stopped after the test."""
    started: list[Receiver] = []

    def start(*args: Any, **kwargs: Any) -> Receiver:
        started.append(Receiver(*args, **kwargs))
        return started[-1]

    yield start
    for r in started:
        if not r.stopped:
            r.stop()


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path / 'results.db'}")
    yield s
    s.close()
