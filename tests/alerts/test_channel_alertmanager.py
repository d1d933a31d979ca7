"""Alertmanager channel against Debian's real ``prometheus-alertmanager``: the alert shows in
its API while firing and goes once resolved (``endsAt``)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from alert_helpers import RESOLVED, deliver_through_outage, make_payload
from logradar.alerts.channels.alertmanager import AlertmanagerChannel
from logradar.store import Store

BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(BINARY is None, reason="prometheus-alertmanager is not installed"),
]
CONFIG = """
route:
  receiver: blackhole
receivers:
  - name: blackhole
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Alertmanager:
    """A real Alertmanager on a free port (no clustering), started and stopped on demand."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        (workdir / "alertmanager.yml").write_text(CONFIG)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        assert BINARY is not None
        self.proc = subprocess.Popen(
            [
                BINARY,
                f"--config.file={self.workdir / 'alertmanager.yml'}",
                f"--storage.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
            ],
            stdout=open(self.workdir / "alertmanager.log", "ab"),  # noqa: SIM115
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (self.workdir / "alertmanager.log").read_text()
            try:
                if httpx.get(self.url + "/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError("alertmanager did not become ready")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None

    def alerts(self) -> list[dict]:
        r = httpx.get(self.url + "/api/v2/alerts", timeout=5)
        r.raise_for_status()
        return [a for a in r.json() if a["labels"].get("alertname") == "LogAnomaly"]


@pytest.fixture
def alertmanager(tmp_path) -> Iterator[Alertmanager]:
    am = Alertmanager(tmp_path)
    yield am
    am.stop()


def test_alert_is_visible_then_resolved(alertmanager: Alertmanager) -> None:
    alertmanager.start()
    channel = AlertmanagerChannel("am", alertmanager.url, firing_ttl_seconds=3600, timeout=5)
    assert channel.send(make_payload()).startswith("HTTP 200")
    (alert,) = alertmanager.alerts()
    assert alert["labels"] == {
        "alertname": "LogAnomaly", "stream": "payments", "detector": "frequency",
        "kind": "spike", "severity": "high", "template_id": "7", "incident_id": "12",
    }  # fmt: skip
    assert alert["annotations"]["url"] == "http://logradar.example:8080/incidents/12"
    assert alert["annotations"]["example"] == "POST /pay/123 500 upstream timeout"
    assert alert["status"]["state"] == "active"
    assert alert["startsAt"].startswith("2024-03-01T12:00:00")
    channel.send(make_payload(RESOLVED, seq=2))
    assert alertmanager.alerts() == []  # resolved: endsAt is in the past


def test_down_for_ten_minutes_loses_nothing(alertmanager: Alertmanager, store: Store) -> None:
    """Not running for the first 10 (simulated) minutes, then started."""
    channel = AlertmanagerChannel("am", alertmanager.url, firing_ttl_seconds=3600, timeout=5)
    rows = deliver_through_outage(
        store, channel, lambda down: None if down else alertmanager.start()
    )
    assert [(r["event"], r["status"]) for r in rows] == [
        ("firing", "delivered"), ("resolved", "delivered"),
    ]  # fmt: skip
    assert all(r["response"].startswith("HTTP 200") for r in rows)
    assert alertmanager.alerts() == []  # the resolve came after the firing
