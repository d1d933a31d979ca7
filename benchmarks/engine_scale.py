"""Engine cost per template-window at scale, and on sparse timelines, against the scalar code.

Three measurements, each run on this code and, as the anchor in the same run, on the code of
``--anchor`` (default 8356e83, the scalar detectors; extracted with ``git archive`` and run
in a subprocess with that source first on the path):

* ``scale``: synthetic 1,000 streams x 200 templates at 10-s windows, Zipf counts over the
  templates (s = 1.1, ~2,000 lines per stream-window at the head). The reduce step's inputs
  (:func:`~logradar.engine.aggregate.window_groups` rows) are absorbed and the windows closed
  by a clock tick, as the live engine does; CPU of the close (all window detectors) per
  simulated 10 s and per template-window. The anchor runs fewer streams (its cost per
  template-window does not depend on the stream count) to keep the run short.
* ``sparse``: ``logradar backtest`` on a multi-day stream at ~1 line/s with 300 templates,
  and ``logradar parse`` (the template miner) on the same lines: backtest lines/s as a share
  of parse lines/s.
* ``gap``: live engine, 5,000 lines one hour apart on one stream, then one line of a second
  stream: the CPU seconds until the second stream's window closes.

    python benchmarks/engine_scale.py [--streams 1000] [--templates 200] [--windows 20]
        [--anchor 8356e83] [--sparse-days 2] [--anchor-sparse-days 0.25]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

NS = 1_000_000_000
W = 10 * NS
T0 = 1_800_000_000 * NS // W * W
REPO = Path(__file__).resolve().parents[1]


def zipf_counts(rng: random.Random, templates: int, head: float) -> list[int]:
    """Counts per template for one window: Poisson-ish around ``head / rank**1.1``."""
    out = []
    for rank in range(1, templates + 1):
        mean = head / rank**1.1
        out.append(max(0, round(rng.gauss(mean, mean**0.5))) if mean > 5 else _poisson(rng, mean))
    return out


def _poisson(rng: random.Random, mean: float) -> int:
    k, p, limit = 0, 1.0, pow(2.718281828459045, -mean)
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def scale(streams: int, templates: int, windows: int, warmup: int) -> dict[str, float]:
    """CPU of closing ``windows`` windows of ``streams`` streams (after ``warmup`` ones)."""
    import pyarrow as pa

    from logradar.config import Settings
    from logradar.engine.aggregate import WINDOW_GROUP_COLUMNS
    from logradar.engine.core import DetectionCore

    s = Settings(engine={"early_evaluation": False, "learning_seconds": 0})
    core = DetectionCore(s.engine, s.parser, s.detectors)
    rng = random.Random(1)
    names = [f"s{i:04d}" for i in range(streams)]
    letters = "abcdefghijklmnopqrstuvwxyz"
    shapes = [
        " ".join("".join(rng.choice(letters) for _ in range(6)) for _ in range(1 + t % 9))
        for t in range(templates)
    ]
    ids = core.miner.parse(pa.array(shapes)).to_pylist()
    close_cpu, series = 0.0, 0
    for w in range(warmup + windows):
        start = T0 + w * W
        cols: dict[str, list] = {c: [] for c in WINDOW_GROUP_COLUMNS}
        for name in names:
            counts = zipf_counts(rng, templates, 2000.0)
            if w == 0:
                counts = [max(1, c) for c in counts]  # every template seen once
            for t, n in enumerate(counts):
                tid = ids[t]
                if n:
                    for c, v in zip(
                        WINDOW_GROUP_COLUMNS,
                        (name, start, tid, n, 0, start, start, f"line {tid}", None),
                        strict=True,
                    ):
                        cols[c].append(v)
        core.absorb_windows(pa.table(cols))
        before = time.process_time()
        out = core.tick(start + W + core.lateness_ns)
        elapsed = time.process_time() - before
        if w >= warmup:
            close_cpu += elapsed
            series += len(out.windows) * (templates + 1)
    return {
        "streams": streams,
        "templates": templates,
        "distinct_template_ids": len(set(ids)),
        "windows": windows,
        "template_windows": series,
        "cpu_seconds": round(close_cpu, 3),
        "us_per_template_window": round(close_cpu / series * 1e6, 3),
        "cpu_seconds_per_10s_at_1000x200": round(close_cpu / series * 1000 * 201, 3),
    }


def sparse_file(path: Path, days: float, templates: int) -> int:
    """A stream at ~1 line/s over ``days`` with ``templates`` statement shapes (Zipf)."""
    rng = random.Random(2)
    weights = [1 / r**1.1 for r in range(1, templates + 1)]
    t, end, n = 1_800_000_000.0, 1_800_000_000.0 + days * 86400, 0
    with open(path, "w", encoding="utf-8") as f:
        while t < end:
            t += rng.expovariate(1.0)
            k = rng.choices(range(templates), weights)[0]
            stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))
            f.write(
                f"{stamp} INFO svc{k % 7}: op{k} step {k * 3} done in {rng.randint(1, 900)} ms\n"
            )
            n += 1
    return n


SPARSE_FORMAT = "<Date> <Time> <Level> <Component>: <Content>"


def sparse(path: Path) -> dict[str, float]:
    """Backtest lines/s on ``path`` and template-miner (``parse``) lines/s on its messages."""
    import pyarrow as pa

    from logradar.backtest import run_backtest
    from logradar.parse.formats import LogFormat
    from logradar.parse.templates import TemplateMiner

    lines = path.read_text(encoding="utf-8").splitlines()
    started = time.perf_counter()
    messages = LogFormat.compile(SPARSE_FORMAT).split(pa.array(lines)).column("message")
    TemplateMiner().parse(messages)
    parse_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        summary = run_backtest(path, None, Path(tmp) / "out.jsonl", log_format=SPARSE_FORMAT)
    return {
        "lines": len(lines),
        "parse_lines_per_second": round(len(lines) / parse_s),
        "backtest_seconds": summary["seconds"],
        "backtest_lines_per_second": summary["lines_per_second"],
        "share_of_parse": round(summary["lines_per_second"] * parse_s / len(lines), 4),
    }


def _records(messages: list[str], ts: list[int], stream: str, first: int):
    import pyarrow as pa

    from logradar.schema import RECORD_SCHEMA, TIMESTAMP

    n = len(messages)
    times = pa.array(ts, pa.int64()).cast(TIMESTAMP)
    return pa.table(
        [
            pa.array(range(first, first + n), pa.int64()),
            pa.array([stream] * n),
            times,
            times,
            pa.nulls(n, pa.string()),
            pa.nulls(n, pa.string()),
            pa.array(messages),
        ],
        schema=RECORD_SCHEMA,
    )


def gap(lines: int) -> dict[str, float]:
    """Live: ``lines`` lines one hour apart on one stream, then a line of another stream;
    CPU until the other stream's window has closed."""
    from logradar.config import Settings
    from logradar.engine.core import DetectionCore

    s = Settings(engine={"learning_seconds": 0})
    core = DetectionCore(s.engine, s.parser, s.detectors)
    now = T0 + lines * 3600 * NS
    old = _records(
        [f"tick {i}" for i in range(lines)], [T0 + i * 3600 * NS for i in range(lines)], "old", 0
    )
    other = _records(["FATAL disk failed"], [now], "other", lines)
    before = time.process_time()
    windows = core.process(old, now).windows
    windows += core.process(other, now + W + core.lateness_ns).windows
    cpu = time.process_time() - before
    return {
        "lines_one_hour_apart": lines,
        "cpu_seconds_until_other_closes": round(cpu, 3),
        "other_closed": any(w.stream == "other" for w in windows),
    }


def anchor_src(commit: str, into: Path) -> Path:
    archive = into / "src.tar"
    with open(archive, "wb") as f:
        subprocess.run(["git", "-C", str(REPO), "archive", commit, "src"], stdout=f, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def run_part(src: Path, part: str, args: list[str]) -> dict:
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run(
        [sys.executable, __file__, "--part", part, *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--anchor-streams", type=int, default=20)
    parser.add_argument("--templates", type=int, default=200)
    parser.add_argument("--windows", type=int, default=20)
    parser.add_argument("--anchor", default="8356e83")
    parser.add_argument("--sparse-days", type=float, default=2.0)
    parser.add_argument("--sparse-templates", type=int, default=300)
    parser.add_argument(
        "--anchor-sparse-days", type=float, default=0.25, help="shorter: the anchor is slow"
    )
    parser.add_argument("--gap-lines", type=int, default=5000)
    parser.add_argument(
        "--anchor-gap-lines", type=int, default=30, help="fewer: the anchor takes minutes"
    )
    parser.add_argument("--part", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    a = parser.parse_args()
    if a.part == "scale":
        print(json.dumps(scale(a.streams, a.templates, a.windows, warmup=12)))
        return
    if a.part == "sparse":
        print(json.dumps(sparse(Path(a.file))))
        return
    if a.part == "gap":
        print(json.dumps(gap(a.gap_lines)))
        return
    src = REPO / "src"
    result: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        old = anchor_src(a.anchor, Path(tmp))
        scale_args = ["--templates", str(a.templates), "--windows", str(a.windows)]
        new = run_part(src, "scale", ["--streams", str(a.streams), *scale_args])
        ref = run_part(old, "scale", ["--streams", str(a.anchor_streams), *scale_args])
        result["scale"] = {
            "this": new,
            "anchor": ref,
            "speedup": round(ref["us_per_template_window"] / new["us_per_template_window"], 1),
        }
        path, short = Path(tmp) / "sparse.log", Path(tmp) / "sparse-short.log"
        sparse_file(path, a.sparse_days, a.sparse_templates)
        sparse_file(short, a.anchor_sparse_days, a.sparse_templates)
        result["sparse"] = {
            "days": a.sparse_days,
            "this": run_part(src, "sparse", ["--file", str(path)]),
            "anchor_days": a.anchor_sparse_days,
            "anchor": run_part(old, "sparse", ["--file", str(short)]),
            "this_on_anchor_days": run_part(src, "sparse", ["--file", str(short)]),
        }
        gap_args = ["--gap-lines", str(a.gap_lines)]
        result["gap"] = {"this": run_part(src, "gap", gap_args)}
        if a.anchor_gap_lines:
            anchor_args = ["--gap-lines", str(a.anchor_gap_lines)]
            result["gap"]["anchor"] = run_part(old, "gap", anchor_args)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
