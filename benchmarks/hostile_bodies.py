"""/healthz latency while hostile or big bodies are handled, on the real `logradar up`.

Three loads, each measured against an idle anchor in the same run:

- ``bulk``: a 15 MB Elasticsearch bulk body posted over and over by 2 clients;
- ``gzip_members``: a body of 20,000 empty gzip members (~400 KB), posted repeatedly;
- ``clients``: 200 concurrent clients posting 100-line NDJSON bodies.

For each: /healthz p50/p99/max while the load runs, and the load's own request times.

    python benchmarks/hostile_bodies.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from _up import UpServer

ENV = {"LOGRADAR_BACKPRESSURE__MIN_FREE_DISK_BYTES": "0"}


def bulk_body(target_bytes: int) -> bytes:
    action = b'{"index": {"_index": "bench"}}\n'
    lines, size, i = [], 0, 0
    while size < target_bytes:
        doc = json.dumps({"message": f"GET /item/{i} 200 {i % 97} ms", "host": "h1"}).encode()
        lines += [action, doc + b"\n"]
        size += len(action) + len(doc) + 1
        i += 1
    return b"".join(lines)


def percentiles(samples: list[float]) -> dict[str, float]:
    if not samples:
        return {}
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def measure(
    url: str, seconds: float, load: Callable[[threading.Event, list[float]], None], workers: int
) -> dict:
    stop = threading.Event()
    load_times: list[float] = []
    threads = [threading.Thread(target=load, args=(stop, load_times)) for _ in range(workers)]
    for t in threads:
        t.start()
    health: list[float] = []
    deadline = time.monotonic() + seconds
    with httpx.Client(timeout=120) as client:
        while time.monotonic() < deadline:
            started = time.monotonic()
            client.get(url + "/healthz")
            health.append(time.monotonic() - started)
            time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join()
    return {"healthz": percentiles(health), "requests": percentiles(load_times)}


def poster(url: str, path: str, body: bytes, headers: dict[str, str]) -> Callable:
    def run(stop: threading.Event, times: list[float]) -> None:
        with httpx.Client(timeout=900) as client:
            while not stop.is_set():
                started = time.monotonic()
                client.post(url + path, content=body, headers=headers)
                times.append(time.monotonic() - started)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        up = UpServer(Path(tmp) / "data", env=ENV)
        try:
            url = up.url
            idle = measure(url, args.seconds, lambda stop, times: stop.wait(), 1)
            bulk = bulk_body(15 * 1024 * 1024)
            ndjson = {"Content-Type": "application/x-ndjson"}
            members = gzip.compress(b"", mtime=0) * 20_000
            small = b"\n".join(
                json.dumps({"message": f"INFO request {i} ok"}).encode() for i in range(100)
            )
            results = {
                "idle": idle,
                "bulk_15MB_x2": measure(url, args.seconds, poster(url, "/_bulk", bulk, ndjson), 2),
                "gzip_20k_members_x2": measure(
                    url,
                    args.seconds,
                    poster(url, "/api/v1/logs", members, {"Content-Encoding": "gzip"}),
                    2,
                ),
                "clients_200": measure(
                    url, args.seconds, poster(url, "/api/v1/logs?stream=c", small, ndjson), 200
                ),
            }
            anchor = idle["healthz"]["p99_ms"] or 1.0
            for result in results.values():
                result["healthz_p99_vs_idle"] = round(result["healthz"]["p99_ms"] / anchor, 1)
            print(json.dumps(results, indent=2))
        finally:
            up.stop()


if __name__ == "__main__":
    main()
