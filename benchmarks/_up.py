"""`logradar up` as a subprocess on a free port: shared by benchmarks and end-to-end tests."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class UpServer:
    """Starts `logradar up --data-dir DATA --port PORT [ARGS]` and waits until it is healthy.

    ``env`` is added to the environment (``LOGRADAR_*`` overrides); the server's output goes
    to ``<data_dir's parent>/up-<port>.log``, shown when it fails to start. ``tls``:
    (certificate, key) passed as ``--tls-cert``/``--tls-key``; the URL is then https.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        args: list[str] | tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        timeout: float = 60.0,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        port = port or free_port()
        self.data_dir = data_dir
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        #: what httpx needs to trust the server: its certificate when ``tls`` is given
        self.verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=str(tls[0])) if tls else True
        )
        if tls:
            args = [*args, "--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
        self.log_path = data_dir.parent / f"up-{port}.log"
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.log = open(self.log_path, "wb")  # noqa: SIM115 (lives as long as the server)
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "logradar",
                "up",
                "--data-dir",
                str(data_dir),
                "--port",
                str(port),
                *args,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"logradar up exited with {self.proc.returncode}:\n{self.output()}"
                )
            try:
                healthz = httpx.get(self.url + "/healthz", timeout=1, verify=self.verify)
                if healthz.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.proc.kill()
        raise RuntimeError(f"logradar up did not become healthy:\n{self.output()}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def output(self) -> str:
        """The server's output so far (the last 3,000 characters)."""
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-3000:]

    def metric(self, name: str, label: str = "") -> float:
        """The first sample of ``name`` (whose line contains ``label``) from ``/metrics``."""
        for line in httpx.get(self.url + "/metrics", timeout=5).text.splitlines():
            if line.startswith(name) and label in line:
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 120.0) -> int:
        """Send ``sig`` and wait; kill after ``timeout``. Returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


class WebhookReceiver:
    """A real HTTP server that records each JSON body POSTed to it with its arrival time
    (monotonic clock): what an alert webhook sees."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, dict[str, Any]]] = []
        arrivals = self.arrivals

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                arrivals.append((time.monotonic(), json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def bodies(self) -> list[dict[str, Any]]:
        return [body for _, body in self.arrivals]

    def arrived(self, marker: str) -> float | None:
        """When the first alert whose template contains ``marker`` arrived, if it did."""
        for at, body in list(self.arrivals):
            if marker in (body.get("anomaly", {}).get("template") or ""):
                return at
        return None

    def close(self) -> None:
        self.server.shutdown()
