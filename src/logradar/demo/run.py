"""``logradar demo``: a live pipeline, a simulated shop sending to it, and an incident.

First the baseline: ``history_minutes`` of the shop's normal logs (event times up to now) are
archived and trained on (:func:`learn_history`) and the live engine adopts the result, so the
detectors know every stream's rates, error levels and pauses from the start. Then the
server runs in the main thread (so Ctrl-C is handled by uvicorn); a sender thread continues
the same :class:`~logradar.demo.generator.DemoSystem` live through the Huawei LTS report API
every ``SEND_EVERY`` seconds, injects the ``db_outage`` incident after ``incident_after``
seconds, ends it ``outage_seconds`` later and stops the server after ``duration`` seconds
(0: run until Ctrl-C); these count from when live traffic starts. Alerting groups the whole
outage into one incident: its notifications (firing, then resolved) are printed as they go
out, and a summary with the incident's anomalies at the end.
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
import pyarrow as pa
from rich.console import Console
from rich.markup import escape

from logradar.config import ConfigError, Settings, load_config
from logradar.demo.generator import STREAMS, DemoSystem, LogLine
from logradar.engine.train import TrainResult
from logradar.pipeline import Pipeline
from logradar.schema import Severity, ingest_table
from logradar.server import build_server
from logradar.store import Store

RATE = 200.0
"""Lines per second the demo sends, all streams together."""
SEND_EVERY = 0.5
"""Seconds between two sends (one request per stream)."""
STATUS_EVERY = 15.0
"""Seconds between two progress lines."""
LTS_PATH = "/v2/demo/lts/groups/shop/streams/{stream}/tenant/contents/high-accuracy"
HISTORY_BATCH_SECONDS = 60
"""Event-time span of one tank append while writing the history."""
#: Alerting for the demo: the whole outage is one incident, notified 5 s after it opens
#: (so its first anomalies arrive together) and resolved after 20 s without a new one.
DEMO_ALERTS = {"group_by": [], "group_wait_seconds": 5.0, "resolve_after_seconds": 20.0}


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
        system: DemoSystem,
        duration: float,
        incident_after: float,
        outage_seconds: float,
        on_done: Callable[[], None],
    ) -> None:
        super().__init__(name="logradar-demo-sender", daemon=True)
        self.base_url = base_url
        self.settings = settings
        self.console = console
        self.system = system
        self.duration = duration
        self.incident_after = incident_after
        self.outage_seconds = outage_seconds
        self.on_done = on_done
        self.stop_event = threading.Event()
        self.lines_sent = 0
        self.send_failed = False
        self.incident_at: str | None = None
        self.recovered_at: str | None = None
        self.started: float | None = None
        """``time.monotonic()`` when live sending started."""
        self.incident_monotonic: float | None = None

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
        system = self.system
        self.console.print(
            f"{clock()}  live: sending ~{RATE:.0f} lines/s from {len(STREAMS)} services "
            f"({', '.join(STREAMS)}) through the LTS API; watching for anomalies"
        )
        started = self.started = time.monotonic()
        next_send = next_status = started
        recover_after = self.incident_after + self.outage_seconds
        while not self.stop_event.is_set():
            elapsed = time.monotonic() - started
            if self.duration > 0 and elapsed >= self.duration:
                return
            if self.incident_at is None and elapsed >= self.incident_after:
                system.inject("db_outage")
                self.incident_at = clock()
                self.incident_monotonic = time.monotonic()
                self.console.print(
                    f"[bold yellow]{self.incident_at}  incident injected: db-primary refuses "
                    "connections (payments fails checkouts with a new error, error lines "
                    f"burst, db goes quiet, checkouts drop) for {self.outage_seconds:.0f} s[/]"
                )
            if self.recovered_at is None and self.incident_at and elapsed >= recover_after:
                system.recover("db_outage")
                self.recovered_at = clock()
                self.console.print(
                    f"[bold green]{self.recovered_at}  incident over: db-primary is back "
                    f"(the incident resolves after "
                    f"{self.settings.alerts.resolve_after_seconds:.0f} s without anomalies)[/]"
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
            f"[dim]{clock()}  {self.lines_sent:,} lines sent, {serious} anomalies at alert level "
            "so far[/]"
        )


class AlertPrinter:
    """The console channel: prints each incident notification (firing or resolved)."""

    def __init__(self, console: Console, url: str) -> None:
        self.console = console
        self.url = url
        self.count = 0
        self.first_at: float | None = None
        """``time.monotonic()`` of the first firing notification."""

    def __call__(self, payload: dict[str, Any]) -> None:
        self.count += 1
        incident = payload["incident"]
        if payload["event"] == "resolved":
            self.console.print(
                f"[bold green]{clock()}  RESOLVED incident #{incident['id']}[/] after "
                f"{incident['anomaly_count']} anomalies: nothing new for a while"
            )
            return
        if self.first_at is None:
            self.first_at = time.monotonic()
        explanation = " ".join(str(incident["explanation"]).split())
        self.console.print(
            f"[bold red]{clock()}  ALERT incident #{incident['id']} {incident['severity']} "
            f"{escape(incident['stream'])}[/] ({incident['detector']}, "
            f"{incident['anomaly_count']} anomalies so far): {escape(explanation)}"
        )
        if incident.get("examples"):
            self.console.print(f"          example: {escape(incident['examples'][0])}", style="dim")
        self.console.print(f"          details: {self.url}/incidents/{incident['id']}", style="dim")


def learn_history(settings: Settings, system: DemoSystem, until_ns: int) -> TrainResult:
    """Learn the baseline from ``system``'s normal lines up to ``until_ns``.

    The product's own path, in ``<data_dir>/history``: the lines go into a tank there, the
    archiver writes them as Parquet, and :func:`~logradar.engine.train.train` replays the
    archive through the detectors. Its ``trained.json`` goes to the live state dir, where the
    engine adopts it at its first step.
    """
    from logradar.archive.parquet import ParquetArchiver
    from logradar.engine.train import TRAINED_FILE, train
    from logradar.tank import open_tank

    history = settings.model_copy(
        update={
            "data_dir": settings.data_dir / "history",
            "archive": settings.archive.model_copy(update={"url": None}),
            "tank": settings.tank.model_copy(update={"kind": "sqlite"}),
        }
    )
    history.data_dir.mkdir(parents=True, exist_ok=True)
    tank = open_tank(history)
    try:
        step = HISTORY_BATCH_SECONDS * 1_000_000_000
        while system.now_ns < until_ns:
            lines = system.advance(min(until_ns, system.now_ns + step))
            tables = []
            for stream in STREAMS:
                batch = [x for x in lines if x.stream == stream]
                if batch:
                    tables.append(
                        ingest_table(
                            stream,
                            [x.text for x in batch],
                            [x.ts_ns for x in batch],
                            host=f"{stream}-1",
                            labels={"hostName": f"{stream}-1", "env": "demo"},
                        )
                    )
            if tables:
                tank.append(pa.concat_tables(tables))
        ParquetArchiver(tank, history.archive_url).flush()
    finally:
        tank.close()
    result = train(history)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    result.path.replace(settings.state_dir / TRAINED_FILE)
    return result


def wait_for_baseline(pipeline: Pipeline, timeout: float = 120.0) -> bool:
    """Wait until the engine adopted the trained baseline; False on timeout."""
    deadline = time.monotonic() + timeout
    while pipeline.engine.trained.applied is None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def run_demo(
    port: int,
    duration: float,
    incident_after: float,
    data_dir: Path | None,
    *,
    outage_seconds: float = 40.0,
    history_minutes: float = 10.0,
    seed: int = 0,
) -> None:
    """Run the demo in a fresh temporary data dir unless ``data_dir`` is given.

    Exits with status 1 (no traceback) when ``port`` is taken or the configuration from the
    environment is invalid.
    """
    console = Console(highlight=False, soft_wrap=True)
    try:
        settings = load_config(
            data_dir=data_dir, server={"port": port}, alerts={"console": True, **DEMO_ALERTS}
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
            f"Pick another one, e.g. [bold]logradar demo --port {free_port(host)}[/] "
            f'(or [bold]make demo ARGS="--port {free_port(host)}"[/])'
        )
        raise SystemExit(1)
    if data_dir is None:
        settings.data_dir = Path(tempfile.mkdtemp(prefix="logradar-demo-"))
    # The demo prints notifications itself; the console channel's log line would repeat them.
    logging.getLogger("logradar.alerts").setLevel(logging.ERROR)

    url = f"http://{host}:{port}"
    console.print(f"[bold]logradar demo[/]: open [bold cyan]{url}[/] to watch (Ctrl-C stops)")
    if duration > 0:
        console.print(f"          live traffic runs for {duration:.0f} s", style="dim")
    if duration > 0 and incident_after >= duration:
        console.print(
            f"          no incident: --incident-after {incident_after:.0f} s is not before the end",
            style="dim",
        )
    window_ns = int(settings.engine.window_seconds * 1e9)
    now = time.time_ns()
    start = now - int(history_minutes * 60e9)
    system = DemoSystem(seed, rate=RATE, start_ns=start - start % window_ns)
    began = time.monotonic()
    console.print(
        f"{clock()}  baseline: generating {history_minutes:g} minutes of normal history and "
        "learning from it"
    )
    if (settings.state_dir / "engine.json").exists():
        console.print("          the data dir has an engine state: no history", style="dim")
        history = None
    else:
        history = learn_history(settings, system, now)

    printer = AlertPrinter(console, url)
    pipeline, server = build_server(settings, alert_callback=printer)

    def stop_server() -> None:
        server.should_exit = True

    sender = Sender(
        url,
        settings,
        console,
        system=system,
        duration=duration,
        incident_after=incident_after,
        outage_seconds=outage_seconds,
        on_done=stop_server,
    )
    pipeline.start()
    try:
        if history is not None:
            if not wait_for_baseline(pipeline):
                console.print("[red]the engine did not adopt the baseline within 2 minutes[/]")
                raise SystemExit(1)
            console.print(
                f"{clock()}  baseline learned from {history.lines:,} lines "
                f"({history.templates_after} templates) in {time.monotonic() - began:.0f} s "
                "(logradar train on the archived history)"
            )
        sender.start()
        server.run()
    except KeyboardInterrupt:  # uvicorn re-raises the Ctrl-C it handled once it has stopped
        pass
    finally:
        sender.stop_event.set()
        if sender.is_alive():
            sender.join(5)
        console.print(f"{clock()}  stopping: draining the engine")
        pipeline.stop()
    summarize(console, settings, sender, printer, url)


def distinct(anomalies: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int]]:
    """One row per detector, kind and stream: the first anomaly and how many there are."""
    rows: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for a in sorted(anomalies, key=lambda a: a["id"]):
        rows.setdefault((a["detector"], a["kind"], a["stream"]), []).append(a)
    return [(same[0], len(same)) for same in rows.values()]


def summarize(
    console: Console, settings: Settings, sender: Sender, printer: AlertPrinter, url: str
) -> None:
    """The incident with its anomalies, what else was found, and what to look at in the UI."""
    floor = settings.alerts.min_severity
    store = Store(settings.store_url)
    try:
        incidents = store.list_incidents(limit=100)
        members = {i.id: store.incident_anomalies(i.id, limit=1000) for i in incidents}
        anomalies = store.list_anomalies(limit=1_000_000)
    finally:
        store.close()
    serious = [a for a in anomalies if Severity.parse(a["severity"]) >= floor]
    loose = [a for a in serious if a["incident_id"] is None]
    console.print("[bold]summary[/]")
    console.print(f"  lines sent:     {sender.lines_sent:,}")
    incident = sender.incident_at or "not injected"
    if sender.recovered_at:
        incident += f", over at {sender.recovered_at}"
    console.print(f"  incident:       {incident}")
    if printer.first_at is not None and sender.incident_monotonic is not None:
        delay = printer.first_at - sender.incident_monotonic
        console.print(f"  first alert:    {delay:.0f} s after the incident started")
    console.print(f"  notifications:  {printer.count}")
    for i in incidents:
        console.print(
            f"  incident #{i.id}:    {i.status}, {i.severity}, {i.anomaly_count} anomalies: "
            f"{escape(i.summary)}"
        )
        for a, repeats in distinct(members[i.id]):
            explanation = " ".join(str(a["explanation"]).split())
            again = f" (+{repeats - 1} more like it)" if repeats > 1 else ""
            console.print(
                f"    - {a['severity']:<6} {a['stream']:<11} {a['detector']}/{a['kind']}: "
                f"{escape(explanation)}{again}",
                style="dim",
            )
    console.print(
        f"  anomalies:      {len(serious)} at {floor} or above ({len(loose)} outside incidents); "
        f"{len(anomalies) - len(serious)} below {floor} not shown (learning the history)"
    )
    console.print(f"  data dir:       {settings.data_dir.resolve()}")
    console.print("[bold]in the UI[/]")
    console.print(f"  open {url}/ (the incidents view; medium and above by default)")
    console.print(
        "  - the incident's row: severity, streams, first/last seen, how many anomalies; "
        "click it for the detail page"
    )
    console.print(
        "  - the detail page: what, where, expected vs observed, a chart of the template's "
        "counts with its baseline band, example lines with the lines around them from the "
        "archive; 'Mark expected' and 'Mute 1h' are the feedback buttons"
    )
    console.print(f"  - {url}/templates?stream=payments: every pattern of a stream")
    console.print(
        f"  - the same from the API: {url}/api/v1/anomalies?since=1h, and from a shell: "
        f"logradar anomalies --data-dir {settings.data_dir.resolve()}"
    )
