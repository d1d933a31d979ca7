"""``logradar demo``: a live pipeline, a simulated shop sending to it, and an incident.

The server runs in the main thread (so Ctrl-C is handled by uvicorn); a sender thread replays
:class:`~logradar.demo.generator.DemoSystem` through the Huawei LTS report API every
``SEND_EVERY`` seconds, injects the ``db_outage`` incident after ``incident_after`` seconds and
stops the server after ``duration`` seconds (0: run until Ctrl-C); both count from when the
server is ready. Alerts are printed as they fire, and a summary at the end.
"""

from __future__ import annotations

import logging
import socket
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.markup import escape

from logradar.config import ConfigError, Settings, load_config
from logradar.demo.generator import STREAMS, DemoSystem, LogLine
from logradar.schema import Severity
from logradar.server import build_server
from logradar.store import Store

RATE = 200.0
"""Lines per second the demo sends, all streams together."""
SEND_EVERY = 0.5
"""Seconds between two sends (one request per stream)."""
STATUS_EVERY = 15.0
"""Seconds between two progress lines."""
LTS_PATH = "/v2/demo/lts/groups/shop/streams/{stream}/tenant/contents/high-accuracy"


def clock() -> str:
    return datetime.now().strftime("%H:%M:%S")


def free_port(host: str) -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def lts_body(lines: list[LogLine]) -> dict[str, Any]:
    """A high-accuracy LTS report body: each line keeps its own event time."""
    return {
        "contents": [{"log_time_ns": line.ts_ns, "log": line.text} for line in lines],
        "labels": {"hostName": f"{lines[0].stream}-1", "env": "demo"},
    }


class Sender(threading.Thread):
    """Replays the demo system to the server at a steady rate; see the module doc."""

    def __init__(
        self,
        base_url: str,
        settings: Settings,
        console: Console,
        *,
        duration: float,
        incident_after: float,
        on_done: Callable[[], None],
        seed: int = 0,
    ) -> None:
        super().__init__(name="logradar-demo-sender", daemon=True)
        self.base_url = base_url
        self.settings = settings
        self.console = console
        self.duration = duration
        self.incident_after = incident_after
        self.on_done = on_done
        self.seed = seed
        self.stop_event = threading.Event()
        self.lines_sent = 0
        self.send_failed = False
        self.incident_at: str | None = None

    def run(self) -> None:
        try:
            with httpx.Client(base_url=self.base_url, timeout=10.0) as client:
                if self._wait_ready(client):
                    self._send_loop(client)
        finally:
            self.on_done()

    def _wait_ready(self, client: httpx.Client) -> bool:
        deadline = time.monotonic() + 30
        while not self.stop_event.is_set() and time.monotonic() < deadline:
            try:
                if client.get("/healthz").status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            self.stop_event.wait(0.1)
        if not self.stop_event.is_set():
            self.console.print("[red]the server did not become ready within 30 s[/]")
        return False

    def _send_loop(self, client: httpx.Client) -> None:
        window_ns = int(self.settings.engine.window_seconds * 1e9)
        now = time.time_ns()
        # Start at the current window's start, so the first window is a full one.
        system = DemoSystem(self.seed, rate=RATE, start_ns=now - now % window_ns)
        learning = self.settings.engine.learning_seconds
        self.console.print(
            f"{clock()}  sending ~{RATE:.0f} lines/s from {len(STREAMS)} services "
            f"({', '.join(STREAMS)}) through the LTS API"
        )
        self.console.print(
            f"{clock()}  learning what normal looks like for {learning:.0f} s "
            "(anomalies found meanwhile get a lower severity)"
        )
        started = time.monotonic()
        next_send = next_status = started
        learned = False
        while not self.stop_event.is_set():
            elapsed = time.monotonic() - started
            if self.duration > 0 and elapsed >= self.duration:
                return
            if not learned and elapsed >= learning:
                learned = True
                self.console.print(f"{clock()}  learning period over: watching for anomalies")
            if self.incident_at is None and elapsed >= self.incident_after:
                system.inject("db_outage")
                self.incident_at = clock()
                self.console.print(
                    f"[bold yellow]{self.incident_at}  incident injected: db-primary refuses "
                    "connections (payments fails checkouts, db goes quiet)[/]"
                )
            self._send(client, system.advance(time.time_ns()))
            if time.monotonic() >= next_status + STATUS_EVERY:
                next_status = time.monotonic()
                self._status(client)
            next_send += SEND_EVERY
            self.stop_event.wait(max(0.0, next_send - time.monotonic()))

    def _send(self, client: httpx.Client, lines: list[LogLine]) -> None:
        by_stream: dict[str, list[LogLine]] = defaultdict(list)
        for line in lines:
            by_stream[line.stream].append(line)
        # Oldest-ending batch first, so event time grows with the tank offset, as from a shipper.
        for stream, batch in sorted(by_stream.items(), key=lambda kv: kv[1][-1].ts_ns):
            try:
                r = client.post(LTS_PATH.format(stream=stream), json=lts_body(batch))
            except httpx.TransportError:  # the server is stopping
                continue
            if r.status_code == 200:
                self.lines_sent += len(batch)
            elif not self.send_failed:
                self.send_failed = True
                reason = escape(r.text[:200])
                self.console.print(f"[red]sending to {stream} failed: {r.status_code} {reason}[/]")

    def _status(self, client: httpx.Client) -> None:
        try:
            anomalies = client.get("/api/v1/anomalies", params={"limit": 1000}).json()
        except (httpx.TransportError, ValueError):
            return
        serious = sum(
            Severity.parse(a["severity"]) >= self.settings.alerts.min_severity for a in anomalies
        )
        self.console.print(
            f"[dim]{clock()}  {self.lines_sent:,} lines sent, {len(anomalies)} anomalies so far "
            f"({serious} at alert level)[/]"
        )


class AlertPrinter:
    """The alert callback: prints each alert with its first example line."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.count = 0

    def __call__(self, payload: dict[str, Any]) -> None:
        self.count += 1
        a = payload["anomaly"]
        explanation = " ".join(str(a["explanation"]).split())
        if payload.get("event") == "resolved":
            incident = payload["incident"]
            self.console.print(
                f"[bold green]{clock()}  RESOLVED {escape(incident['stream'])}[/] "
                f"incident #{incident['id']} ({incident['anomaly_count']} anomalies)"
            )
            return
        self.console.print(
            f"[bold red]{clock()}  ALERT {a['severity']} {escape(a['stream'])}[/] "
            f"({a['detector']}): {escape(explanation)}"
        )
        if a.get("examples"):
            self.console.print(f"          example: {escape(a['examples'][0])}", style="dim")


def run_demo(
    port: int, duration: float, incident_after: float, data_dir: Path | None, *, seed: int = 0
) -> None:
    """Run the demo in a fresh temporary data dir unless ``data_dir`` is given.

    Exits with status 1 (no traceback) when ``port`` is taken or the configuration from the
    environment is invalid.
    """
    console = Console(highlight=False, soft_wrap=True)
    try:
        settings = load_config(
            data_dir=data_dir,
            server={"port": port},
            alerts={"console": True, "group_wait_seconds": 10},
        )
    except ConfigError as e:
        console.print(f"[red]{escape(str(e))}[/]")
        raise SystemExit(1) from None
    host = settings.server.host
    if settings.server.port == 0:
        settings.server.port = free_port(host)
    port = settings.server.port
    if port_in_use(host, port):
        console.print(
            f"[red]Port {port} on {host} is already in use.[/] "
            f"Pick another one, e.g. [bold]logradar demo --port {free_port(host)}[/]"
        )
        raise SystemExit(1)
    if data_dir is None:
        settings.data_dir = Path(tempfile.mkdtemp(prefix="logradar-demo-"))
    # The demo prints alerts itself; the console channel's log line would repeat each one.
    logging.getLogger("logradar.alerts").setLevel(logging.ERROR)

    printer = AlertPrinter(console)
    pipeline, server = build_server(settings, alert_callback=printer)
    url = f"http://{host}:{port}"
    console.print(f"[bold]logradar demo[/]: open [bold cyan]{url}[/] to watch (Ctrl-C stops)")
    if duration > 0:
        console.print(f"          running for {duration:.0f} s", style="dim")
    if duration > 0 and incident_after >= duration:
        console.print(
            f"          no incident: --incident-after {incident_after:.0f} s is not before the end",
            style="dim",
        )

    def stop_server() -> None:
        server.should_exit = True

    sender = Sender(
        url,
        settings,
        console,
        duration=duration,
        incident_after=incident_after,
        on_done=stop_server,
        seed=seed,
    )
    pipeline.start()
    sender.start()
    try:
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled once it has stopped
        pass
    finally:
        sender.stop_event.set()
        sender.join(5)
        console.print(f"{clock()}  stopping: draining the engine")
        pipeline.stop()
    summarize(console, settings, sender, printer)


def summarize(console: Console, settings: Settings, sender: Sender, printer: AlertPrinter) -> None:
    store = Store(settings.store_url)
    try:
        anomalies = store.list_anomalies(limit=1_000_000)
    finally:
        store.close()
    serious = sum(Severity.parse(a["severity"]) >= settings.alerts.min_severity for a in anomalies)
    console.print("[bold]summary[/]")
    console.print(f"  lines sent:     {sender.lines_sent:,}")
    console.print(f"  incident:       {sender.incident_at or 'not injected'}")
    console.print(
        f"  anomalies:      {len(anomalies)} ({serious} at {settings.alerts.min_severity} or above)"
    )
    console.print(f"  alerts:         {printer.count}")
    console.print(f"  data dir:       {settings.data_dir.resolve()}")
