"""Template-mining throughput: logradar vs Drain3 on the same mixed input, in the same run.

Usage:
  .venv/bin/python benchmarks/parse_throughput.py                     # 500k lines, both tools
  .venv/bin/python benchmarks/parse_throughput.py --lines 10000000 --no-drain3

The input comes from benchmarks/_mixed_input.py (loghub-2k messages of all 8 systems with
re-sampled parameters); both tools get the same messages (headers already removed), each
starts from an empty state. Drain3 uses its example configuration (masking of ids, IPs,
hex, numbers; sim_th 0.4, depth 4). Only parsing is timed, not input generation. For
large --lines the input is generated and parsed batch by batch, so memory stays bounded;
peak RSS is the whole process's. Prints JSON.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time

import pyarrow as pa

from _loghub import drain3_miner
from _mixed_input import MixedInput
from logradar.parse.templates import TemplateMiner


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def time_logradar(batches) -> tuple[float, int, int]:
    miner = TemplateMiner()
    seconds = 0.0
    lines = 0
    for batch in batches:
        arr = batch if isinstance(batch, pa.Array) else pa.array(batch, pa.string())
        t0 = time.perf_counter()
        miner.parse(arr)
        seconds += time.perf_counter() - t0
        lines += len(arr)
    active = sum(t.replaced_by is None for t in miner.templates())
    return seconds, lines, active


def time_drain3(batches: list[list[str]]) -> tuple[float, int, int]:
    miner = drain3_miner()
    add = miner.add_log_message
    lines = 0
    t0 = time.perf_counter()
    for batch in batches:
        for line in batch:
            add(line)
        lines += len(batch)
    return time.perf_counter() - t0, lines, len(miner.drain.clusters)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--lines", type=int, default=500_000)
    ap.add_argument("--batch", type=int, default=100_000, help="lines per parse() call")
    ap.add_argument("--no-drain3", action="store_true", help="only logradar (large --lines)")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    source = MixedInput(args.seed)
    report: dict[str, object] = {
        "lines": args.lines,
        "batch": args.batch,
        "python": platform.python_version(),
    }
    if args.no_drain3:
        seconds, lines, templates = time_logradar(source.batches(args.lines, args.batch))
    else:
        batches = list(source.batches(args.lines, args.batch))
        arrays = [pa.array(b, pa.string()) for b in batches]
        seconds, lines, templates = time_logradar(arrays)
        d_seconds, d_lines, d_clusters = time_drain3(batches)
        report["drain3"] = {
            "seconds": round(d_seconds, 3),
            "lines_per_s": round(d_lines / d_seconds),
            "clusters": d_clusters,
        }
    report["logradar"] = {
        "seconds": round(seconds, 3),
        "lines_per_s": round(lines / seconds),
        "templates": templates,
    }
    if "drain3" in report:
        report["ratio"] = round(
            report["logradar"]["lines_per_s"] / report["drain3"]["lines_per_s"], 1
        )
    report["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
