"""Lines/s of the live detection core on micro-batches shaped as the receivers store them.

Usage: .venv/bin/python benchmarks/engine_throughput.py [--batches 40] [--rows 25000]
       [--shapes lts,loki] [--profile]

The demo generator's lines (8 streams) are cut into 1,000-line requests of one stream, as
``ingest_e2e.py`` sends them, and turned into tank records the way each receiver does:

- ``lts``: one ``log_time_ns`` per request (what the LTS SDKs send), labels ``hostName``;
- ``loki``: a time per line (Promtail), three stream labels.

Requests are concatenated into micro-batches of ``--rows`` lines (``engine.max_batch_rows``)
and fed to one :class:`DetectionCore` in live mode (``now_ns`` = the batch's newest time), as
the local engine does; the clock advances 1 s of event time per 10k lines, so windows close
and detectors run. Reported per shape: lines/s (CPU time) over the timed batches (the first
``--warmup`` are not timed: templates are learned then) and the share of wall time in each
step (header split, mask, level, template match, learning, accumulate, parameters, close;
a nested step also counts in its caller's share). Anchor in the same run:
``TemplateMiner.match`` alone on the same batches (``ratio_to_anchor`` = core lines/s over
it). ``--profile`` prints the top cProfile entries. Prints JSON.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import time
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from logradar.config import Settings
from logradar.demo.generator import STREAMS, DemoSystem, LogLine
from logradar.engine import core as core_module
from logradar.engine.core import DetectionCore
from logradar.schema import ingest_table
from logradar.tank.base import number

NS = 1_000_000_000
REQUEST_LINES = 1000
START_NS = 1_764_000_000 * NS


def requests(lines_total: int) -> list[tuple[str, list[LogLine]]]:
    """Demo lines as 1,000-line requests of one stream, in the order they would arrive."""
    lines = DemoSystem(seed=11, rate=2000.0, start_ns=0).advance(int(lines_total / 2000 * NS))
    pending: dict[str, list[LogLine]] = {s: [] for s in STREAMS}
    out = []
    for line in lines:
        chunk = pending[line.stream]
        chunk.append(line)
        if len(chunk) == REQUEST_LINES:
            out.append((line.stream, chunk))
            pending[line.stream] = []
    return out


def record(shape: str, stream: str, chunk: list[LogLine], at_ns: int) -> pa.Table:
    texts = [x.text for x in chunk]
    if shape == "lts":
        return ingest_table(stream, texts, at_ns, host=stream, labels={"hostName": stream})
    labels = {"job": stream, "host": f"{stream}-1", "filename": f"/var/log/{stream}.log"}
    ts = [at_ns - at_ns % NS + x.ts_ns % NS for x in chunk]
    return ingest_table(stream, texts, ts, host=f"{stream}-1", labels=labels)


def micro_batches(shape: str, batches: int, rows: int) -> list[pa.Table]:
    per_batch = rows // REQUEST_LINES
    reqs = requests(batches * rows + 8 * REQUEST_LINES * 2)
    out, offset, clock = [], 0, START_NS
    for b in range(batches):
        tables = []
        for stream, chunk in reqs[b * per_batch : (b + 1) * per_batch]:
            clock += REQUEST_LINES * NS // 10_000
            tables.append(record(shape, stream, chunk, clock))
        batch = number(pa.concat_tables(tables), offset)
        offset += batch.num_rows
        out.append(batch)
    return out


STEPS = {
    "split": ("log_format", "split"),
    "mask": (core_module, "mask_forms"),
    "level": (core_module, "detect_level"),
    "match": ("miner", "match"),
    "learn": (None, "_learn"),
    "accumulate": (None, "_accumulate"),
    "params": (None, "_accumulate_params"),
    "sessions": (None, "_add_sessions"),
    "close": (None, "_close"),
    "peek": (None, "_peek"),
}


def instrument(core: DetectionCore, spent: dict[str, float]) -> None:
    """Wrap the core's steps to add their wall time to ``spent``."""

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - t

        return wrapper

    for name, (owner, attr) in STEPS.items():
        target = (
            core if owner is None else getattr(core, owner) if isinstance(owner, str) else owner
        )
        if hasattr(target, attr):  # (an older core, for an A/B run, may lack a step)
            setattr(target, attr, timed(name, getattr(target, attr)))


def run_shape(shape: str, args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings()
    batches = micro_batches(shape, args.batches + args.warmup, args.rows)
    core = DetectionCore(settings.engine, settings.parser, settings.detectors)
    for batch in batches[: args.warmup]:
        core.process(batch, now_ns=batch["ts"].cast(pa.int64()).to_numpy().max())
    timed = batches[args.warmup :]
    lines = sum(b.num_rows for b in timed)

    anchor_started = time.process_time()
    for batch in timed:
        core.miner.match(batch["message"])
    anchor = lines / (time.process_time() - anchor_started)

    spent: dict[str, float] = {}
    real = {
        n: getattr(core_module, n)
        for n in ("detect_level", "mask_forms")
        if hasattr(core_module, n)
    }
    instrument(core, spent)
    profiler = cProfile.Profile() if args.profile else None
    started, cpu = time.perf_counter(), time.process_time()
    anomalies = 0
    try:
        if profiler:
            profiler.enable()
        for batch in timed:
            now = int(batch["ts"].cast(pa.int64()).to_numpy().max())
            anomalies += len(core.process(batch, now_ns=now).anomalies)
        if profiler:
            profiler.disable()
    finally:
        for name, function in real.items():
            setattr(core_module, name, function)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    result: dict[str, Any] = {
        "shape": shape,
        "lines": lines,
        "lines_per_s": round(lines / cpu),
        "wall_lines_per_s": round(lines / wall),
        "anchor_match_lines_per_s": round(anchor),
        "ratio_to_anchor": round(lines / cpu / anchor, 3),
        "anomalies": anomalies,
        "share": {k: round(v / wall, 3) for k, v in sorted(spent.items(), key=lambda x: -x[1])},
    }
    if profiler:
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(25)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=4)
    parser.add_argument("--rows", type=int, default=25_000)
    parser.add_argument("--shapes", default="lts,loki")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    results = [run_shape(shape, args) for shape in args.shapes.split(",")]
    print(
        json.dumps(
            {"machine": {"cpus": os.cpu_count(), "load": os.getloadavg()}, "results": results},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
