"""The executors' partial aggregates, merged on the driver, equal the local engine's reduce:
the Spark engine's split without Spark (each partition aggregated as an executor does)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

from logradar import backtest
from logradar.backtest import LocalBacktest
from logradar.config import load_config
from logradar.engine.aggregate import param_stride
from logradar.engine.core import DetectionCore
from logradar.schema import Anomaly
from logradar.spark.executors import MapSnapshot, map_lines
from logradar.spark.partials import PARTIAL_SCHEMA, partition_partials
from logradar.spark.reducer import SparkBatches

from .conftest import HDFS, HDFS_FORMAT, HDFS_SESSION, hdfs_settings


class PartitionedBacktest(LocalBacktest):
    """Each chunk cut into ``partitions`` (blocks of ``block`` lines dealt round-robin, so a
    partition holds several runs), aggregated per partition, reduced from the partials."""

    def __init__(self, settings, partitions: int, block: int) -> None:
        super().__init__(settings)
        self.partitions = partitions
        self.block = block
        self.rows: list[tuple[int, int]] = []

    def _replay(self, core: DetectionCore, path: Path, first_offset: int, sink: Callable) -> int:
        batches = SparkBatches(None, core, self.settings)  # type: ignore[arg-type]
        s = self.settings
        n = 0
        for chunk in backtest.read_chunks(path, self.stream, first_offset):
            snapshot = MapSnapshot(
                s.engine, s.parser, s.detectors, s.parser.log_format, core.miner.state_dict(), ""
            )
            executor = snapshot.build_core()
            stride = param_stride(chunk.num_rows, core.params_max_rows)
            table = pa.table(
                {
                    "offset": chunk.column("offset"),
                    "stream": chunk.column("stream"),
                    "record_ts": chunk.column("ts").cast(pa.int64()),
                    "message": chunk.column("message"),
                }
            )
            parts: list[pa.RecordBatch] = []
            for p in range(self.partitions):
                rows = [
                    i for i in range(table.num_rows) if (i // self.block) % self.partitions == p
                ]
                mapped = map_lines(executor, table.take(pa.array(rows, pa.int64())))
                parts += partition_partials(mapped, executor.window_ns, stride, True)
            partials = pa.Table.from_batches(parts, schema=PARTIAL_SCHEMA)
            out, lines = batches.reduce(partials, None, False, stride)
            assert lines == chunk.num_rows
            self.rows.append((lines, partials.num_rows))
            sink(out)
            n += lines
        return n


def identity(a: Anomaly) -> tuple:
    return (a.detector, a.kind, a.stream, a.template_id, a.template, a.session, a.start, a.end)


def with_headless_lines(path: Path) -> Path:
    """HDFS lines with continuation lines (no header, so no time) here and there, also first."""
    lines = HDFS.read_text(encoding="utf-8").splitlines()
    out = ["\tat org.example.Boot.main(Boot.java:1)"]
    for i, line in enumerate(lines):
        out.append(line)
        if i % 37 in (0, 1):
            out.append(f"\tat org.apache.hadoop.Stack.frame{i % 5}(Stack.java:{i})")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(("partitions", "block"), [(1, 10_000), (2, 50), (3, 7)])
def test_partials_reduce_to_the_local_engine_anomalies(tmp_path, monkeypatch, partitions, block):
    monkeypatch.setattr(backtest, "CHUNK_LINES", 500)
    source = with_headless_lines(tmp_path / "in.log")
    settings = hdfs_settings()
    local: list[Anomaly] = []
    LocalBacktest(settings).run(source, None, local.append)
    split = PartitionedBacktest(settings, partitions, block)
    found: list[Anomaly] = []
    split.run(source, None, found.append)
    assert local
    assert [a.to_dict() for a in found] == [a.to_dict() for a in local]


def test_train_then_test_and_sampled_parameters(tmp_path, monkeypatch):
    monkeypatch.setattr(backtest, "CHUNK_LINES", 700)
    lines = HDFS.read_text(encoding="utf-8").splitlines()
    train, test = tmp_path / "train.log", tmp_path / "test.log"
    train.write_text("\n".join(lines[:1000]) + "\n", encoding="utf-8")
    test.write_text("\n".join(lines[1000:]) + "\n", encoding="utf-8")
    settings = load_config(
        None,
        engine={"session_key": HDFS_SESSION},
        parser={"log_format": HDFS_FORMAT},
        detectors={"multivariate": {"enabled": False}, "params": {"max_rows_per_batch": 200}},
    )
    local: list[Anomaly] = []
    LocalBacktest(settings).run(train, test, local.append)
    found: list[Anomaly] = []
    PartitionedBacktest(settings, 2, 90).run(train, test, found.append)
    assert [a.to_dict() for a in found] == [a.to_dict() for a in local]


def test_rows_grow_with_groups_not_lines(tmp_path, monkeypatch):
    """After the first batch, a batch of dense HDFS traffic (rendered sessions, ~20 lines/s)
    sends the driver far fewer rows than it has lines."""
    from logradar.demo.hdfs_render import read_sessions, render_sessions, write_log

    monkeypatch.setattr(backtest, "CHUNK_LINES", 5000)
    sessions = read_sessions(HDFS.parents[2] / "hdfs-sessions/normal_train.txt")[:1200]
    rendered, _ = render_sessions(sessions, seed=1, mean_gap_seconds=0.05)
    write_log(tmp_path / "x.log", rendered[:15_000])
    settings = load_config(
        None,
        parser={"log_format": HDFS_FORMAT},
        detectors={"multivariate": {"enabled": False}},
    )
    split = PartitionedBacktest(settings, 2, 2500)
    split.run(tmp_path / "x.log", None, lambda a: None)
    assert all(rows < lines / 10 for lines, rows in split.rows[1:]), split.rows
