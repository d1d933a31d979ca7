"""Syslog: RFC 5424/3164 parsing, and a real listener fed by util-linux ``logger``."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from logradar.config import SyslogSourceConfig
from logradar.schema import INGEST_SCHEMA, validate_stream_name
from logradar.sources.common import IngestError
from logradar.sources.syslog import SyslogSource, parse_syslog, stream_for

NOW = int(datetime(2026, 6, 1, 12, 0, tzinfo=UTC).timestamp() * 1e9)


def _ns(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1e9)


def _local_ns(*args: int) -> int:
    """RFC 3164 times are in the receiver's local time zone."""
    return int(datetime(*args).timestamp() * 1e9)


# Parsing ---------------------------------------------------------------------------------------
def test_rfc5424_example_from_the_rfc() -> None:
    raw = (
        "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
        "\ufeff'su root' failed for lonvick on /dev/pts/8"
    ).encode()
    msg = parse_syslog(raw, NOW)
    assert msg.ts_ns == _ns(2003, 10, 11, 22, 14, 15) + 3_000_000
    assert msg.host == "mymachine.example.com"
    assert msg.app == "su"
    assert msg.message == "'su root' failed for lonvick on /dev/pts/8"
    # PRI 34 = facility 4 (auth) * 8 + severity 2 (crit)
    assert msg.labels == {"facility": "auth", "severity": "crit", "level": "fatal", "msgid": "ID47"}


def test_rfc5424_structured_data_and_offset_time() -> None:
    raw = (
        "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - "
        '[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"]'
        '[examplePriority@32473 class="high"] %% It\'s time to make the do-nuts.'
    )
    msg = parse_syslog(raw, NOW)
    assert msg.ts_ns == _ns(2003, 8, 24, 12, 14, 15) + 3_000
    assert msg.host == "192.0.2.1"
    assert msg.message == "%% It's time to make the do-nuts."
    assert msg.labels == {
        "facility": "local4",
        "severity": "notice",
        "level": "notice",
        "procid": "8710",
        "exampleSDID@32473.iut": "3",
        "exampleSDID@32473.eventSource": "Application",
        "exampleSDID@32473.eventID": "1011",
        "examplePriority@32473.class": "high",
    }


def test_rfc5424_sd_escapes_and_nil_fields() -> None:
    msg = parse_syslog(rb'<14>1 - - - - - [a@1 q="x\"y\\z\]w"]', NOW)
    assert msg.ts_ns == NOW and msg.host is None and msg.app is None
    assert msg.labels["a@1.q"] == 'x"y\\z]w'
    assert msg.message == ""


def test_rfc3164_example_from_the_rfc() -> None:
    msg = parse_syslog(b"<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick", NOW)
    assert msg.ts_ns == _local_ns(2025, 10, 11, 22, 14, 15)  # no year: the nearest past one
    assert msg.host == "mymachine"
    assert msg.app == "su"
    assert msg.message == "'su root' failed for lonvick"
    assert msg.labels["severity"] == "crit"


def test_rfc3164_tag_with_pid_without_hostname() -> None:
    msg = parse_syslog(b"<13>Jun  1 11:59:00 sshd[811]: Accepted publickey", NOW)
    assert msg.ts_ns == _local_ns(2026, 6, 1, 11, 59)
    assert msg.host is None
    assert (msg.app, msg.labels["procid"], msg.message) == ("sshd", "811", "Accepted publickey")


def test_rfc3164_with_an_iso_timestamp_as_rsyslog_forwards_it() -> None:
    raw = b"<30>2026-05-31T23:59:58.250+02:00 db-2 postgres[77]: checkpoint complete"
    msg = parse_syslog(raw, NOW)
    assert msg.ts_ns == _ns(2026, 5, 31, 21, 59, 58) + 250_000_000
    assert (msg.host, msg.app, msg.message) == ("db-2", "postgres", "checkpoint complete")
    assert msg.labels["procid"] == "77"


@pytest.mark.parametrize(
    "raw",
    [b"", b"plain text without priority", b"<999>1 x", b"<13>", b"<13>1 2003-13-45T99:00:00Z h a"],
)
def test_anything_else_is_kept_as_message(raw: bytes) -> None:
    msg = parse_syslog(raw, NOW)
    assert msg.ts_ns == NOW
    assert raw.decode().split(">", 1)[-1].endswith(msg.message) or msg.message == raw.decode()


def test_invalid_utf8_is_replaced_not_dropped() -> None:
    msg = parse_syslog(b"<14>1 - host app - - - caf\xe9 ok", NOW)
    assert msg.message == "caf\ufffd ok"


def test_stream_names_are_sanitized() -> None:
    assert stream_for("nginx") == "nginx"
    assert "/" not in stream_for("../etc/passwd") and ".." not in stream_for("../etc/passwd")
    assert stream_for(None) == "syslog"
    assert stream_for("my app/worker") == "my_app_worker"
    for app in ("../etc/passwd", "-x", ".hidden", "a..b", "x" * 300, "日本"):
        validate_stream_name(stream_for(app))


# A real listener -------------------------------------------------------------------------------
class Collector:
    """An ingest function that records rows, optionally refusing the first calls."""

    def __init__(self, refuse: int = 0, status: int = 429) -> None:
        self.rows: list[dict] = []
        self.calls = 0
        self.refuse = refuse
        self.status = status
        self.lock = threading.Lock()

    def __call__(self, table: pa.Table, source: str) -> int:
        assert table.schema.equals(INGEST_SCHEMA)
        assert source == "syslog"
        with self.lock:
            self.calls += 1
            if self.calls <= self.refuse:
                raise IngestError(self.status, "slow down")
            self.rows.extend(table.to_pylist())
        return table.num_rows

    def wait_for(self, n: int, timeout: float = 10.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.rows) >= n:
                    return list(self.rows)
            time.sleep(0.02)
        raise AssertionError(f"got {len(self.rows)} of {n} rows: {self.rows[:3]}")


@pytest.fixture
def listener():
    started: list[SyslogSource] = []

    def start(collector: Collector, **cfg) -> SyslogSource:
        source = SyslogSource(SyslogSourceConfig(enabled=True, udp_port=0, tcp_port=0, **cfg))
        source.start(collector)
        started.append(source)
        return source

    yield start
    for source in started:
        source.stop()


needs_logger = pytest.mark.skipif(shutil.which("logger") is None, reason="util-linux logger")


def _logger(port: int, *args: str) -> None:
    subprocess.run(
        ["logger", "--server", "127.0.0.1", "--port", str(port), *args], check=True, timeout=10
    )


@needs_logger
@pytest.mark.parametrize("transport", ["--udp", "--tcp"])
def test_logger_rfc5424(listener, transport: str) -> None:
    got = Collector()
    source = listener(got)
    port = source.udp_port if transport == "--udp" else source.tcp_port
    args = [transport, "--rfc5424", "--id=4242", "-t", "billing", "-p", "local3.err"]
    if transport == "--tcp":
        args.append("--octet-count")
    sd = ["--sd-id", "order@32473", "--sd-param", 'id="A-17"', "--msgid", "PAY"]
    before = time.time_ns()
    _logger(port, *args, *sd, "payment failed for order A-17")
    (row,) = got.wait_for(1)
    assert row["stream"] == "billing"
    assert row["host"] == socket.gethostname()
    assert row["message"] == "payment failed for order A-17"
    labels = json.loads(row["labels"])
    assert labels["facility"] == "local3"
    assert labels["severity"] == "err"
    assert labels["level"] == "error"
    assert labels["procid"] == "4242"
    assert labels["msgid"] == "PAY"
    assert labels["order@32473.id"] == "A-17"
    assert before - 10**9 <= row["ts"].value <= time.time_ns()


@needs_logger
@pytest.mark.parametrize("transport", ["--udp", "--tcp"])
def test_logger_rfc3164(listener, transport: str) -> None:
    got = Collector()
    source = listener(got)
    port = source.udp_port if transport == "--udp" else source.tcp_port
    _logger(port, transport, "--rfc3164", "-t", "cron.daily", "-p", "cron.warning", "job done")
    (row,) = got.wait_for(1)
    assert (row["stream"], row["message"]) == ("cron.daily", "job done")
    assert row["host"] == socket.gethostname()
    labels = json.loads(row["labels"])
    assert (labels["facility"], labels["severity"], labels["level"]) == ("cron", "warning", "warn")
    assert abs(row["ts"].value - time.time_ns()) < 5 * 10**9  # second precision, local=UTC


@needs_logger
def test_logger_many_lines_over_tcp_newline_framing(listener) -> None:
    got = Collector()
    source = listener(got, stream="fixed")
    lines = "\n".join(f"line {i}" for i in range(2500))
    subprocess.run(
        ["logger", "--server", "127.0.0.1", "--port", str(source.tcp_port), "--tcp",
         "--rfc5424", "-t", "app"],
        input=lines.encode(), check=True, timeout=30,
    )  # fmt: skip
    rows = got.wait_for(2500)
    assert [r["message"] for r in rows] == [f"line {i}" for i in range(2500)]
    assert {r["stream"] for r in rows} == {"fixed"}
    assert got.calls >= 3  # batched by at most 1000 lines


def _tcp_send(port: int, *chunks: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port)) as conn:
        for chunk in chunks:
            conn.sendall(chunk)
            time.sleep(0.05)


def test_octet_counting_frames_split_across_packets(listener) -> None:
    got = Collector()
    source = listener(got)
    frames = [b"<13>1 - h a - - - one", b"<13>1 - h a - - - two\nstill two", b"<13>1 - h a - - - 3"]
    stream = b"".join(str(len(f)).encode() + b" " + f for f in frames)
    _tcp_send(source.tcp_port, stream[:5], stream[5:30], stream[30:])
    rows = got.wait_for(3)
    assert [r["message"] for r in rows] == ["one", "two\nstill two", "3"]


def test_newline_framing_with_crlf_and_unterminated_last_line(listener) -> None:
    got = Collector()
    source = listener(got)
    _tcp_send(source.tcp_port, b"<14>Jun  1 11:00:00 h app: a\r\n<14>Jun  1 11:00:00 h app: ", b"b")
    rows = got.wait_for(2)
    assert [r["message"] for r in rows] == ["a", "b"]


def test_garbage_does_not_stop_the_listener(listener) -> None:
    got = Collector()
    source = listener(got)
    garbage = bytes(range(256)) * 4
    _tcp_send(source.tcp_port, b"99999999999 " + garbage)
    _tcp_send(source.tcp_port, b"\x00\xff\xfe" + garbage + b"\n")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(garbage[:1000], ("127.0.0.1", source.udp_port))
        udp.sendto(b"<13>1 - h app - - - alive", ("127.0.0.1", source.udp_port))
    _tcp_send(source.tcp_port, b"<13>1 - h app - - - alive too\n")
    got.wait_for(1)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and {"alive", "alive too"} - {r["message"] for r in got.rows}:
        time.sleep(0.02)
    assert {"alive", "alive too"} <= {r["message"] for r in got.rows}


def test_tcp_backpressure_retries_and_loses_nothing(listener) -> None:
    got = Collector(refuse=3, status=503)
    source = listener(got)
    with socket.create_connection(("127.0.0.1", source.tcp_port)) as conn:
        for i in range(300):
            conn.sendall(f"<14>1 - h app - - - msg {i}\n".encode())
    rows = got.wait_for(300)
    assert [r["message"] for r in rows] == [f"msg {i}" for i in range(300)]
    assert got.calls > 3
    assert source.dropped == 0


def test_udp_under_backpressure_counts_drops(listener) -> None:
    got = Collector(refuse=10**9)
    source = listener(got)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        for i in range(50):
            udp.sendto(f"<14>1 - h app - - - msg {i}".encode(), ("127.0.0.1", source.udp_port))
    deadline = time.monotonic() + 10
    while source.dropped < 50 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert source.dropped == 50
    assert got.rows == []


def test_stop_ingests_what_is_buffered(listener) -> None:
    got = Collector()
    source = listener(got)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(b"<14>1 - h app - - - last words", ("127.0.0.1", source.udp_port))
    time.sleep(0.05)
    source.stop()
    assert [r["message"] for r in got.rows] == ["last words"]


@needs_logger
def test_into_a_real_pipeline(tmp_path) -> None:
    from logradar.config import load_config
    from logradar.pipeline import Pipeline

    pipeline = Pipeline(load_config(data_dir=tmp_path / "data"))
    source = SyslogSource(SyslogSourceConfig(enabled=True, udp_port=None, tcp_port=0))
    source.start(pipeline.ingest)
    try:
        _logger(source.tcp_port, "--tcp", "--octet-count", "--rfc5424", "-t", "db", "slow query")
        deadline = time.monotonic() + 10
        while pipeline.tank.end_offset() < 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        rows = pipeline.tank.read(-1, 10).to_pylist()
    finally:
        source.stop()
        pipeline.stop()
    (row,) = rows
    assert (row["stream"], row["message"], row["offset"]) == ("db", "slow query", 0)


def test_tcp_backpressure_pushes_back_on_the_sender(listener) -> None:
    """While ingest refuses, the connection is not read: the sender's socket fills up."""
    gate = threading.Event()

    class Gated(Collector):
        def __call__(self, table: pa.Table, source: str) -> int:
            if not gate.is_set():
                raise IngestError(429, "behind")
            return super().__call__(table, source)

    got = Gated()
    source = listener(got)
    line = "<14>1 - h app - - - " + "x" * 32_000
    frame = f"{len(line)} {line}".encode()
    total = 1000  # 32 MB: more than loopback socket buffers hold
    sent = 0
    blocked = False
    with socket.create_connection(("127.0.0.1", source.tcp_port)) as conn:
        conn.settimeout(1.0)
        pending = b""
        while sent < total:
            if not pending:
                pending = frame
            try:
                n = conn.send(pending)
            except TimeoutError:
                blocked = True
                break
            pending = pending[n:]
            if not pending:
                sent += 1
        assert blocked, "the sender was never slowed down"
        assert got.rows == []
        gate.set()
        conn.settimeout(30)
        conn.sendall(pending)
        for _ in range(total - sent - (1 if pending else 0)):
            conn.sendall(frame)
    rows = got.wait_for(total, timeout=60)
    assert len(rows) == total
    assert {r["message"] for r in rows} == {"x" * 32_000}
    assert source.dropped == 0
