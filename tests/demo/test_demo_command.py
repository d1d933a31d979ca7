"""``logradar demo`` end to end: a real server, the sender, the incident and the alert."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import free_port
from logradar.schema import Severity
from logradar.store import Store

LOGRADAR = Path(sys.executable).with_name("logradar")


def demo(tmp_path: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGRADAR_")}
    return [str(LOGRADAR), "demo", "--data-dir", str(tmp_path / "data"), *args], env


@pytest.mark.integration
@pytest.mark.slow
def test_demo_shows_one_incident_with_its_explained_anomalies(tmp_path: Path) -> None:
    """A trained baseline, then live traffic: before the outage nothing reaches alert level;
    the outage is one incident holding the new error pattern, the error burst and the quiet
    db / dropped checkouts; nothing at medium or above is left outside it; it resolves."""
    cmd, env = demo(
        tmp_path,
        *("--port", str(free_port()), "--duration", "100", "--incident-after", "20"),
        *("--outage-seconds", "30", "--history-minutes", "10"),
    )
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=420, env=env)
    out = done.stdout
    assert done.returncode == 0, done.stderr + out
    assert "Traceback" not in done.stderr
    assert re.search(r"open http://127\.0\.0\.1:\d+", out.splitlines()[0])
    assert re.search(r"baseline learned from [\d,]+ lines", out)
    injected = out.index("incident injected")
    alerts = [m.start() for m in re.finditer(r"ALERT incident #1 ", out)]
    assert alerts and all(a > injected for a in alerts), out
    assert out.index("RESOLVED incident #1") > out.index("incident over"), out
    sent = int(re.search(r"lines sent:\s+([\d,]+)", out)[1].replace(",", ""))
    assert sent > 100 * 60

    store = Store(f"sqlite:///{tmp_path / 'data' / 'logradar.db'}")
    try:
        incidents = store.list_incidents(limit=100)
        anomalies = store.list_anomalies(limit=100_000)
        members = store.incident_anomalies(incidents[0].id, limit=10_000) if incidents else []
    finally:
        store.close()
    assert len(incidents) == 1, [i.summary for i in incidents]
    assert incidents[0].status == "resolved"
    serious = [a for a in anomalies if Severity.parse(a["severity"]) >= Severity.MEDIUM]
    assert [a for a in serious if a["incident_id"] is None] == []
    found = {(a["detector"], a["stream"]) for a in members}
    new_pattern = [a for a in members if a["detector"] == "new_pattern"]
    assert new_pattern and all(a["stream"] == "payments" for a in new_pattern)
    assert "db-primary" in new_pattern[0]["template"]
    assert ("error_burst", "payments") in found
    assert ("silence", "db") in found or any(
        a["kind"] == "drop" and a["stream"] == "db" for a in members
    ), found
    drops = [a for a in members if a["kind"] == "drop" and a["stream"] == "payments"]
    assert any("charge created" in (a["template"] or "") for a in drops), found


@pytest.mark.integration
def test_demo_refuses_a_taken_port_without_traceback(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        cmd, env = demo(tmp_path, "--port", str(port), "--duration", "5")
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode != 0
    assert f"Port {port}" in done.stdout and "already in use" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


@pytest.mark.integration
@pytest.mark.slow
def test_demo_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    cmd, env = demo(tmp_path, "--port", str(port), "--duration", "0", "--history-minutes", "1")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        time.sleep(3)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    assert "summary" in out and re.search(r"lines sent:\s+[1-9]", out)
