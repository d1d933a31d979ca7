"""Keyed state prototype: per-stream window state in Spark's keyed streaming state
(``applyInPandasWithState``) against the driver reduce that holds it today.

What would move: absorbing a micro-batch's window partials (per stream, window, template: a
count) into per-stream open windows. Input: ``--batches`` micro-batches of window partial rows
for ``--streams`` streams (``--templates`` templates each, ``--windows`` windows per batch), as
Parquet files read by a streaming query, one file per trigger.

- ``keyed``: ``groupBy("stream").applyInPandasWithState`` merges the rows of each stream into
  its state (a JSON map of window -> template -> count) on the executors; per-batch time from
  the query's progress (``triggerExecution``), and the same for a no-op stateless query over
  the same files (``stateless``: the floor every streaming batch pays).
- ``driver``: the same merge done in the driver process with plain dicts (what
  :meth:`DetectionCore.absorb_windows` does per row), timed per batch.

Run: ``.venv/bin/python benchmarks/spark_keyed_state.py [--master local[2]]`` (prints JSON).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


def write_batches(folder: Path, batches: int, streams: int, templates: int, windows: int) -> int:
    """One Parquet file per batch; returns rows per batch."""
    folder.mkdir(parents=True)
    rows = streams * templates * windows
    for b in range(batches):
        stream = np.repeat(np.arange(streams), templates * windows)
        window = np.tile(np.repeat(np.arange(windows) + b * windows, templates), streams)
        template = np.tile(np.arange(templates), streams * windows)
        pq.write_table(
            pa.table(
                {
                    "stream": pa.array([f"s{i}" for i in stream]),
                    "window": pa.array(window * 10**10, pa.int64()),
                    "template_id": pa.array(template, pa.int64()),
                    "count": pa.array(np.full(rows, 7), pa.int64()),
                }
            ),
            folder / f"batch-{b:05d}.parquet",
        )
    return rows


def driver_merge(folder: Path) -> list[float]:
    state: dict[str, dict[int, dict[int, int]]] = {}
    seconds = []
    for path in sorted(folder.glob("*.parquet")):
        table = pq.read_table(path)
        started = time.perf_counter()
        for s, w, t, n in zip(
            *(table.column(c).to_pylist() for c in ("stream", "window", "template_id", "count")),
            strict=True,
        ):
            counts = state.setdefault(s, {}).setdefault(w, {})
            counts[t] = counts.get(t, 0) + n
        seconds.append(time.perf_counter() - started)
    return seconds


def merge_stream(key: tuple, frames: Iterator, state) -> Iterator:
    """``applyInPandasWithState`` function: one stream's rows into its window map."""
    import pandas as pd

    windows = json.loads(state.get[0]) if state.exists else {}
    for frame in frames:
        for w, t, n in zip(frame["window"], frame["template_id"], frame["count"], strict=True):
            counts = windows.setdefault(str(w), {})
            counts[str(t)] = counts.get(str(t), 0) + int(n)
    state.update((json.dumps(windows),))
    yield pd.DataFrame({"stream": [key[0]], "windows": [len(windows)]})


def spark_runs(folder: Path, master: str, checkpoints: Path) -> dict[str, list[float]]:
    from pyspark.sql.streaming.state import GroupStateTimeout

    from logradar.spark.session import spark_session

    spark = spark_session(master, "logradar-keyed-state", {"spark.sql.shuffle.partitions": "2"})
    schema = "stream STRING, window BIGINT, template_id BIGINT, count BIGINT"
    out: dict[str, list[float]] = {}
    for name in ("stateless", "keyed"):
        source = (
            spark.readStream.schema(schema).option("maxFilesPerTrigger", 1).parquet(str(folder))
        )
        if name == "keyed":
            source = source.groupBy("stream").applyInPandasWithState(
                merge_stream,
                "stream STRING, windows BIGINT",
                "windows STRING",
                "update",
                GroupStateTimeout.NoTimeout,
            )
        query = (
            source.writeStream.format("noop")
            .outputMode("update")
            .option("checkpointLocation", str(checkpoints / name))
            .trigger(availableNow=True)
            .start()
        )
        query.awaitTermination()
        progress = [p["durationMs"]["triggerExecution"] / 1000 for p in query.recentProgress]
        out[name] = progress[1:]  # the first batch includes query start-up
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--batches", type=int, default=12)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--templates", type=int, default=20)
    parser.add_argument("--windows", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        rows = write_batches(folder, args.batches, args.streams, args.templates, args.windows)
        driver = driver_merge(folder)
        spark = spark_runs(folder, args.master, Path(tmp) / "cp")
    med = {k: statistics.median(v) for k, v in {"driver": driver, **spark}.items()}
    print(
        json.dumps(
            {
                "benchmark": "spark_keyed_state",
                "master": args.master,
                "rows_per_batch": rows,
                "streams": args.streams,
                "batch_s_median": {k: round(v, 4) for k, v in med.items()},
                "keyed_over_driver": round(med["keyed"] / med["driver"], 1),
                "keyed_minus_stateless_s": round(med["keyed"] - med["stateless"], 3),
                "driver_rows_per_s": round(rows / med["driver"]),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
