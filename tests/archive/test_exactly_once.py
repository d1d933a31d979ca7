"""Exactly once when a flush fails halfway: no duplicate, no loss, no orphan file."""

from __future__ import annotations

import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from logradar.archive import parquet
from logradar.archive.layout import open_dataset
from logradar.archive.parquet import ParquetArchiver
from logradar.schema import ingest_table
from logradar.tank import SqliteTank

WRITE_TABLE = pq.write_table
HOUR_NS = 3_600_000_000_000
T0 = 1_764_075_600_000_000_000  # 2025-11-25T13:00:00Z


def three_partitions(tank: SqliteTank) -> None:
    tank.append(ingest_table("web", [f"GET /a {i}" for i in range(50)], T0))
    tank.append(ingest_table("db", [f"query {i}" for i in range(30)], T0 + HOUR_NS))
    tank.append(ingest_table("web", [f"GET /b {i}" for i in range(20)], T0 + HOUR_NS))


class FailNthWrite:
    """``pq.write_table`` that raises on its ``n``-th call (once)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.n:
            raise OSError("injected: store went away")
        return WRITE_TABLE(*args, **kwargs)


def archived_offsets(root) -> list[int]:
    return sorted(open_dataset(str(root)).to_table(columns=["offset"])["offset"].to_pylist())


def test_second_file_of_a_flush_fails_then_more_lines_arrive(tmp_path, monkeypatch):
    """The seed's bug: the retry read a larger batch and left the failed attempt's files."""
    tank = SqliteTank(tmp_path / "t.db")
    three_partitions(tank)
    archiver = ParquetArchiver(tank, str(tmp_path / "archive"))
    monkeypatch.setattr(parquet.pq, "write_table", FailNthWrite(2))
    with pytest.raises(OSError, match="injected"):
        archiver.flush()
    tank.append(ingest_table("web", [f"GET /c {i}" for i in range(10)], T0))
    assert archiver.flush() == 110
    assert archived_offsets(tmp_path / "archive") == list(range(110))
    # every file on disk is one the manifest committed: a reader listing the folder agrees
    listed = ds.dataset(tmp_path / "archive", partitioning="hive").to_table(columns=["offset"])
    assert sorted(listed["offset"].to_pylist()) == list(range(110))


def test_restart_after_a_failed_flush_removes_its_files(tmp_path, monkeypatch):
    tank = SqliteTank(tmp_path / "t.db")
    three_partitions(tank)
    archiver = ParquetArchiver(tank, str(tmp_path / "archive"))
    monkeypatch.setattr(parquet.pq, "write_table", FailNthWrite(3))
    with pytest.raises(OSError, match="injected"):
        archiver.flush()
    monkeypatch.undo()
    tank.append(ingest_table("db", ["late"], T0))
    ParquetArchiver(tank, str(tmp_path / "archive")).flush()  # a restart
    listed = ds.dataset(tmp_path / "archive", partitioning="hive").to_table(columns=["offset"])
    assert sorted(listed["offset"].to_pylist()) == list(range(101))
