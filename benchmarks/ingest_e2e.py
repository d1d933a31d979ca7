"""End to end through ``logradar up``: ingest throughput, ingest-to-anomaly latency, peak RSS.

Usage: .venv/bin/python benchmarks/ingest_e2e.py [--seconds 20] [--senders 4] [--batch 1000]
       [--trials 10]

Starts ``logradar up`` as a subprocess on a free port with a fresh data dir, then:

a) throughput: ``--senders`` concurrent httpx clients POST ``--batch`` lines per request (the
   demo generator's lines, one stream per request) to the LTS report API for ``--seconds``;
   reports accepted lines/s, request latency, and how long the engine needed afterwards to
   process everything (its lines/s over the whole run);
b) latency: under about half the measured load, ``--trials`` times a burst of a never-seen
   error pattern is sent; the time from the POST returning 2xx to the anomaly appearing in
   ``GET /api/v1/anomalies`` (polled every 50 ms). The floor is set by event-time windows: an
   anomaly is found when its window closes (``window_seconds`` + ``allowed_lateness``), so the
   part after the window could close is reported too;
c) peak RSS of the server process (sampled with psutil, and the kernel's max RSS at exit).

Anchor (same run, same machine): lines/s this process decodes the same request bodies with
``json.loads``, single-threaded; ``ratio_to_anchor`` = accepted lines/s over that. The machine
is shared by the server and the senders (see ``cpu_count``). Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from logradar.demo.generator import STREAMS, DemoSystem, novel_error_lines

NS = 1_000_000_000
LTS_PATH = "/v2/bench/lts/groups/bench/streams/{stream}/tenant/contents"
LATENCY_STREAM = "payments"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile, rounded to 10 ms (None without values)."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))], 2)


def make_batches(
    batch: int, seconds: float = 40.0, rate: float = 2000.0
) -> list[tuple[str, bytes]]:
    """Request bodies of ``batch`` lines of one stream, minus the leading ``log_time_ns``."""
    lines = DemoSystem(seed=11, rate=rate, start_ns=0).advance(int(seconds * NS))
    by_stream: dict[str, list[str]] = {s: [] for s in STREAMS}
    for line in lines:
        by_stream[line.stream].append(line.text)
    out = []
    for stream, texts in by_stream.items():
        for i in range(0, len(texts) - batch + 1, batch):
            rest = json.dumps({"contents": texts[i : i + batch], "labels": {"hostName": stream}})
            out.append((stream, rest[1:].encode()))
    random.Random(0).shuffle(out)
    if not out:
        raise SystemExit(f"--batch {batch} is larger than one stream's pool of lines")
    return out


def body(rest: bytes) -> bytes:
    return b'{"log_time_ns":%d,' % time.time_ns() + rest


def anchor_lines_per_s(batches: list[tuple[str, bytes]], batch: int) -> float:
    """Lines/s of ``json.loads`` over the request bodies (this process, one thread)."""
    bodies = [body(rest) for _, rest in batches[:20]]
    started, n = time.perf_counter(), 0
    while time.perf_counter() - started < 2.0:
        for b in bodies:
            json.loads(b)
            n += batch
    return n / (time.perf_counter() - started)


class RssSampler(threading.Thread):
    """Samples a process's resident set size every 0.2 s; keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.Error:
                return
            self.stop.wait(0.2)


def start_server(port: int, data_dir: Path) -> subprocess.Popen:
    exe = Path(sys.executable).with_name("logradar")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGRADAR_")}
    env["LOGRADAR_LOG_LEVEL"] = "warning"
    proc = subprocess.Popen(
        [str(exe), "up", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"logradar up exited: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("logradar up did not become healthy within 60 s")


def metric(client: httpx.Client, name: str) -> float:
    """Sum of every sample of a Prometheus metric from ``/metrics``."""
    total = 0.0
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name) and line[len(name)] in " {":
            total += float(line.rsplit(" ", 1)[1])
    return total


async def send_load(
    url: str,
    batches: list[tuple[str, bytes]],
    batch: int,
    senders: int,
    seconds: float,
    lines_per_s: float | None = None,
) -> dict[str, Any]:
    """``senders`` concurrent clients; at most ``lines_per_s`` in total when given."""
    stats: dict[str, Any] = {"accepted": 0, "rejected": 0, "errors": 0, "latencies": []}
    stop_at = time.monotonic() + seconds
    cursor = iter(range(10**12))
    interval = None if lines_per_s is None else senders * batch / lines_per_s

    async def sender(k: int) -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            next_at = time.monotonic() + (interval or 0) * k / senders
            while time.monotonic() < stop_at:
                if interval is not None:
                    await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                    next_at += interval
                stream, rest = batches[next(cursor) % len(batches)]
                started = time.perf_counter()
                try:
                    r = await client.post(
                        LTS_PATH.format(stream=stream),
                        content=body(rest),
                        headers={"content-type": "application/json"},
                    )
                except httpx.TransportError:
                    stats["errors"] += 1
                    continue
                stats["latencies"].append(time.perf_counter() - started)
                if r.status_code == 200:
                    stats["accepted"] += batch
                else:
                    stats["rejected"] += 1

    started = time.monotonic()
    await asyncio.gather(*(sender(k) for k in range(senders)))
    stats["elapsed"] = time.monotonic() - started
    return stats


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="throughput phase length")
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000, help="lines per request")
    parser.add_argument("--trials", type=int, default=10, help="latency measurements")
    args = parser.parse_args()

    batches = make_batches(args.batch)
    anchor = anchor_lines_per_s(batches, args.batch)
    data_dir = Path(tempfile.mkdtemp(prefix="logradar-bench-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_server(port, data_dir)
    sampler = RssSampler(proc.pid)
    sampler.start()
    result: dict[str, Any] = {
        "benchmark": "ingest_e2e",
        "cpu_count": os.cpu_count(),
        "note": "server and senders share the machine's cores",
        "senders": args.senders,
        "batch_lines": args.batch,
        "anchor_json_decode_lines_per_s": round(anchor),
    }
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            # (a) sustained throughput
            load = asyncio.run(send_load(url, batches, args.batch, args.senders, args.seconds))
            accepted_per_s = load["accepted"] / load["elapsed"]
            catch_up = wait_processed(client, load["accepted"], timeout=300)
            processed = metric(client, "logradar_lines_processed_total")
            result["throughput"] = {
                "seconds": round(load["elapsed"], 1),
                "accepted_lines": load["accepted"],
                "accepted_lines_per_s": round(accepted_per_s),
                "ratio_to_anchor": round(accepted_per_s / anchor, 3),
                "rejected_requests": load["rejected"],
                "failed_requests": load["errors"],
                "request_p50_seconds": percentile(load["latencies"], 50),
                "request_p99_seconds": percentile(load["latencies"], 99),
                "engine_catch_up_seconds_after_load": None
                if catch_up is None
                else round(catch_up, 1),
                "engine_lines_per_s_overall": None
                if catch_up is None
                else round(load["accepted"] / (load["elapsed"] + catch_up)),
                "engine_processed_over_accepted": round(processed / max(1, load["accepted"]), 3),
            }
            # (b) ingest-to-anomaly latency under about half that load
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
                    send_load(url, batches, args.batch, args.senders, budget, background_rate)
                )
                await asyncio.to_thread(trials_run)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

            asyncio.run(with_background())
            seconds = [t["seconds"] for t in trials]
            after_end = [t["after_window_end"] for t in trials]
            window = client.get("/api/v1/volume").json()["window_seconds"]
            result["latency"] = {
                "background_lines_per_s": round(background_rate),
                "trials": len(trials),
                "missed": missed,
                "window_seconds": window,
                "p50_seconds": percentile(seconds, 50),
                "p99_seconds": percentile(seconds, 99),
                "after_window_end_p50_seconds": percentile(after_end, 50),
                "after_window_end_p99_seconds": percentile(after_end, 99),
            }
    finally:
        sampler.stop.set()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(data_dir, ignore_errors=True)
    children_max_rss_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result["server_rss"] = {
        "peak_sampled_mb": round(sampler.peak / 2**20, 1),
        "max_rss_at_exit_mb": round(children_max_rss_kb / 1024, 1),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
