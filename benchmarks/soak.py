"""Soak: memory of ``logradar up`` under a sustained load for minutes.

Usage: .venv/bin/python benchmarks/soak.py [--minutes 10] [--rate auto|LINES_PER_S]
       [--receiver lts] [--senders 4] [--batch 1000] [--sample-seconds 5] [--warmup-minutes 1]

Starts ``logradar up`` (subprocess, fresh data dir, engine and archive running). With
``--rate auto`` (the default) it first sends at full speed for ``--calibrate-seconds`` and
waits for the engine to catch up, then soaks at half the accepted rate; otherwise at the given
lines/s. Requests are those of ``benchmarks/ingest_e2e.py`` for ``--receiver``. The server's
RSS is sampled every ``--sample-seconds``. Prints JSON: RSS at start (healthy, before any
load), after the warm-up, at the end and its peak; the slope of a least-squares line through
the RSS samples of the second half (MB per minute); RSS and engine lag at each minute (the
engine's micro-batches, and so the working set, grow with its lag); the engine's and archive's
lag at the end of the load and how long the engine then needed to catch up; lines accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

from _up import UpServer
from ingest_e2e import (
    RECEIVERS,
    SERVER_ENV,
    RssSampler,
    cpu_seconds,
    make_requests,
    metric,
    send_load,
    wait_processed,
)

MB = 2**20


def lag(client: httpx.Client, consumer: str) -> int:
    """A consumer's lag in lines, from ``/metrics``."""
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(f'logradar_consumer_lag_lines{{consumer="{consumer}"}}'):
            return int(float(line.rsplit(" ", 1)[1]))
    return 0


class LagSampler(threading.Thread):
    """Samples the engine's lag from ``/metrics`` every ``every`` seconds."""

    def __init__(self, url: str, every: float) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.every = every
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.stop.wait(self.every):
                try:
                    self.samples.append((time.monotonic(), lag(client, "engine")))
                except httpx.HTTPError:
                    return


def at(samples: list[tuple[float, int]], t: float) -> int:
    """The value of the first sample at or after monotonic time ``t`` (else the last)."""
    return next((value for when, value in samples if when >= t), samples[-1][1])


def rss_at(samples: list[tuple[float, int]], t: float) -> float:
    """RSS (MB) of the first sample at or after monotonic time ``t``."""
    return round(at(samples, t) / MB, 1)


def slope_mb_per_minute(samples: list[tuple[float, int]]) -> float:
    """Least-squares slope of RSS over time, MB per minute."""
    t = np.array([at for at, _ in samples]) / 60
    rss = np.array([rss for _, rss in samples]) / MB
    return round(float(np.polyfit(t - t[0], rss, 1)[0]), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", default="auto", help="lines/s, or auto: half the maximum")
    parser.add_argument("--receiver", default="lts", choices=sorted(RECEIVERS))
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000, help="lines per request")
    parser.add_argument("--sample-seconds", type=float, default=5.0)
    parser.add_argument("--warmup-minutes", type=float, default=1.0)
    parser.add_argument("--calibrate-seconds", type=float, default=15.0)
    args = parser.parse_args()

    requests = make_requests(args.receiver, args.batch)
    root = Path(tempfile.mkdtemp(prefix="logradar-soak-"))
    server = UpServer(root / "data", env=SERVER_ENV)
    process = psutil.Process(server.pid)
    sampler = RssSampler(server.pid, every=args.sample_seconds)
    sampler.start()
    lags = LagSampler(server.url, every=args.sample_seconds)
    lags.start()
    result: dict[str, Any] = {
        "benchmark": "soak",
        "cpu_count": psutil.cpu_count(),
        "receiver": args.receiver,
        "senders": args.senders,
        "batch_lines": args.batch,
        "minutes": args.minutes,
    }
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            rss_start = round(process.memory_info().rss / MB, 1)
            if args.rate == "auto":
                burst = asyncio.run(
                    send_load(server.url, requests, args.senders, args.calibrate_seconds)
                )
                result["calibration_lines_per_s"] = round(burst["accepted"] / burst["elapsed"])
                rate = result["calibration_lines_per_s"] / 2
                wait_processed(client, burst["accepted"], timeout=600)
            else:
                rate = float(args.rate)
            result["target_lines_per_s"] = round(rate)
            processed_before = metric(client, "logradar_lines_processed_total")
            cpu_before = cpu_seconds(process)
            started = time.monotonic()
            load = asyncio.run(
                send_load(server.url, requests, args.senders, args.minutes * 60, rate)
            )
            ended = time.monotonic()
            cpu = cpu_seconds(process) - cpu_before
            lag_at_end = {c: lag(client, c) for c in ("engine", "archive")}
            catch_up = wait_processed(client, processed_before + load["accepted"], timeout=600)
    finally:
        sampler.stop.set()
        lags.stop.set()
        server.stop(timeout=120)
        shutil.rmtree(root, ignore_errors=True)
    samples = [(at, rss) for at, rss in sampler.samples if started <= at <= ended]
    half = started + (ended - started) / 2
    result.update(
        {
            "accepted_lines": load["accepted"],
            "accepted_lines_per_s": round(load["accepted"] / load["elapsed"]),
            "rejected_requests": load["rejected"],
            "failed_requests": load["errors"],
            "request_p99_seconds": round(float(np.percentile(load["latencies"], 99)), 3),
            "server_cpu_share": round(cpu / (ended - started), 2),
            "rss_mb": {
                "start": rss_start,
                "soak_start": rss_at(samples, started),
                "after_warmup": rss_at(samples, started + args.warmup_minutes * 60),
                "end": round(samples[-1][1] / MB, 1),
                "peak": round(max(rss for _, rss in samples) / MB, 1),
            },
            "rss_slope_mb_per_minute_second_half": slope_mb_per_minute(
                [s for s in samples if s[0] >= half]
            ),
            "rss_slope_mb_per_minute_after_warmup": slope_mb_per_minute(
                [s for s in samples if s[0] >= started + args.warmup_minutes * 60]
            ),
            "lag_at_end_lines": lag_at_end,
            "engine_catch_up_seconds_after_load": None if catch_up is None else round(catch_up, 1),
            "per_minute": [
                {
                    "minute": m,
                    "rss_mb": rss_at(samples, started + 60 * m),
                    "engine_lag_lines": at(lags.samples, started + 60 * m),
                }
                for m in range(int(args.minutes) + 1)
            ],
        }
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
