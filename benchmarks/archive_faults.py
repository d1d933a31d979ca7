"""Exactly once on object storage under faults: `logradar up` archiving to S3 (moto) behind
a fault-injecting proxy while 4 senders post numbered lines; each round injects one random
fault: an outage (connections dropped), a hang (requests held), 500s or 503s, or SIGKILL of
the server (restarted on the same data dir). At the end the archive is read back through its
manifest and compared with what was sent:

- lost       = acknowledged lines missing from the archive (target 0)
- duplicated = extra copies of lines in the archive (target 0)
- unacked_archived = lines kept although the sender saw no answer (allowed)

    python benchmarks/archive_faults.py --rounds 20
"""

from __future__ import annotations

import argparse
import collections
import json
import random
import tempfile
import threading
import time
from pathlib import Path

import httpx

from _s3 import FaultProxy, MotoServer, free_port
from _up import UpServer
from crash_loss import LTS, Load
from logradar.archive.layout import open_dataset
from logradar.config import ArchiveConfig

FAULTS = ("outage", "hang", "500", "503", "sigkill")
_MODE = {"outage": "down", "hang": "hang", "500": "500", "503": "503"}


def sender(server: dict, sender_id: int, load: Load, batch: int) -> None:
    """Post new numbered lines until stopped; a request without an answer is not retried
    (its lines may or may not be kept), the next one carries new lines."""
    n = 0
    with httpx.Client(timeout=10) as client:
        while not load.stop.is_set():
            lines = [f"INFO worker {sender_id} job seq={sender_id}-{n + i}" for i in range(batch)]
            n += batch
            with load.lock:
                load.sent.update(lines)
            body = {"log_time_ns": time.time_ns(), "contents": lines, "labels": {}}
            try:
                r = client.post(server["url"] + LTS, json=body)
            except httpx.TransportError:
                load.stop.wait(0.2)  # the server is down: try again once it is back
                continue
            if r.status_code == 200:
                with load.lock:
                    load.acked.update(lines)
            elif r.status_code in (429, 503):
                load.stop.wait(0.2)
            else:
                raise RuntimeError(f"unexpected answer {r.status_code}: {r.text}")


def wait_archived(server: UpServer, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while server.metric("logradar_consumer_lag_lines", 'consumer="archive"') != 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the archive did not catch up:\n{server.output()}")
        time.sleep(0.2)


def run(
    rounds: int,
    *,
    seed: int = 1,
    senders: int = 4,
    batch: int = 100,
    fault_seconds: tuple[float, float] = (1.0, 4.0),
    faults: tuple[str, ...] | None = None,
    workdir: Path | None = None,
) -> dict:
    """``rounds`` faults (random, or ``faults`` in turn); returns the counts."""
    rng = random.Random(seed)
    workdir = workdir or Path(tempfile.mkdtemp(prefix="archive-faults-"))
    moto = MotoServer()
    proxy = FaultProxy(moto.port)
    bucket = moto.bucket("archive-faults")
    env = {
        "LOGRADAR_ARCHIVE__URL": f"s3://{bucket}/archive",
        "LOGRADAR_ARCHIVE__S3_ENDPOINT": proxy.url,
        "LOGRADAR_ARCHIVE__S3_REGION": "us-east-1",
        "LOGRADAR_ARCHIVE__ACCESS_KEY": moto.access_key,
        "LOGRADAR_ARCHIVE__SECRET_KEY": moto.secret_key,
        "LOGRADAR_ARCHIVE__S3_ATTEMPTS": "1",
        "LOGRADAR_ARCHIVE__S3_TIMEOUT_SECONDS": "2",
        "LOGRADAR_ARCHIVE__FLUSH_SECONDS": "0.3",
        "LOGRADAR_ENGINE__SNAPSHOT_SECONDS": "1",
    }
    port = free_port()
    data_dir = workdir / "data"
    server = UpServer(data_dir, port=port, env=env)
    target = {"url": server.url}
    load = Load()
    threads = [
        threading.Thread(target=sender, args=(target, i, load, batch)) for i in range(senders)
    ]
    for t in threads:
        t.start()
    injected = []
    started = time.monotonic()
    try:
        for r in range(rounds):
            fault = faults[r % len(faults)] if faults else rng.choice(FAULTS)
            injected.append(fault)
            load.stop.wait(rng.uniform(0.5, 1.5))  # healthy for a while
            if fault == "sigkill":
                server.kill()
                server = UpServer(data_dir, port=port, env=env)
            else:
                proxy.set(_MODE[fault])
                load.stop.wait(rng.uniform(*fault_seconds))
                proxy.set("ok")
        load.stop.set()
        for t in threads:
            t.join()
        wait_archived(server)
        files_written = server.metric("logradar_archive_files_total")
        failures = server.metric("logradar_archive_flush_failures_total")
        exit_code = server.stop()
        cfg = ArchiveConfig(
            s3_endpoint=moto.url, access_key=moto.access_key, secret_key=moto.secret_key
        )
        dataset = open_dataset(f"s3://{bucket}/archive", cfg)
        archived = dataset.to_table(columns=["message"]).column("message").to_pylist()
        objects = [k for k in moto.keys(bucket) if k.endswith(".parquet")]
    finally:
        load.stop.set()
        server.stop(timeout=30)
        proxy.close()
        moto.stop()
    counts = collections.Counter(archived)
    return {
        "rounds": rounds,
        "faults": dict(collections.Counter(injected)),
        "seconds": round(time.monotonic() - started, 1),
        "acked": len(load.acked),
        "archived": len(archived),
        "lost": len(load.acked - counts.keys()),
        "duplicated": sum(c - 1 for c in counts.values() if c > 1),
        "unacked_archived": len(counts.keys() - load.acked),
        "foreign": len(counts.keys() - load.sent),
        "orphan_objects": len(objects) - len(dataset.files),
        "flush_failures_last_process": int(failures),
        "files_written_last_process": int(files_written),
        "graceful_exit_code": exit_code,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(json.dumps(run(args.rounds, seed=args.seed, senders=args.senders)))


if __name__ == "__main__":
    main()
