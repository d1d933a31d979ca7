"""Ingest-to-anomaly and ingest-to-alert latency of `logradar up` under background load.

Usage: .venv/bin/python benchmarks/detect_latency.py [--kind new_pattern|spike] [--trials 30]
       [--rate LINES_PER_S] [--baseline-trials 10] [--senders 4] [--batch 1000]
       [--spike-lines N] [--set engine.max_batch_rows=25000]

Starts ``logradar up`` (benchmarks/_up.py) with a webhook pointing at a receiver in this
process, then:

1. unless ``--rate`` is given, measures the most lines/s the server accepts (``--senders``
   clients posting ``--batch``-line LTS requests of the demo generator's lines for
   ``--probe-seconds``) and uses half of it as the background rate;
2. keeps that background load running and, once the streams are past their learning period,
   ``--trials`` times posts a burst of 20 lines of a never-seen error pattern; for each, the
   time from the POST's 2xx to the ``new_pattern`` anomaly appearing in
   ``GET /api/v1/anomalies`` (polled every 20 ms), and to its alert reaching the webhook;
3. does the same on a second server with ``LOGRADAR_ENGINE__EARLY_EVALUATION=false`` (the
   anchor: detection at window close, ``--baseline-trials``; 0 skips it).

``--kind spike`` measures frequency spikes instead: each trial posts ``--spike-lines`` lines of
an *existing* ``payments`` template (``db pool stats ...``, a few lines per window in the
background load; default: 20 times its expected count per window at the background rate, at
least 200) at a uniformly random point of the next window (one burst per window, so each is a
spike of its own), and waits for the ``frequency`` spike of that template and window. Alert
cooldown is 0 on these servers (each trial's spike has the same alert key); ``--set
alerts.cooldown_seconds=...`` overrides it. Trials start once the template has the frequency
detector's ``min_history`` windows (2 min at the defaults); each takes about 1.5 windows.

``--set section.key=value`` (repeatable) changes a setting of both servers.

Reported per server: p50/p95/p99 (nearest rank) of both latencies, the engine's micro-batch
time (mean, and share of batches under 0.25/0.5/1 s from ``/metrics``), its largest lag, its
lines/s, and the machine's load average. Prints JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from _up import UpServer, WebhookReceiver
from logradar.demo.generator import STREAMS, DemoSystem, novel_error_lines

NS = 1_000_000_000
LTS_PATH = "/v2/bench/lts/groups/bench/streams/{stream}/tenant/contents"
STREAM = "payments"
BURST_LINES = 20
SPIKE_TEMPLATE = "db pool stats"
"""What the lines of the spike trials' template (on ``STREAM``) contain."""
LEARNING_SECONDS = 20.0
"""The default ``engine.learning_seconds``: trials start after it (plus a window)."""


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile in seconds, rounded to 1 ms (None without values)."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))], 3)


def summary(values: list[float]) -> dict[str, float | None]:
    return {f"p{q}": percentile(values, q) for q in (50, 95, 99)} | {
        "max": round(max(values), 3) if values else None
    }


def make_bodies(batch: int) -> list[tuple[str, bytes]]:
    """Request bodies of ``batch`` demo lines of one stream each, minus ``log_time_ns``."""
    lines = DemoSystem(seed=11, rate=2000.0, start_ns=0).advance(40 * NS)
    by_stream: dict[str, list[str]] = {s: [] for s in STREAMS}
    for line in lines:
        by_stream[line.stream].append(line.text)
    out = []
    for stream, texts in by_stream.items():
        for i in range(0, len(texts) - batch + 1, batch):
            rest = json.dumps({"contents": texts[i : i + batch], "labels": {"hostName": stream}})
            out.append((stream, rest[1:].encode()))
    random.Random(0).shuffle(out)
    return out


def with_time(rest: bytes) -> bytes:
    return b'{"log_time_ns":%d,' % time.time_ns() + rest


async def send_load(
    url: str,
    bodies: list[tuple[str, bytes]],
    batch: int,
    senders: int,
    until: threading.Event | float,
    lines_per_s: float | None = None,
) -> dict[str, float]:
    """``senders`` clients post until ``until`` (a deadline or an event); paced if a rate."""
    accepted = rejected = 0
    cursor = iter(range(10**12))
    interval = None if lines_per_s is None else senders * batch / lines_per_s

    def done() -> bool:
        return until.is_set() if isinstance(until, threading.Event) else time.monotonic() > until

    async def sender(k: int) -> None:
        nonlocal accepted, rejected
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            next_at = time.monotonic() + (interval or 0) * k / senders
            while not done():
                if interval is not None:
                    await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                    next_at += interval
                stream, rest = bodies[next(cursor) % len(bodies)]
                try:
                    r = await client.post(
                        LTS_PATH.format(stream=stream),
                        content=with_time(rest),
                        headers={"content-type": "application/json"},
                    )
                except httpx.TransportError:
                    rejected += 1
                    continue
                if r.status_code == 200:
                    accepted += batch
                else:
                    rejected += 1

    started = time.monotonic()
    await asyncio.gather(*(sender(k) for k in range(senders)))
    elapsed = time.monotonic() - started
    return {"accepted": accepted, "rejected": rejected, "seconds": elapsed}


def metrics(client: httpx.Client) -> dict[str, float]:
    """Every sample of ``/metrics`` as ``{"name{labels}": value}``."""
    out = {}
    for line in client.get("/metrics").text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def batch_stats(before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
    """Micro-batches between two ``/metrics`` readings: count, mean, share under 0.25/0.5/1 s."""

    def delta(key: str) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    name = "logradar_engine_batch_seconds"
    count = delta(f"{name}_count")
    out: dict[str, Any] = {"batches": int(count)}
    if count:
        out["mean_seconds"] = round(delta(f"{name}_sum") / count, 3)
        for le in ("0.25", "0.5", "1.0"):
            out[f"share_under_{le}_s"] = round(delta(f'{name}_bucket{{le="{le}"}}') / count, 3)
    return out


Match = Callable[[dict[str, Any], int], bool]
"""Whether an anomaly (as the API and the webhook show it) is the one a burst sent at an event
time (ns) should produce."""


def new_pattern_burst(pattern: int) -> tuple[list[str], Match]:
    """``BURST_LINES`` lines of a never-seen error pattern, and its ``new_pattern`` anomaly."""
    lines = novel_error_lines(pattern, BURST_LINES, time.time_ns(), STREAM)
    marker = lines[0].split()[3]  # the pattern's first made-up word

    def match(a: dict[str, Any], sent_ns: int) -> bool:
        return a.get("kind") == "new_pattern" and marker in (a.get("template") or "")

    return lines, match


def spike_sample(bodies: list[tuple[str, bytes]]) -> tuple[list[str], float]:
    """The background load's lines of the spike template, and their share of all its lines."""
    lines, total = [], 0
    for stream, rest in bodies:
        contents = json.loads(b"{" + rest)["contents"]
        total += len(contents)
        if stream == STREAM:
            lines += [line for line in contents if SPIKE_TEMPLATE in line]
    return lines, len(lines) / total


def spike_burst(sample: list[str], n: int, window_ns: int) -> tuple[list[str], Match]:
    """``n`` lines of the existing spike template, and the one-window ``frequency`` spike of
    that template in the window the burst's event time falls in."""
    lines = [sample[i % len(sample)] for i in range(n)]

    def match(a: dict[str, Any], sent_ns: int) -> bool:
        start = sent_ns - sent_ns % window_ns
        return (
            a.get("detector") == "frequency"
            and a.get("kind") == "spike"
            and SPIKE_TEMPLATE in (a.get("template") or "")
            and (iso_ns(a["start"]), iso_ns(a["end"])) == (start, start + window_ns)
        )

    return lines, match


def iso_ns(text: str) -> int:
    """An anomaly's ISO time (UTC, ``Z``) in ns, to the millisecond."""
    seconds = datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    return round(seconds * 1000) * 1_000_000


def trial(
    client: httpx.Client, receiver: WebhookReceiver, lines: list[str], match: Match
) -> dict[str, float | None]:
    """One burst: seconds from 2xx to its anomaly in the API and its alert at the webhook
    (a burst refused by backpressure is sent again when the server says)."""
    sent_ns = time.time_ns()
    payload = {"log_time_ns": sent_ns, "contents": lines, "labels": {"hostName": "b"}}
    url, refused = LTS_PATH.format(stream=STREAM), 0
    r = client.post(url, json=payload)
    while r.status_code in (429, 503):  # backpressure: the engine lags; the clock starts at 2xx
        refused += 1
        time.sleep(float(r.headers.get("retry-after", 1)))
        r = client.post(url, json=payload)
    acked = time.monotonic()
    r.raise_for_status()
    seen = alerted = None
    while time.monotonic() - acked < 60 and (seen is None or alerted is None):
        if seen is None:
            found = client.get("/api/v1/anomalies", params={"stream": STREAM, "limit": 50})
            if any(match(a, sent_ns) for a in found.json()):
                seen = time.monotonic() - acked
        if alerted is None:
            for at, body in list(receiver.arrivals):
                if match(body.get("anomaly", {}), sent_ns):
                    alerted = at - acked
                    break
        time.sleep(0.02)
    return {"api": seen, "webhook": alerted, "refused": refused}


def run_server(
    args: argparse.Namespace, bodies: list[tuple[str, bytes]], early: bool, trials: int
) -> dict[str, Any]:
    """One ``logradar up``: optional throughput probe, then latency trials under load."""
    receiver = WebhookReceiver()
    env = {
        "LOGRADAR_LOG_LEVEL": "warning",
        **({"LOGRADAR_ALERTS__COOLDOWN_SECONDS": "0"} if args.kind == "spike" else {}),
        **{f"LOGRADAR_{k.upper().replace('.', '__')}": v for k, v in args.set},
        "LOGRADAR_ENGINE__EARLY_EVALUATION": str(early),
    }
    with tempfile.TemporaryDirectory(prefix="logradar-latency-") as tmp:
        up = UpServer(Path(tmp) / "data", args=["--webhook", receiver.url], env=env)
        result: dict[str, Any] = {"early_evaluation": early}
        started = time.monotonic()
        try:
            with httpx.Client(base_url=up.url, timeout=30) as client:
                rate = args.rate
                if rate is None:
                    probe = asyncio.run(
                        send_load(
                            up.url,
                            bodies,
                            args.batch,
                            args.senders,
                            time.monotonic() + args.probe_seconds,
                        )
                    )
                    args.max_accepted = probe["accepted"] / probe["seconds"]
                    rate = args.rate = args.max_accepted / 2
                    result["probe_accepted_lines_per_s"] = round(args.max_accepted)
                result["background_lines_per_s"] = round(rate)
                if args.kind == "spike":
                    expected = rate * args.window_ns / NS * args.spike_share
                    args.spike_lines = args.spike_lines or max(200, math.ceil(20 * expected))
                    result["spike_expected_per_window"] = round(expected, 1)
                    result["spike_lines"] = args.spike_lines
                result.update(under_load(args, up, client, receiver, bodies, rate, trials, started))
        finally:
            result["server_exit_code"] = up.stop()
            receiver.server.shutdown()
    return result


def under_load(
    args: argparse.Namespace,
    up: UpServer,
    client: httpx.Client,
    receiver: WebhookReceiver,
    bodies: list[tuple[str, bytes]],
    rate: float,
    trials: int,
    started: float,
) -> dict[str, Any]:
    stop = threading.Event()
    results: list[dict[str, float | None]] = []
    lag: list[float] = []
    readings: dict[str, Any] = {}

    def run_trials() -> None:
        try:
            warm = LEARNING_SECONDS + 10 + 2
            if args.kind == "spike":  # the template is judged after min_history windows
                warm = max(warm, (args.min_history + 2) * args.window_ns / NS)
            warm -= time.monotonic() - started
            time.sleep(max(3.0, warm))  # past the learning period, load settled
            readings["before"], readings["from"] = metrics(client), time.monotonic()
            budget_end = time.monotonic() + args.trial_budget
            for k in range(trials):
                if time.monotonic() > budget_end:
                    break
                if args.kind == "spike":  # a random point of the next window
                    window = args.window_ns / NS
                    into = time.time_ns() % args.window_ns / NS
                    time.sleep(window - into + random.Random(k).uniform(0, window))
                    burst = spike_burst(args.spike_sample, args.spike_lines, args.window_ns)
                else:
                    time.sleep(random.Random(k).uniform(0.3, 1.5))
                    burst = new_pattern_burst(1000 + k)
                results.append(trial(client, receiver, *burst))
                lag.append(metrics(client).get('logradar_consumer_lag_lines{consumer="engine"}', 0))
            readings["after"], readings["to"] = metrics(client), time.monotonic()
        finally:
            stop.set()

    async def main() -> dict[str, float]:
        task = asyncio.create_task(send_load(up.url, bodies, args.batch, args.senders, stop, rate))
        await asyncio.to_thread(run_trials)
        return await task

    load1 = os.getloadavg()[0]
    load = asyncio.run(main())
    api = [r["api"] for r in results if r["api"] is not None]
    hook = [r["webhook"] for r in results if r["webhook"] is not None]
    before, after = readings["before"], readings["after"]
    seconds = readings["to"] - readings["from"]
    processed = after["logradar_lines_processed_total"] - before["logradar_lines_processed_total"]
    return {
        "background_accepted_lines_per_s": round(load["accepted"] / load["seconds"]),
        "background_rejected_requests": load["rejected"],
        "trials": len(results),
        "trials_asked": trials,
        "missed_api": len(results) - len(api),
        "missed_webhook": len(results) - len(hook),
        "burst_posts_refused_first": sum(1 for r in results if r["refused"]),
        "to_api_seconds": summary(api),
        "to_webhook_seconds": summary(hook),
        "engine_lines_per_s_during_trials": round(processed / seconds),
        "engine_lag_lines_max": max(lag, default=0),
        "engine_micro_batches": batch_stats(before, after),
        "load_average_1min": [round(load1, 2), round(os.getloadavg()[0], 2)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--kind",
        choices=("new_pattern", "spike"),
        default="new_pattern",
        help="a never-seen error pattern, or a spike of an existing template",
    )
    parser.add_argument("--trials", type=int, default=30, help="bursts with early evaluation")
    parser.add_argument(
        "--baseline-trials", type=int, default=10, help="bursts with early_evaluation = false"
    )
    parser.add_argument("--rate", type=float, help="background lines/s (default: half the max)")
    parser.add_argument("--probe-seconds", type=float, default=10.0)
    parser.add_argument(
        "--trial-budget", type=float, default=300.0, help="seconds of trials per server, at most"
    )
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1000, help="lines per load request")
    parser.add_argument(
        "--spike-lines", type=int, help="lines per spike (default: from the background rate)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        type=lambda kv: tuple(kv.split("=", 1)),
        metavar="SECTION.KEY=VALUE",
        help="a setting for both servers, e.g. engine.max_batch_rows=25000",
    )
    args = parser.parse_args()
    args.max_accepted = None
    bodies = make_bodies(args.batch)
    args.window_ns = round(float(dict(args.set).get("engine.window_seconds", 10.0)) * NS)
    args.min_history = int(dict(args.set).get("detectors.frequency.min_history", 10))
    args.spike_sample, args.spike_share = spike_sample(bodies)
    out: dict[str, Any] = {
        "benchmark": "detect_latency",
        "kind": args.kind,
        "cpu_count": os.cpu_count(),
        "note": "server, load senders and receiver share the machine's cores",
        **({"burst_lines": BURST_LINES} if args.kind == "new_pattern" else {}),
        "settings": dict(args.set),
        "runs": [run_server(args, bodies, True, args.trials)],
    }
    if args.baseline_trials:
        out["runs"].append(run_server(args, bodies, False, args.baseline_trials))
        early, anchor = (r["to_api_seconds"]["p50"] for r in out["runs"])
        with contextlib.suppress(TypeError, ZeroDivisionError):
            out["p50_ratio_early_to_close"] = round(early / anchor, 3)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
