"""Template-mining throughput: logradar vs Drain3 on the same mixed input, in the same run.

Usage:
  .venv/bin/python benchmarks/parse_throughput.py                     # 500k lines, both tools
  .venv/bin/python benchmarks/parse_throughput.py --lines 10000000 --no-drain3
  .venv/bin/python benchmarks/parse_throughput.py --cli    # `logradar parse` end to end

``--cli`` writes the mixed input to a file and times ``logradar parse FILE -o out.csv`` end to
end (read, split, detect the header, mask, mine, write CSV): once in-process (the command
function, imports excluded: the parse path itself) and once as a fresh process (CLI start-up
included); Drain3 parses the same lines in the same run.

The input comes from benchmarks/_mixed_input.py (loghub-2k messages of all 8 systems with
re-sampled parameters); both tools get the same messages (headers already removed), each
starts from an empty state. Drain3 uses its example configuration (masking of ids, IPs,
hex, numbers; sim_th 0.4, depth 4). Only parsing is timed, not input generation. Both CPU
time (``time.process_time``, robust on a shared machine) and wall time are reported; the
ratio uses CPU time, and logradar's figure is the median of ``--repeat`` fresh runs. For
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


def time_logradar(batches) -> dict[str, float]:
    miner = TemplateMiner()
    cpu = wall = 0.0
    lines = 0
    for batch in batches:
        arr = batch if isinstance(batch, pa.Array) else pa.array(batch, pa.string())
        c0, w0 = time.process_time(), time.perf_counter()
        miner.parse(arr)
        cpu += time.process_time() - c0
        wall += time.perf_counter() - w0
        lines += len(arr)
    active = sum(t.replaced_by is None for t in miner.templates())
    return _figures(lines, cpu, wall) | {"templates": active}


def time_drain3(batches: list[list[str]]) -> dict[str, float]:
    miner = drain3_miner()
    add = miner.add_log_message
    lines = sum(len(b) for b in batches)
    c0, w0 = time.process_time(), time.perf_counter()
    for batch in batches:
        for line in batch:
            add(line)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    return _figures(lines, cpu, wall) | {"clusters": len(miner.drain.clusters)}


def _figures(lines: int, cpu: float, wall: float) -> dict[str, float]:
    return {
        "cpu_seconds": round(cpu, 3),
        "wall_seconds": round(wall, 3),
        "lines_per_cpu_s": round(lines / cpu),
        "lines_per_wall_s": round(lines / wall),
    }


def time_cli(lines: list[str]) -> dict[str, object]:
    """``logradar parse`` on a file of ``lines``: in-process and as a fresh process."""
    import os
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from click.testing import CliRunner

    from logradar.commands.parse import parse_command

    out: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as tmp:
        log, csv = Path(tmp) / "in.log", Path(tmp) / "out.csv"
        log.write_text("\n".join(lines) + "\n", encoding="utf-8")
        c0, w0 = time.process_time(), time.perf_counter()
        result = CliRunner().invoke(parse_command, [str(log), "-o", str(csv)])
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        if result.exit_code != 0:
            raise SystemExit(result.output)
        out["in_process"] = _figures(len(lines), cpu, wall)
        exe = Path(sys.executable).with_name("logradar")
        w0 = time.perf_counter()
        before = os.times()
        subprocess.run([str(exe), "parse", str(log), "-o", str(csv)], check=True)
        after = os.times()
        wall = time.perf_counter() - w0
        cpu = (after.children_user - before.children_user) + (
            after.children_system - before.children_system
        )
        out["process"] = _figures(len(lines), cpu, wall)
        out["output_mb"] = round(csv.stat().st_size / 2**20, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--lines", type=int, default=500_000)
    ap.add_argument("--batch", type=int, default=100_000, help="lines per parse() call")
    ap.add_argument("--no-drain3", action="store_true", help="only logradar (large --lines)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3, help="fresh logradar runs (median)")
    ap.add_argument("--cli", action="store_true", help="time `logradar parse` end to end")
    args = ap.parse_args()
    source = MixedInput(args.seed)
    if args.cli:
        batches = list(source.batches(args.lines, args.batch))
        report = {"lines": args.lines, **time_cli([line for b in batches for line in b])}
        report["drain3"] = time_drain3(batches)
        for mode in ("in_process", "process"):
            ours = report[mode]
            report[f"ratio_{mode}_wall"] = round(
                ours["lines_per_wall_s"] / report["drain3"]["lines_per_wall_s"], 1
            )
            report[f"ratio_{mode}_cpu"] = round(
                ours["lines_per_cpu_s"] / report["drain3"]["lines_per_cpu_s"], 1
            )
        print(json.dumps(report, indent=2))
        return
    report: dict[str, object] = {
        "lines": args.lines,
        "batch": args.batch,
        "python": platform.python_version(),
    }
    if args.no_drain3:
        report["logradar"] = time_logradar(source.batches(args.lines, args.batch))
    else:
        batches = list(source.batches(args.lines, args.batch))
        arrays = [pa.array(b, pa.string()) for b in batches]
        runs = sorted(
            (time_logradar(arrays) for _ in range(args.repeat)), key=lambda r: r["cpu_seconds"]
        )
        report["logradar"] = runs[len(runs) // 2]
        report["drain3"] = time_drain3(batches)
        ours, theirs = report["logradar"], report["drain3"]
        report["ratio_cpu"] = round(ours["lines_per_cpu_s"] / theirs["lines_per_cpu_s"], 1)
        report["ratio_wall"] = round(ours["lines_per_wall_s"] / theirs["lines_per_wall_s"], 1)
    report["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
