"""Fixtures: `logradar up` as a real subprocess (benchmarks/_up.py) and a webhook receiver."""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from _up import UpServer


class WebhookReceiver:
    """A real HTTP server that records the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def start_up(tmp_path) -> Iterator:
    started: list[UpServer] = []

    def start(args: list[str] | None = None, env: dict[str, str] | None = None) -> UpServer:
        # Spark's JVM alone took 27-49 s to start on a loaded 2-core machine
        timeout = 120 if "spark" in (args or []) else 30
        proc = UpServer(tmp_path / "data", args=args or [], env=env, timeout=timeout)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop(signal.SIGKILL)
