"""Syslog receiver: RFC 5424 and RFC 3164 over UDP, and over TCP (RFC 6587 framing).

- **Parsing.** ``<PRI>`` gives facility and severity (labels ``facility``, ``severity`` and the
  normalized ``level``); the timestamp becomes ``ts``, the hostname ``host`` (else the
  sender's address), the app-name (5424) or tag (3164) the stream (sanitized to a valid stream
  name) unless a fixed stream is configured; structured data becomes labels ``SD-ID.PARAM``.
  Anything unparseable is kept whole as the message: garbage never stops the listener.
- **TCP** framing is detected per connection: octet-counting (``LEN SP MSG``) when the first
  byte is a digit, else newline-delimited. Each connection batches (``BATCH_LINES`` lines or
  ``BATCH_SECONDS``) and ingests from its own thread; under backpressure it stops reading
  (TCP flow control pushes back on the sender) and retries, so nothing is dropped.
- **UDP** datagrams are batched by one flusher thread. When ingest refuses or fails, or the
  queue is full, datagrams are dropped and counted in :attr:`SyslogSource.dropped`.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa

from logradar.config import DEFAULT_MAX_LABELS, SyslogSourceConfig
from logradar.parse.levels import SYSLOG_SEVERITY
from logradar.schema import INGEST_SCHEMA, TIMESTAMP, labels_json, now_ns, validate_stream_name
from logradar.sources.base import IngestFn
from logradar.sources.common import IngestError, cap_labels

log = logging.getLogger("logradar.syslog")

FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)  # fmt: skip
SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
DEFAULT_STREAM = "syslog"
BATCH_LINES = 1000
#: A batch is also flushed at this many message bytes, which bounds memory per connection.
BATCH_BYTES = 4 * 1024 * 1024
BATCH_SECONDS = 0.1
MAX_FRAME_BYTES = 1024 * 1024
UDP_QUEUE_LINES = 100_000
MAX_TCP_CONNECTIONS = 256
RETRY_MAX_SECONDS = 5.0
_POLL = 0.1

_PRI = re.compile(r"<(\d{1,3})>")
_BSD_TS = re.compile(r"([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) ")
_ISO_TS = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?) ")
_TAG = re.compile(r"([^\s:\[\]]{1,128})(?:\[([^\]]*)\])?: ?")
_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
)}  # fmt: skip
_SD_ID = re.compile(r'\[([^\s=\]"]{1,32})')
_SD_PARAM = re.compile(r' ([^\s=\]"]{1,32})="((?:[^"\\]|\\.)*)"', re.DOTALL)
_SD_UNESCAPE = re.compile(r"\\([\"\\\]])")
_STREAM_BAD = re.compile(r"[^A-Za-z0-9_.\-]+")


@dataclass(slots=True)
class SyslogMessage:
    """One parsed syslog message; ``app`` is the app-name/tag (the default stream)."""

    ts_ns: int
    message: str
    host: str | None = None
    app: str | None = None
    labels: dict[str, str] = field(default_factory=dict)


def stream_for(app: str | None) -> str:
    """A valid stream name from an app-name/tag (invalid characters become ``_``)."""
    if not app:
        return DEFAULT_STREAM
    name = _STREAM_BAD.sub("_", app).replace("..", "_").lstrip(".-")[:128]
    return name or DEFAULT_STREAM


def parse_syslog(raw: bytes | str, received_ns: int) -> SyslogMessage:
    """Parse one syslog message (RFC 5424, RFC 3164, or anything: then it is all message)."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    text = text.rstrip("\r\n\x00")
    pri = _PRI.match(text)
    if pri is None or int(pri.group(1)) > 191:
        return SyslogMessage(received_ns, text)
    value = int(pri.group(1))
    facility, severity = divmod(value, 8)
    labels = {
        "facility": FACILITIES[facility],
        "severity": SEVERITIES[severity],
        "level": SYSLOG_SEVERITY[severity],
    }
    rest = text[pri.end() :]
    if rest.startswith("1 "):
        msg = _parse_5424(rest[2:], received_ns)
    else:
        msg = _parse_3164(rest, received_ns)
    msg.labels = {**labels, **msg.labels}
    return msg


def _nil(token: str) -> str | None:
    return None if token in ("-", "") else token


def _iso_ns(value: str) -> int | None:
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000


def _parse_5424(rest: str, received_ns: int) -> SyslogMessage:
    parts = rest.split(" ", 5)
    if len(parts) < 6:
        return SyslogMessage(received_ns, rest)
    ts_text, host, app, procid, msgid, tail = parts
    ts = received_ns if ts_text == "-" else _iso_ns(ts_text)
    if ts is None:
        return SyslogMessage(received_ns, rest)
    labels: dict[str, str] = {}
    if (p := _nil(procid)) is not None:
        labels["procid"] = p
    if (m := _nil(msgid)) is not None:
        labels["msgid"] = m
    if tail.startswith("-"):
        message = tail[2:] if tail.startswith("- ") else tail[1:]
    else:
        end = _parse_sd(tail, labels)
        message = tail if end is None else tail[end:].removeprefix(" ")
    return SyslogMessage(ts, message.removeprefix("\ufeff"), _nil(host), _nil(app), labels)


def _parse_sd(text: str, labels: dict[str, str]) -> int | None:
    """Parse ``[id k="v" ...]...`` into ``labels``; return where it ends, None if malformed."""
    found: dict[str, str] = {}
    pos = 0
    while pos < len(text) and text[pos] == "[":
        match = _SD_ID.match(text, pos)
        if match is None:
            return None
        sd_id = match.group(1)
        pos = match.end()
        while (param := _SD_PARAM.match(text, pos)) is not None:
            value = param.group(2)
            if "\\" in value:
                value = _SD_UNESCAPE.sub(r"\1", value)
            found[f"{sd_id}.{param.group(1)}"] = value
            pos = param.end()
        if pos >= len(text) or text[pos] != "]":
            return None
        pos += 1
    labels.update(found)
    return pos


def _parse_3164(rest: str, received_ns: int) -> SyslogMessage:
    ts = received_ns
    if (bsd := _BSD_TS.match(rest)) is not None and bsd.group(1) in _MONTHS:
        ts = _bsd_ns(bsd, received_ns)
        rest = rest[bsd.end() :]
    elif (iso := _ISO_TS.match(rest)) is not None and (parsed := _iso_ns(iso.group(1))):
        ts = parsed
        rest = rest[iso.end() :]
    else:
        return _tagged(rest, ts, None)
    host = None
    first, _, after = rest.partition(" ")
    if not _TAG.fullmatch(first) and first:
        host, rest = first, after
    return _tagged(rest, ts, host)


def _tagged(rest: str, ts: int, host: str | None) -> SyslogMessage:
    tag = _TAG.match(rest)
    if tag is None:
        return SyslogMessage(ts, rest, host)
    labels = {"procid": tag.group(2)} if tag.group(2) else {}
    return SyslogMessage(ts, rest[tag.end() :], host, tag.group(1), labels)


def _bsd_ns(match: re.Match[str], received_ns: int) -> int:
    """RFC 3164 time has no year or zone: like rsyslog, take this machine's local time zone
    and the year that puts it nearest to now (December's line received in January)."""
    month, day = _MONTHS[match.group(1)], int(match.group(2))
    hh, mm, ss = (int(match.group(i)) for i in (3, 4, 5))
    now = datetime.fromtimestamp(received_ns / 1e9)
    try:
        dt = datetime(now.year, month, day, hh, mm, ss)
        if (dt - now).days >= 1:
            dt = dt.replace(year=now.year - 1)
    except ValueError:
        return received_ns
    return int(dt.timestamp()) * 1_000_000_000


class _Batch:
    """Parsed messages collected for one ingest call."""

    def __init__(self, stream: str | None, max_labels: int) -> None:
        self.stream = stream
        self.max_labels = max_labels
        self.rows: list[SyslogMessage] = []
        self.started = 0.0
        self.bytes = 0

    def add(self, msg: SyslogMessage) -> None:
        if not self.rows:
            self.started = time.monotonic()
        self.rows.append(msg)
        self.bytes += len(msg.message)

    @property
    def full(self) -> bool:
        return len(self.rows) >= BATCH_LINES or self.bytes >= BATCH_BYTES

    def due(self) -> bool:
        return self.full or (bool(self.rows) and time.monotonic() - self.started >= BATCH_SECONDS)

    def take(self) -> pa.Table:
        rows, self.rows = self.rows, []
        self.bytes = 0
        received = now_ns()
        return pa.table(
            [
                pa.array([self.stream or stream_for(r.app) for r in rows], pa.string()),
                pa.array([r.ts_ns for r in rows], pa.int64()).cast(TIMESTAMP),
                pa.array([received] * len(rows), pa.int64()).cast(TIMESTAMP),
                pa.array([r.host for r in rows], pa.string()),
                pa.array(
                    [labels_json(cap_labels(r.labels, self.max_labels)) for r in rows],
                    pa.string(),
                ),
                pa.array([r.message for r in rows], pa.string()),
            ],
            schema=INGEST_SCHEMA,
        )


class SyslogSource:
    """Listens for syslog on UDP and/or TCP; see the module docstring for the guarantees."""

    name = "syslog"

    def __init__(self, cfg: SyslogSourceConfig, max_labels: int = DEFAULT_MAX_LABELS) -> None:
        self.cfg = cfg
        self.max_labels = max_labels
        self.dropped = 0
        self.received = 0
        self.udp_port: int | None = None
        self.tcp_port: int | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._udp_batch = _Batch(cfg.stream, max_labels)
        self._udp_wake = threading.Event()
        self._connections = threading.BoundedSemaphore(MAX_TCP_CONNECTIONS)
        self._ingest: IngestFn | None = None

    # Lifecycle ----------------------------------------------------------------------------
    def start(self, ingest: IngestFn) -> None:
        """Bind the sockets (raising ``OSError`` if a port is taken) and start the threads."""
        if self.cfg.stream is not None:
            validate_stream_name(self.cfg.stream)
        self._ingest = ingest
        try:
            self._listen()
        except OSError:
            self.stop()
            raise

    def _listen(self) -> None:
        family = socket.AF_INET6 if ":" in self.cfg.host else socket.AF_INET
        if self.cfg.udp_port is not None:
            udp = socket.socket(family, socket.SOCK_DGRAM)
            udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
            udp.bind((self.cfg.host, self.cfg.udp_port))
            udp.settimeout(_POLL)
            self.udp_port = udp.getsockname()[1]
            self._sockets.append(udp)
            self._spawn("udp", self._udp_loop, udp)
            self._spawn("udp-flush", self._udp_flush_loop)
        if self.cfg.tcp_port is not None:
            tcp = socket.socket(family, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((self.cfg.host, self.cfg.tcp_port))
            tcp.listen(64)
            tcp.settimeout(_POLL)
            self.tcp_port = tcp.getsockname()[1]
            self._sockets.append(tcp)
            self._spawn("tcp", self._accept_loop, tcp)

    def stop(self) -> None:
        """Stop listening; connections and the UDP flusher ingest what they hold, then exit."""
        self._stop.set()
        self._udp_wake.set()
        for thread in list(self._threads):
            thread.join(10)
        for sock in self._sockets:
            sock.close()

    def _spawn(self, name: str, target, *args) -> None:  # type: ignore[no-untyped-def]
        thread = threading.Thread(target=target, args=args, name=f"syslog-{name}", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()

    # UDP ----------------------------------------------------------------------------------
    def _udp_loop(self, sock: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                data, peer = sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                log.exception("syslog UDP receive failed")
                continue
            msg = parse_syslog(data, now_ns())
            msg.host = msg.host or peer[0]
            with self._lock:
                self.received += 1
                if len(self._udp_batch.rows) >= UDP_QUEUE_LINES:
                    self.dropped += 1
                    continue
                self._udp_batch.add(msg)
                full = self._udp_batch.full
            if full:
                self._udp_wake.set()

    def _udp_flush_loop(self) -> None:
        while True:
            stopping = self._stop.is_set()
            self._udp_wake.wait(BATCH_SECONDS)
            self._udp_wake.clear()
            with self._lock:
                table = self._udp_batch.take() if self._udp_batch.rows else None
            if table is not None:
                try:
                    self._call_ingest(table)
                except IngestError as e:
                    self._count_drop(table.num_rows, e.reason)
                except Exception:
                    log.exception("syslog UDP ingest failed")
                    self._count_drop(table.num_rows, "ingest failed")
            if stopping:
                return

    def _count_drop(self, lines: int, reason: str) -> None:
        with self._lock:
            self.dropped += lines
        log.warning("dropped %d syslog UDP lines: %s", lines, reason)

    def _call_ingest(self, table: pa.Table) -> int:
        assert self._ingest is not None
        return self._ingest(table, self.name)

    # TCP ----------------------------------------------------------------------------------
    def _accept_loop(self, sock: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                if not self._stop.is_set():
                    log.exception("syslog TCP accept failed")
                continue
            if not self._connections.acquire(blocking=False):
                log.warning("too many syslog TCP connections; refusing %s", peer[0])
                conn.close()
                continue
            self._spawn(f"conn-{peer[0]}", self._serve_connection, conn, peer[0])

    def _serve_connection(self, conn: socket.socket, peer: str) -> None:
        batch = _Batch(self.cfg.stream, self.max_labels)
        framer = _Framer()
        conn.settimeout(_POLL)
        try:
            while not self._stop.is_set():
                try:
                    data = conn.recv(65536)
                except TimeoutError:
                    data = None
                except OSError:
                    break
                if data == b"":
                    break
                for frame in framer.feed(data or b""):
                    self._add_frame(batch, frame, peer)
                    if batch.full:
                        self._flush_reliably(batch)
                if batch.due():
                    self._flush_reliably(batch)
            for frame in framer.close():
                self._add_frame(batch, frame, peer)
            if batch.rows:
                self._flush_reliably(batch)
        finally:
            conn.close()
            self._connections.release()

    def _add_frame(self, batch: _Batch, frame: bytes, peer: str) -> None:
        if not frame.strip(b"\r\n\x00 "):
            return
        msg = parse_syslog(frame, now_ns())
        msg.host = msg.host or peer
        batch.add(msg)
        with self._lock:
            self.received += 1

    def _flush_reliably(self, batch: _Batch) -> None:
        """Ingest, retrying under backpressure; meanwhile this connection is not read.

        Only shutting down ends the retries (the lines are then logged as not ingested).
        """
        table = batch.take()
        delay = BATCH_SECONDS
        while True:
            try:
                self._call_ingest(table)
                return
            except IngestError as e:
                wait = float(e.retry_after or delay)
                log.info("syslog TCP ingest refused (%s); retrying in %.1f s", e.reason, wait)
            except Exception:
                wait = delay
                log.exception("syslog TCP ingest failed; retrying in %.1f s", wait)
            if self._stop.wait(min(wait, RETRY_MAX_SECONDS)):
                log.warning("shutting down: %d syslog TCP lines not ingested", table.num_rows)
                return
            delay = min(delay * 2, RETRY_MAX_SECONDS)


class _Framer:
    """Splits a TCP byte stream into syslog frames (RFC 6587 octet-counting or newlines)."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.octets: bool | None = None

    def feed(self, data: bytes) -> list[bytes]:
        self.buf += data
        if self.octets is None:
            head = self.buf.lstrip()
            if not head:
                return []
            self.octets = head[:1].isdigit()
        return self._octet_frames() if self.octets else self._line_frames()

    def close(self) -> list[bytes]:
        """At end of stream an unterminated last line still counts."""
        frames = [bytes(self.buf)] if self.buf.strip() else []
        self.buf.clear()
        return frames

    def _line_frames(self) -> list[bytes]:
        *lines, rest = bytes(self.buf).split(b"\n")
        if len(rest) > MAX_FRAME_BYTES:
            lines.append(rest)
            rest = b""
        self.buf[:] = rest
        return lines

    def _octet_frames(self) -> list[bytes]:
        frames: list[bytes] = []
        buf, pos = self.buf, 0
        while True:
            while pos < len(buf) and buf[pos] in b" \t\r\n\x00":
                pos += 1
            space = buf.find(b" ", pos, pos + 12)
            if space < 0:
                if len(buf) - pos >= 12:  # no length prefix: not octet-counting after all
                    return self._fall_back(frames, pos)
                break
            length = bytes(buf[pos:space])
            if not length.isdigit() or not 0 < int(length) <= MAX_FRAME_BYTES:
                return self._fall_back(frames, pos)
            end = space + 1 + int(length)
            if len(buf) < end:
                break
            frames.append(bytes(buf[space + 1 : end]))
            pos = end
        del buf[:pos]
        return frames

    def _fall_back(self, frames: list[bytes], pos: int) -> list[bytes]:
        self.octets = False
        del self.buf[:pos]
        return frames + self._line_frames()
