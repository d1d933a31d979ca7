"""Spark engine scaling: lines/s for local[1] and local[2] on 1M lines, per-micro-batch latency.

Input: 1M raw HDFS log lines rendered from the hdfs-sessions normal sessions (repeated with
fresh block ids; logradar.demo.hdfs_render), HDFS header format, session key
``blk_-?\\d+``. Each master runs ``SparkBacktest`` over the file (warm-up mode: TRAIN only)
in its own process; the SparkSession start is timed apart and not counted in lines/s. The
anchor, in the same run, is the local engine (one process, no Spark) on the same file, which
also reports how the driver state grows (templates, open sessions, snapshot bytes).

Per micro-batch (``CHUNK_LINES`` = 100k lines): ``map_s`` is the Spark job that maps and
pre-aggregates the batch on the executors and collects the partial aggregates to the driver
as Arrow; ``reduce_s`` is the driver's merge and reduce step. Only ``map_s`` shrinks with more
executor cores. ``rows_collected`` is what reached the driver per batch (all kinds; sessions
are counted apart: one row per session key active in the batch and partition), as a share of
the batch's lines after the first batch.

Run: ``.venv/bin/python benchmarks/spark_scaling.py [--lines 1000000]`` (prints JSON).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from logradar.backtest import read_chunks
from logradar.config import Settings, load_config
from logradar.demo.hdfs_render import (
    HDFS_FORMAT,
    SESSION_KEY,
    read_sessions,
    render_sessions,
    write_log,
)
from logradar.engine.core import DetectionCore

DATA = Path(__file__).resolve().parents[2] / "shared/datasets/hdfs-sessions"


def settings() -> Settings:
    return load_config(
        None,
        engine={"session_key": SESSION_KEY},
        parser={"log_format": HDFS_FORMAT},
        archive={"enabled": False},
    )


def make_input(path: Path, lines: int) -> int:
    normal = read_sessions(DATA / "normal_train.txt")
    per_copy = sum(map(len, normal))
    sessions = normal * (lines // per_copy + 1)
    rendered, _ = render_sessions(sessions, seed=3, mean_gap_seconds=0.05)
    write_log(path, rendered[:lines])
    return min(lines, len(rendered))


def local_anchor(path: Path) -> dict:
    """The local engine's work on the file (file reading and state sizing not timed), with
    the driver state after every batch."""
    s = settings()
    core = DetectionCore(s.engine, s.parser, s.detectors)
    core.fill_time_forward = True
    growth = []
    lines = 0
    seconds = 0.0
    for batch in read_chunks(path, "main"):
        started = time.perf_counter()
        core.process(batch, None)
        seconds += time.perf_counter() - started
        lines += batch.num_rows
        growth.append(
            {
                "lines": lines,
                "templates": len(core.template_stats),
                "open_sessions": len(core.sessions),
                "state_bytes": len(json.dumps(core.state_dict())),
            }
        )
    return {"seconds": round(seconds, 2), "lines_per_s": round(lines / seconds), "growth": growth}


def worker(path: Path, master: str) -> dict:
    from logradar.spark.backtest import SparkBacktest
    from logradar.spark.session import spark_session

    started = time.perf_counter()
    spark_session(master, "logradar-scaling")
    session_s = time.perf_counter() - started
    engine = SparkBacktest(settings(), master=master)
    found: list = []
    started = time.perf_counter()
    summary = engine.run(path, None, found.append)
    seconds = time.perf_counter() - started
    batches = engine.timings
    latency = [b.map_s + b.reduce_s for b in batches]
    later = batches[1:] or batches
    return {
        "master": master,
        "session_start_s": round(session_s, 2),
        "seconds": round(seconds, 2),
        "lines_per_s": round(summary["lines"] / seconds),
        "anomalies": len(found),
        "micro_batches": len(batches),
        "map_s_median": round(statistics.median(b.map_s for b in batches), 3),
        "reduce_s_median": round(statistics.median(b.reduce_s for b in batches), 3),
        "rows_collected_per_batch": [b.rows for b in batches],
        "session_rows_per_batch": [b.session_rows for b in batches],
        "rows_share_after_first_batch_max": round(max(b.rows / b.lines for b in later), 4),
        "rows_share_without_sessions_after_first_batch_max": round(
            max((b.rows - b.session_rows) / b.lines for b in later), 4
        ),
        "batch_latency_s_median": round(statistics.median(latency), 3),
        "batch_latency_s_max": round(max(latency), 3),
        "map_share": round(sum(b.map_s for b in batches) / sum(latency), 3),
        "setup_s": round(seconds - sum(latency), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--masters", default="local[1],local[2]")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.input, args.worker)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "hdfs.log"
        lines = make_input(path, args.lines)
        anchor = local_anchor(path)
        runs = []
        for master in args.masters.split(","):
            done = subprocess.run(
                [sys.executable, __file__, "--worker", master, "--input", str(path)],
                capture_output=True,
                text=True,
                check=True,
            )
            runs.append(json.loads(done.stdout.strip().splitlines()[-1]))
    base = runs[0]["lines_per_s"]
    print(
        json.dumps(
            {
                "benchmark": "spark_scaling",
                "lines": lines,
                "local_engine": {k: v for k, v in anchor.items() if k != "growth"},
                "spark": runs,
                "speedup_vs_first_master": [round(r["lines_per_s"] / base, 2) for r in runs],
                "spark_over_local_lines_per_s": [
                    round(r["lines_per_s"] / anchor["lines_per_s"], 3) for r in runs
                ],
                "driver_state_growth": anchor["growth"],
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
