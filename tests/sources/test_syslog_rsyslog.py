"""A real rsyslogd (imfile -> omfwd) forwards to the syslog listener.

rsyslogd runs in the foreground with its own config in tmp_path: no system inputs (no
imuxsock/imklog), only ``imfile`` reading a temp file, forwarding with the RFC 5424 template.
It runs as the test's user (root in CI containers, but it binds nothing and reads only
tmp_path). Install it with ``scripts/install-test-deps.sh``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pyarrow as pa
import pytest

from logradar.config import SyslogSourceConfig
from logradar.sources.syslog import SyslogSource

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("rsyslogd") is None, reason="rsyslogd not installed"),
]

CONFIG = """
global(workDirectory="{work}" localHostname="web-7")
module(load="imfile" PollingInterval="1")
input(type="imfile" File="{log}" Tag="checkout" Severity="warning" Facility="local1")
action(type="omfwd" Target="127.0.0.1" Port="{port}" Protocol="{protocol}" {framing}
       Template="RSYSLOG_SyslogProtocol23Format")
"""


class Collector:
    def __init__(self) -> None:
        self.rows: list[dict] = []

    def __call__(self, table: pa.Table, source: str) -> int:
        self.rows.extend(table.to_pylist())
        return table.num_rows

    def wait_for(self, n: int, timeout: float) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.rows) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.rows) >= n, self.rows
        return list(self.rows)


def _run_rsyslog(tmp_path: Path, port: int, protocol: str, framing: str) -> subprocess.Popen:
    work = tmp_path / "rsyslog"
    work.mkdir()
    conf = tmp_path / "rsyslog.conf"
    conf.write_text(
        CONFIG.format(
            work=work, log=tmp_path / "app.log", port=port, protocol=protocol, framing=framing
        )
    )
    check = subprocess.run(
        ["rsyslogd", "-N1", "-f", str(conf)], capture_output=True, text=True, timeout=30
    )
    assert check.returncode == 0, check.stderr
    return subprocess.Popen(
        ["rsyslogd", "-n", "-f", str(conf), "-i", str(tmp_path / "rsyslog.pid")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("protocol", "framing"),
    [("tcp", 'TCP_Framing="octet-counted"'), ("tcp", 'TCP_Framing="traditional"'), ("udp", "")],
)
def test_rsyslog_forwards_file_lines(tmp_path: Path, protocol: str, framing: str) -> None:
    got = Collector()
    source = SyslogSource(SyslogSourceConfig(enabled=True, udp_port=0, tcp_port=0))
    source.start(got)
    log = tmp_path / "app.log"
    log.write_text("order 1 paid\n")
    port = source.tcp_port if protocol == "tcp" else source.udp_port
    assert port is not None
    proc = _run_rsyslog(tmp_path, port, protocol, framing)
    try:
        got.wait_for(1, timeout=20)
        with log.open("a") as out:
            out.write('order 2 failed: card "declined" [retry]\n')
            out.write("caf\xe9 \u2603 unicode\n")
        rows = got.wait_for(3, timeout=20)
    finally:
        proc.terminate()
        proc.wait(10)
        source.stop()
    assert [r["message"] for r in rows] == [
        "order 1 paid",
        'order 2 failed: card "declined" [retry]',
        "caf\xe9 \u2603 unicode",
    ]
    for row in rows:
        assert row["stream"] == "checkout"
        assert row["host"] == "web-7"
        labels = json.loads(row["labels"])
        assert (labels["facility"], labels["severity"], labels["level"]) == (
            "local1",
            "warning",
            "warn",
        )
        assert abs(row["ts"].value - time.time_ns()) < 60 * 10**9
    assert source.dropped == 0
