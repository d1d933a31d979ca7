"""Training speed and feedback overhead; prints JSON.

* ``train``: ``logradar.engine.train.train`` over a Parquet archive of loghub-2k HDFS lines
  (repeated, spread over 2 hours), against the anchor of the same detection core replaying
  the same records from memory: the ratio is the cost of reading the archive in time order.
* ``feedback_apply``: one engine step's feedback poll (``Feedback.apply``: a query for new
  marks, nothing new) with 1,000 marks already accepted, against the anchor of an engine step
  over an empty tank (``LocalEngine.step``, feedback included).

    .venv/bin/python benchmarks/feedback_train.py [--repeat 25]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pyarrow as pa

from logradar.archive.parquet import ParquetArchiver
from logradar.config import Settings
from logradar.engine.core import DetectionCore
from logradar.engine.feedback import Feedback
from logradar.engine.train import train
from logradar.pipeline import Pipeline
from logradar.schema import Anomaly, Severity, ingest_table
from logradar.tank import SqliteTank

HDFS = Path(__file__).resolve().parents[2] / "shared/datasets/loghub-2k/HDFS/HDFS_2k.log"
S = 10**9
T0 = 1_700_000_000 * S


def _archive(settings: Settings, lines: list[str]) -> pa.Table:
    """Write ``lines`` (one every 2 h / len) to the tank and archive; return the records."""
    tank = SqliteTank(settings.tank_path)
    step = 2 * 3600 * S // len(lines)
    for start in range(0, len(lines), 10_000):
        chunk = lines[start : start + 10_000]
        ts = [T0 + (start + i) * step for i in range(len(chunk))]
        tank.append(ingest_table("hdfs", chunk, ts))
    ParquetArchiver(tank, settings.archive_url).flush()
    records = tank.read(-1, len(lines))
    tank.close()
    return records


def bench_train(repeat: int, tmp: Path) -> dict[str, float]:
    settings = Settings(data_dir=tmp / "train")
    settings.data_dir.mkdir(parents=True)
    lines = HDFS.read_text(encoding="utf-8", errors="replace").splitlines() * repeat
    records = _archive(settings, lines)

    core = DetectionCore(settings.engine, settings.parser, settings.detectors)
    core.learning_override = True
    started = time.perf_counter()
    size = settings.engine.max_batch_rows
    for i in range(0, records.num_rows, size):
        core.process(records.slice(i, size))
    core.finish()
    anchor = time.perf_counter() - started

    started = time.perf_counter()
    result = train(settings)
    seconds = time.perf_counter() - started
    return {
        "lines": result.lines,
        "anchor_core_lines_per_s": round(len(lines) / anchor),
        "train_lines_per_s": round(result.lines / seconds),
        "train_over_anchor_time": round(seconds / anchor, 3),
    }


def bench_feedback(tmp: Path, calls: int = 300) -> dict[str, float]:
    pipeline = Pipeline(Settings(data_dir=tmp / "feedback"))
    store, engine = pipeline.store, pipeline.engine
    marks = [
        Anomaly("frequency", "spike", "web", i * S, i * S + S, 0.9, Severity.HIGH, "x", i)
        for i in range(1000)
    ]
    for anomaly_id, _ in store.add_anomalies(marks):
        store.mark_expected(anomaly_id, 0)
    engine.step(None)  # accepts the 1,000 marks
    feedback: Feedback = engine.feedback
    assert len(feedback.accepted) == 1000

    started = time.perf_counter()
    for _ in range(calls):
        engine.step(None)
    step = (time.perf_counter() - started) / calls
    started = time.perf_counter()
    for _ in range(calls):
        feedback.apply(store, engine.core)
    apply = (time.perf_counter() - started) / calls
    pipeline.stop()
    return {
        "empty_step_us": round(step * 1e6, 1),
        "feedback_apply_us": round(apply * 1e6, 1),
        "apply_share_of_empty_step": round(apply / step, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=25, help="Copies of the 2k lines.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = {
            "train": bench_train(args.repeat, Path(tmp)),
            "feedback_apply": bench_feedback(Path(tmp)),
        }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
