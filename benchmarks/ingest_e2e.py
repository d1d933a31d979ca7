"""End to end through ``logradar up``: throughput per receiver, ingest-to-anomaly latency, RSS.

Usage: .venv/bin/python benchmarks/ingest_e2e.py [--receivers lts,loki-proto,...]
       [--seconds 20] [--senders 4] [--batch 1000] [--trials 10]

For each receiver in ``--receivers`` (default: all of :data:`RECEIVERS`), a fresh
``logradar up`` (subprocess, free port, new data dir) with the engine and archive running:

a) throughput: ``--senders`` concurrent keep-alive HTTP/1.1 connections POST ``--batch`` lines
   per request (the demo generator's lines, one stream per request) for ``--seconds``, bodies
   encoded as that receiver's shippers send them (see :data:`RECEIVERS`). Event times are the
   send time's second plus each line's own sub-second fraction (OTLP: the send time, one per
   request), filled into pre-encoded bodies just before sending; gzip and snappy compression
   happen per request, as a shipper does. Reports accepted lines/s, request latency, the CPU
   the server and the senders used, and how long the engine needed afterwards to process
   everything (its lines/s over the whole run);
b) latency (on the ``lts`` server, after its throughput phase): under about half its load,
   ``--trials`` times a burst of a never-seen error pattern is sent; the time from the POST
   returning 2xx to the anomaly appearing in ``GET /api/v1/anomalies`` (polled every 50 ms).
   The floor is set by event-time windows: an anomaly is found when its window closes
   (``window_seconds`` + ``allowed_lateness``), so the part after the window could close is
   reported too;
c) peak RSS of each server process (sampled with psutil), and the kernel's max RSS at exit.

Anchor (same run, same machine, measured right before each receiver's phase): lines/s this
process decodes LTS request bodies of the same lines with ``json.loads``, single-threaded;
``ratio_to_anchor`` = accepted lines/s over that. The senders are a minimal asyncio HTTP client
in this process, sharing the machine's cores with the server (see ``cpu_count`` and
``sender_cpu_share``). Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import random
import resource
import shutil
import struct
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import cramjam
import httpx
import psutil
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2

from _up import UpServer
from logradar.demo.generator import STREAMS, DemoSystem, LogLine, novel_error_lines
from logradar.sources.proto.logproto import PushRequest

NS = 1_000_000_000
LTS_PATH = "/v2/bench/lts/groups/bench/streams/{stream}/tenant/contents"
LATENCY_STREAM = "payments"
SERVER_ENV = {"LOGRADAR_LOG_LEVEL": "warning"}

# Placeholders in pre-encoded bodies, replaced by the send time (checked to occur exactly
# where intended when a body is built).
SECONDS = 7_777_777_777
DECIMAL_SECONDS = b"%d" % SECONDS
ISO_SECONDS = b"2000-01-01T00:00:00"
FIXED64_NS = struct.pack("<Q", SECONDS * NS)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


VARINT_SECONDS = _varint(SECONDS)


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile, rounded to 10 ms (None without values)."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))], 2)


# Request bodies -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Prepared:
    """One request ready to send: ``body()`` fills in the send time (and compresses)."""

    path: str
    headers: bytes  # extra header lines, each ending in CRLF
    lines: int
    body: Callable[[], bytes]


def _expect(template: bytes, marker: bytes, count: int) -> bytes:
    found = template.count(marker)
    if found != count:
        raise SystemExit(f"time placeholder found {found} times, expected {count}")
    return template


def _fraction(line: LogLine) -> int:
    return line.ts_ns % NS


def _decimal_stamp(template: bytes) -> Callable[[], bytes]:
    return lambda: template.replace(DECIMAL_SECONDS, b"%d" % time.time())


def lts_request(stream: str, lines: list[LogLine]) -> Prepared:
    """LTS report API, JSON, one ``log_time_ns`` per request (what the LTS SDKs send)."""
    rest = json.dumps({"contents": [x.text for x in lines], "labels": {"hostName": stream}})
    tail = rest[1:].encode()
    return Prepared(
        LTS_PATH.format(stream=stream),
        b"Content-Type: application/json\r\n",
        len(lines),
        lambda: b'{"log_time_ns":%d,' % time.time_ns() + tail,
    )


def lts_gzip_request(stream: str, lines: list[LogLine]) -> Prepared:
    """The LTS body gzipped (level 6): the fixed part is compressed once, the time per request.

    ``log_time_ns`` goes last so the compressor state after the fixed part can be copied and
    finished with the time: the same bytes ``gzip.compress`` makes of the whole body.
    """
    head = json.dumps({"contents": [x.text for x in lines], "labels": {"hostName": stream}})
    fixed = head[:-1].encode() + b',"log_time_ns":'
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    compressed = compressor.compress(fixed)
    crc = zlib.crc32(fixed)
    gzip_header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"

    def body() -> bytes:
        tail = b"%d}" % time.time_ns()
        finisher = compressor.copy()
        deflated = compressed + finisher.compress(tail) + finisher.flush()
        size = (len(fixed) + len(tail)) & 0xFFFFFFFF
        return gzip_header + deflated + struct.pack("<II", zlib.crc32(tail, crc), size)

    return Prepared(
        LTS_PATH.format(stream=stream),
        b"Content-Type: application/json\r\nContent-Encoding: gzip\r\n",
        len(lines),
        body,
    )


def loki_proto_request(stream: str, lines: list[LogLine]) -> Prepared:
    """Loki push as Promtail sends it: ``logproto.PushRequest``, snappy block format."""
    request = PushRequest()
    selector = f'{{job="{stream}", host="{stream}-1", filename="/var/log/{stream}.log"}}'
    entries = request.streams.add(labels=selector.encode()).entries
    for x in lines:
        entry = entries.add(line=x.text.encode())
        entry.timestamp.seconds, entry.timestamp.nanos = SECONDS, _fraction(x)
    template = _expect(request.SerializeToString(), VARINT_SECONDS, len(lines))

    def body() -> bytes:
        stamped = template.replace(VARINT_SECONDS, _varint(int(time.time())))
        return bytes(cramjam.snappy.compress_raw(stamped))

    return Prepared(
        "/loki/api/v1/push", b"Content-Type: application/x-protobuf\r\n", len(lines), body
    )


def loki_json_request(stream: str, lines: list[LogLine]) -> Prepared:
    """Loki push in its JSON encoding (Fluent Bit, Vector, Alloy can send it)."""
    values = [[f"{SECONDS}{_fraction(x):09d}", x.text] for x in lines]
    push = {"streams": [{"stream": {"job": stream, "host": f"{stream}-1"}, "values": values}]}
    template = _expect(json.dumps(push).encode(), DECIMAL_SECONDS, len(lines))
    return Prepared(
        "/loki/api/v1/push",
        b"Content-Type: application/json\r\n",
        len(lines),
        _decimal_stamp(template),
    )


def es_bulk_request(stream: str, lines: list[LogLine]) -> Prepared:
    """Elasticsearch bulk as Filebeat sends it (``create`` actions, ECS-style documents)."""
    action = json.dumps({"create": {"_index": f"logs-{stream}-default"}})
    out = []
    for x in lines:
        doc = {
            "@timestamp": f"{ISO_SECONDS.decode()}.{_fraction(x) // 1_000_000:03d}Z",
            "message": x.text,
            "host": {"name": f"{stream}-1"},
            "log": {"file": {"path": f"/var/log/{stream}.log"}},
            "agent": {"type": "filebeat", "version": "8.11.0"},
        }
        out += [action, json.dumps(doc)]
    template = _expect(("\n".join(out) + "\n").encode(), ISO_SECONDS, len(lines))

    def body() -> bytes:
        return template.replace(
            ISO_SECONDS, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()).encode()
        )

    return Prepared("/_bulk", b"Content-Type: application/x-ndjson\r\n", len(lines), body)


def otlp_request(stream: str, lines: list[LogLine]) -> Prepared:
    """OTLP/HTTP protobuf as the OpenTelemetry SDKs and Collector send it."""
    request = logs_service_pb2.ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    for key, value in (
        ("service.name", stream),
        ("host.name", f"{stream}-1"),
        ("telemetry.sdk.language", "python"),
        ("telemetry.sdk.name", "opentelemetry"),
    ):
        resource_logs.resource.attributes.add(key=key).value.string_value = value
    scope_logs = resource_logs.scope_logs.add()
    scope_logs.scope.name = "bench"
    levels = {"DEBUG": 5, "INFO": 9, "WARN": 13, "ERROR": 17}
    for x in lines:
        record = scope_logs.log_records.add()
        record.time_unix_nano = record.observed_time_unix_nano = SECONDS * NS
        level = x.text.split(" ", 2)[1]
        record.severity_text = level
        record.severity_number = levels.get(level, 0)
        record.body.string_value = x.text
    template = _expect(request.SerializeToString(), FIXED64_NS, 2 * len(lines))

    def body() -> bytes:
        return template.replace(FIXED64_NS, struct.pack("<Q", time.time_ns()))

    return Prepared("/v1/logs", b"Content-Type: application/x-protobuf\r\n", len(lines), body)


def ndjson_request(stream: str, lines: list[LogLine]) -> Prepared:
    """logradar's own ``/api/v1/logs``, NDJSON (what ``logradar send`` posts)."""
    out = [
        json.dumps({"ts": int(f"{SECONDS}{_fraction(x):09d}"), "stream": stream, "message": x.text})
        for x in lines
    ]
    template = _expect(("\n".join(out) + "\n").encode(), DECIMAL_SECONDS, len(lines))
    return Prepared(
        "/api/v1/logs",
        b"Content-Type: application/x-ndjson\r\n",
        len(lines),
        _decimal_stamp(template),
    )


RECEIVERS: dict[str, Callable[[str, list[LogLine]], Prepared]] = {
    "lts": lts_request,
    "lts-gzip": lts_gzip_request,
    "loki-proto": loki_proto_request,
    "loki-json": loki_json_request,
    "es-bulk": es_bulk_request,
    "otlp-proto": otlp_request,
    "ndjson": ndjson_request,
}


@functools.cache
def line_pool(batch: int, seconds: float = 40.0, rate: float = 2000.0) -> list[tuple[str, list]]:
    """The demo generator's lines in chunks of ``batch`` lines of one stream, shuffled."""
    lines = DemoSystem(seed=11, rate=rate, start_ns=0).advance(int(seconds * NS))
    by_stream: dict[str, list[LogLine]] = {s: [] for s in STREAMS}
    for line in lines:
        by_stream[line.stream].append(line)
    out = [
        (stream, chunk[i : i + batch])
        for stream, chunk in by_stream.items()
        for i in range(0, len(chunk) - batch + 1, batch)
    ]
    random.Random(0).shuffle(out)
    if not out:
        raise SystemExit(f"--batch {batch} is larger than one stream's pool of lines")
    return out


def make_requests(receiver: str, batch: int) -> list[Prepared]:
    build = RECEIVERS[receiver]
    return [build(stream, lines) for stream, lines in line_pool(batch)]


def anchor_lines_per_s(batch: int) -> float:
    """Lines/s of ``json.loads`` over LTS request bodies (this process, one thread)."""
    bodies = [lts_request(stream, lines).body() for stream, lines in line_pool(batch)[:20]]
    started, n = time.perf_counter(), 0
    while time.perf_counter() - started < 2.0:
        for b in bodies:
            json.loads(b)
            n += batch
    return n / (time.perf_counter() - started)


# Senders ------------------------------------------------------------------------------------
class Connection:
    """A minimal keep-alive HTTP/1.1 client connection (fixed-length answers only)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, headers: bytes, body: bytes) -> int:
        """POST and read the whole answer; returns the status. Reconnects after errors."""
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        try:
            writer.write(
                b"POST %s HTTP/1.1\r\nHost: %s\r\n%sContent-Length: %d\r\n\r\n"
                % (path.encode(), self.host.encode(), headers, len(body))
            )
            writer.write(body)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
                elif name.strip().lower() == b"transfer-encoding":
                    raise ConnectionError("chunked answers are not supported")
            await reader.readexactly(length)
            return int(head[9:12])
        except (OSError, asyncio.IncompleteReadError, ValueError):
            self.close()
            raise ConnectionError from None

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


async def send_load(
    url: str,
    requests: list[Prepared],
    senders: int,
    seconds: float,
    lines_per_s: float | None = None,
) -> dict[str, Any]:
    """``senders`` concurrent connections; at most ``lines_per_s`` in total when given."""
    stats: dict[str, Any] = {"accepted": 0, "rejected": 0, "errors": 0, "latencies": []}
    stop_at = time.monotonic() + seconds
    cursor = iter(range(10**12))
    lines = requests[0].lines
    interval = None if lines_per_s is None else senders * lines / lines_per_s

    async def sender(k: int) -> None:
        connection = Connection(url)
        next_at = time.monotonic() + (interval or 0) * k / senders
        try:
            while time.monotonic() < stop_at:
                if interval is not None:
                    await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                    next_at += interval
                request = requests[next(cursor) % len(requests)]
                started = time.perf_counter()
                try:
                    status = await connection.post(request.path, request.headers, request.body())
                except ConnectionError:
                    stats["errors"] += 1
                    await asyncio.sleep(0.1)
                    continue
                stats["latencies"].append(time.perf_counter() - started)
                if 200 <= status < 300:
                    stats["accepted"] += request.lines
                else:
                    stats["rejected"] += 1
        finally:
            connection.close()

    started = time.monotonic()
    await asyncio.gather(*(sender(k) for k in range(senders)))
    stats["elapsed"] = time.monotonic() - started
    return stats


# Server side --------------------------------------------------------------------------------
class RssSampler(threading.Thread):
    """Samples a process's resident set size every ``every`` seconds; keeps all samples."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.every = every
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()

    @property
    def peak(self) -> int:
        return max((rss for _, rss in self.samples), default=0)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.samples.append((time.monotonic(), self.process.memory_info().rss))
            except psutil.Error:
                return
            self.stop.wait(self.every)


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def metric(client: httpx.Client, name: str) -> float:
    """Sum of every sample of a Prometheus metric from ``/metrics``."""
    total = 0.0
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name) and line[len(name)] in " {":
            total += float(line.rsplit(" ", 1)[1])
    return total


def wait_processed(client: httpx.Client, target: float, timeout: float) -> float | None:
    """Seconds until the engine has processed ``target`` lines (None: timed out)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if metric(client, "logradar_lines_processed_total") >= target:
            return time.monotonic() - started
        time.sleep(0.25)
    return None


def latency_trial(client: httpx.Client, pattern: int) -> dict[str, float] | None:
    lines = novel_error_lines(pattern, 20, time.time_ns(), LATENCY_STREAM)
    marker = lines[0].split()[3]  # the pattern's first made-up word
    payload = {"log_time_ns": time.time_ns(), "contents": lines, "labels": {"hostName": "bench"}}
    r = client.post(LTS_PATH.format(stream=LATENCY_STREAM), json=payload)
    acked = time.monotonic()
    r.raise_for_status()
    while time.monotonic() - acked < 60:
        found = client.get(
            "/api/v1/anomalies", params={"stream": LATENCY_STREAM, "limit": 50}
        ).json()
        for a in found:
            if a["kind"] == "new_pattern" and marker in (a.get("template") or ""):
                seen = time.monotonic()
                end = datetime.fromisoformat(a["end"].replace("Z", "+00:00")).timestamp()
                return {"seconds": seen - acked, "after_window_end": time.time() - end}
        time.sleep(0.05)
    return None


def throughput(
    server: UpServer, client: httpx.Client, requests: list[Prepared], args: argparse.Namespace
) -> dict[str, Any]:
    """Phase (a) against a fresh server: sustained load, then wait for the engine."""
    process = psutil.Process(server.pid)
    server_cpu, own_cpu = cpu_seconds(process), own_cpu_seconds()
    load = asyncio.run(send_load(server.url, requests, args.senders, args.seconds))
    server_cpu, own_cpu = cpu_seconds(process) - server_cpu, own_cpu_seconds() - own_cpu
    accepted_per_s = load["accepted"] / load["elapsed"]
    catch_up = wait_processed(client, load["accepted"], timeout=300)
    processed = metric(client, "logradar_lines_processed_total")
    return {
        "seconds": round(load["elapsed"], 1),
        "accepted_lines": load["accepted"],
        "accepted_lines_per_s": round(accepted_per_s),
        "rejected_requests": load["rejected"],
        "failed_requests": load["errors"],
        "request_p50_seconds": percentile(load["latencies"], 50),
        "request_p99_seconds": percentile(load["latencies"], 99),
        "server_cpu_share": round(server_cpu / load["elapsed"], 2),
        "sender_cpu_share": round(own_cpu / load["elapsed"], 2),
        "engine_catch_up_seconds_after_load": None if catch_up is None else round(catch_up, 1),
        "engine_lines_per_s_overall": None
        if catch_up is None
        else round(load["accepted"] / (load["elapsed"] + catch_up)),
        "engine_processed_over_accepted": round(processed / max(1, load["accepted"]), 3),
    }


def latency(
    server: UpServer, client: httpx.Client, accepted_per_s: float, args: argparse.Namespace
) -> dict[str, Any]:
    """Phase (b): new-pattern bursts under about half the measured load."""
    requests = make_requests("lts", args.batch)
    background_rate = accepted_per_s / 2
    trials: list[dict[str, float]] = []
    missed = 0

    def trials_run() -> None:
        nonlocal missed
        for k in range(args.trials):
            time.sleep(random.Random(k).uniform(0.5, 3.0))
            t = latency_trial(client, k)
            if t is None:
                missed += 1
            else:
                trials.append(t)

    async def with_background() -> None:
        budget = 70.0 * args.trials
        task = asyncio.create_task(
            send_load(server.url, requests, args.senders, budget, background_rate)
        )
        await asyncio.to_thread(trials_run)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(with_background())
    seconds = [t["seconds"] for t in trials]
    after_end = [t["after_window_end"] for t in trials]
    window = client.get("/api/v1/volume").json()["window_seconds"]
    return {
        "background_lines_per_s": round(background_rate),
        "trials": len(trials),
        "missed": missed,
        "window_seconds": window,
        "p50_seconds": percentile(seconds, 50),
        "p99_seconds": percentile(seconds, 99),
        "after_window_end_p50_seconds": percentile(after_end, 50),
        "after_window_end_p99_seconds": percentile(after_end, 99),
    }


def run_receiver(receiver: str, root: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Anchor, then a fresh server: throughput, and for ``lts`` the latency trials."""
    requests = make_requests(receiver, args.batch)
    anchor = anchor_lines_per_s(args.batch)
    server = UpServer(root / receiver / "data", env=SERVER_ENV)
    sampler = RssSampler(server.pid)
    sampler.start()
    result: dict[str, Any] = {
        "batch_lines": args.batch,
        "request_bytes": round(sum(len(r.body()) for r in requests) / len(requests)),
        "anchor_json_decode_lines_per_s": round(anchor),
    }
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            result.update(throughput(server, client, requests, args))
            result["ratio_to_anchor"] = round(result["accepted_lines_per_s"] / anchor, 4)
            if receiver == "lts" and args.trials > 0:
                result["latency"] = latency(server, client, result["accepted_lines_per_s"], args)
    finally:
        sampler.stop.set()
        server.stop(timeout=60)
    result["server_peak_rss_mb"] = round(sampler.peak / 2**20, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--receivers",
        default=",".join(RECEIVERS),
        help=f"comma-separated, from {', '.join(RECEIVERS)}",
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="throughput phase length")
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000, help="lines per request")
    parser.add_argument("--trials", type=int, default=10, help="latency measurements (lts)")
    args = parser.parse_args()
    receivers = [r.strip() for r in args.receivers.split(",") if r.strip()]
    unknown = sorted(set(receivers) - set(RECEIVERS))
    if unknown:
        parser.error(f"unknown receivers {unknown}: use {', '.join(RECEIVERS)}")

    root = Path(tempfile.mkdtemp(prefix="logradar-bench-"))
    result: dict[str, Any] = {
        "benchmark": "ingest_e2e",
        "cpu_count": psutil.cpu_count(),
        "note": "server and senders share the machine's cores; one fresh server per receiver",
        "senders": args.senders,
        "batch_lines": args.batch,
        "receivers": {},
    }
    try:
        for receiver in receivers:
            result["receivers"][receiver] = run_receiver(receiver, root, args)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    children_max_rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result["server_max_rss_at_exit_mb"] = round(children_max_rss_kb / 1024, 1)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
