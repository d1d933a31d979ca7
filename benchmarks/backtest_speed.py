"""Lines/s of `logradar backtest` (the whole engine) on ~1M rendered HDFS lines.

The input is rendered HDFS sessions (normal ones, repeated with fresh block ids and times),
with the HDFS header format and the block id as session key, so every part of the engine
works: header split, masking and template matching, windows, sessions, all detectors. The
anchor, in the same run on the same file, is the template miner alone (`TemplateMiner.parse`
on the messages), so the ratio shows what detection costs on top of parsing.

    python benchmarks/backtest_speed.py [--lines 1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from logradar.backtest import run_backtest
from logradar.demo.hdfs_render import HDFS_FORMAT, SESSION_KEY, read_sessions, render_sessions
from logradar.parse.formats import LogFormat
from logradar.parse.templates import TemplateMiner

SESSIONS = Path(__file__).resolve().parents[2] / "shared/datasets/hdfs-sessions/normal_train.txt"


def render(path: Path, lines: int) -> int:
    sessions = read_sessions(SESSIONS)
    written, seed = 0, 0
    with open(path, "w", encoding="utf-8") as f:
        while written < lines:
            rng = random.Random(seed)
            chunk = rng.sample(sessions, len(sessions))
            rendered, _ = render_sessions(chunk, seed=seed)
            take = rendered[: lines - written]
            f.writelines(line + "\n" for line in take)
            written += len(take)
            seed += 1
    return written


def parse_only(path: Path) -> float:
    """Seconds for header split + template mining of the file (the anchor)."""
    fmt = LogFormat.compile(HDFS_FORMAT)
    miner = TemplateMiner()
    started = time.perf_counter()
    with open(path, encoding="utf-8") as f:
        while chunk := [line.rstrip("\n") for _, line in zip(range(100_000), f, strict=False)]:
            miner.parse(fmt.split(pa.array(chunk)).column("message"))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "hdfs.log"
        n = render(log, args.lines)
        anchor = parse_only(log)
        summary = run_backtest(
            log, None, Path(tmp) / "out.jsonl", log_format=HDFS_FORMAT, session_key=SESSION_KEY
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "lines": n,
                "backtest_seconds": summary["seconds"],
                "backtest_lines_per_s": summary["lines_per_second"],
                "anomalies": summary["anomalies"],
                "anchor_parse_only_lines_per_s": round(n / anchor),
                "ratio_backtest_over_parse_only": round(
                    summary["lines"] / summary["seconds"] * anchor / n, 3
                ),
                "peak_rss_mb": round(rss),
                "machine": f"{os.cpu_count()} cores, shared",
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
