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

LOGRADAR = Path(sys.executable).with_name("logradar")


def demo(tmp_path: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGRADAR_")}
    return [str(LOGRADAR), "demo", "--data-dir", str(tmp_path / "data"), *args], env


@pytest.mark.integration
@pytest.mark.slow
def test_demo_prints_an_alert_for_the_injected_incident(tmp_path: Path) -> None:
    cmd, env = demo(
        tmp_path, "--port", str(free_port()), "--duration", "75", "--incident-after", "30"
    )
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=150, env=env)
    out = done.stdout
    assert done.returncode == 0, done.stderr + out
    assert "Traceback" not in done.stderr
    assert re.search(r"open http://127\.0\.0\.1:\d+", out.splitlines()[0])
    injected = out.index("incident injected")
    alerts = [
        m.start() for m in re.finditer(r"ALERT \w+ payments \(new_pattern\).*db-primary", out)
    ]
    assert alerts, out
    assert all(a > injected for a in alerts)
    assert re.search(r"example: .*ERROR \[payments\] Connection to db-primary:5432 refused", out)
    sent = int(re.search(r"lines sent:\s+([\d,]+)", out)[1].replace(",", ""))
    assert sent > 100 * 60
    assert re.search(r"alerts:\s+[1-9]", out)
    assert (tmp_path / "data" / "tank.db").exists()


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
    cmd, env = demo(tmp_path, "--port", str(port), "--duration", "0")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
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
