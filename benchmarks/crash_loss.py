"""SIGKILL `logradar up` under load, restart it, count lost and duplicated lines.

Each round: start `logradar up` on a data dir, 4 senders post numbered lines through the LTS
API and remember which requests were acknowledged (2xx), the server is killed with SIGKILL at
a random moment, restarted on the same data dir, drained and stopped gracefully. Then the
Parquet archive is compared with what was sent:

- lost       = acknowledged lines missing from the archive (target 0)
- duplicated = lines present more than once in the archive (target 0)
- unacked_archived = lines the server kept although the sender saw no answer (allowed)

It also checks the engine resumed from its snapshot rather than from the beginning.

    python benchmarks/crash_loss.py --rounds 20
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pyarrow.dataset as ds

from _up import UpServer

LTS = "/v2/{p}/lts/groups/g/streams/{s}/tenant/contents".format(p="0" * 32, s="load")


ENV = {"LOGRADAR_ARCHIVE__FLUSH_SECONDS": "0.5", "LOGRADAR_ENGINE__SNAPSHOT_SECONDS": "1"}


@dataclass
class Load:
    acked: set[str] = field(default_factory=set)
    sent: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)


def sender(url: str, sender_id: int, load: Load, batch: int) -> None:
    n = 0
    with httpx.Client(timeout=10) as client:
        while not load.stop.is_set():
            lines = [
                f"INFO worker {sender_id} handled job seq={sender_id}-{n + i}" for i in range(batch)
            ]
            n += batch
            with load.lock:
                load.sent.update(lines)
            body = {"log_time_ns": time.time_ns(), "contents": lines, "labels": {}}
            try:
                r = client.post(url + LTS, json=body)
            except httpx.TransportError:
                return  # the server died: this request's fate is unknown (not acknowledged)
            if r.status_code == 200:
                with load.lock:
                    load.acked.update(lines)
            elif r.status_code not in (429, 503):
                raise RuntimeError(f"unexpected answer {r.status_code}: {r.text}")


def drain(server: UpServer, timeout: float = 120) -> None:
    """Wait until the archive and the engine have consumed everything in the tank."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lags = [
            server.metric("logradar_consumer_lag_lines", f'consumer="{c}"')
            for c in ("archive", "engine")
        ]
        if all(lag == 0 for lag in lags):
            return
        time.sleep(0.2)
    raise RuntimeError("consumers did not catch up")


def run_round(workdir: Path, kill_after: float, senders: int = 4, batch: int = 200) -> dict:
    data_dir = workdir / "data"
    server = UpServer(data_dir, env=ENV)
    load = Load()
    threads = [
        threading.Thread(target=sender, args=(server.url, i, load, batch)) for i in range(senders)
    ]
    for t in threads:
        t.start()
    time.sleep(kill_after)
    server.kill()
    load.stop.set()
    for t in threads:
        t.join()

    restarted = UpServer(data_dir, env=ENV)
    processed_before = (
        json.loads((data_dir / "state" / "engine.json").read_text())["offset"]
        if (data_dir / "state" / "engine.json").exists()
        else -1
    )
    drain(restarted)
    reprocessed = restarted.metric("logradar_lines_processed_total")
    exit_code = restarted.stop()

    archived = (
        ds.dataset(data_dir / "archive", partitioning="hive")
        .to_table(columns=["message"])
        .column("message")
        .to_pylist()
    )
    counts = collections.Counter(archived)
    return {
        "kill_after_s": round(kill_after, 2),
        "acked": len(load.acked),
        "archived": len(archived),
        "lost": len(load.acked - counts.keys()),
        "duplicated": sum(c - 1 for c in counts.values() if c > 1),
        "unacked_archived": len(counts.keys() - load.acked),
        "foreign": len(counts.keys() - load.sent),
        "engine_snapshot_offset_at_kill": processed_before,
        "engine_lines_after_restart": int(reprocessed),
        "graceful_exit_code": exit_code,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    rounds = []
    for i in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            result = run_round(Path(tmp), rng.uniform(1.0, 6.0), senders=args.senders)
        print(json.dumps({"round": i, **result}), file=sys.stderr)
        rounds.append(result)
    print(
        json.dumps(
            {
                "rounds": len(rounds),
                "senders": args.senders,
                "acked_lines_total": sum(r["acked"] for r in rounds),
                "lost_total": sum(r["lost"] for r in rounds),
                "duplicated_total": sum(r["duplicated"] for r in rounds),
                "unacked_archived_total": sum(r["unacked_archived"] for r in rounds),
                "machine": f"{os.cpu_count()} cores, shared",
                "rounds_detail": rounds,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
