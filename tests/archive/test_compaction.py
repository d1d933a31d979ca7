"""Bounded files per flush, compaction of closed hours, archive retention, metrics."""

from __future__ import annotations

import collections

import pyarrow.dataset as ds
import pytest

from logradar.archive.layout import open_dataset
from logradar.archive.parquet import ParquetArchiver
from logradar.config import ArchiveConfig
from logradar.metrics import Metrics
from logradar.schema import ingest_table
from logradar.tank import SqliteTank

HOUR_NS = 3_600_000_000_000
T0 = 1_764_075_600_000_000_000  # 2025-11-25T13:00:00Z
NOW = T0 + 48 * HOUR_NS


def offsets(root) -> list[int]:
    return sorted(open_dataset(str(root)).to_table(columns=["offset"])["offset"].to_pylist())


def parquet_files(root) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.parquet"))


def test_one_request_over_600_hours_is_written_in_bounded_flushes(tmp_path):
    tank = SqliteTank(tmp_path / "t.db")
    hours = [T0 - i * HOUR_NS for i in range(600)]
    tank.append(ingest_table("old", [f"l{i}" for i in range(600)], hours))
    metrics = Metrics()
    archiver = ParquetArchiver(
        tank, str(tmp_path / "a"), ArchiveConfig(max_files_per_flush=150), metrics=metrics
    )
    flushes = 0
    while archiver.flush_once():
        flushes += 1
        assert archiver.last_flush_files <= 150
    assert flushes == 4
    assert offsets(tmp_path / "a") == list(range(600))
    assert metrics.lines_archived._value.get() == 600
    assert metrics.archive_files._value.get() == 600
    assert metrics.archive_bytes._value.get() > 0


def test_compaction_merges_closed_hours_atomically(tmp_path):
    tank = SqliteTank(tmp_path / "t.db")
    cfg = ArchiveConfig(compact_after_seconds=600)
    archiver = ParquetArchiver(tank, str(tmp_path / "a"), cfg, metrics=(metrics := Metrics()))
    for i in range(6):  # six flushes into the same two hours, one hour still open
        tank.append(ingest_table("web", [f"a{i}", f"b{i}"], T0 + i))
        tank.append(ingest_table("web", [f"c{i}"], T0 + HOUR_NS + i))
        tank.append(ingest_table("db", [f"d{i}"], NOW))
        archiver.flush()
    assert len(parquet_files(tmp_path / "a")) == 18
    before = open_dataset(str(tmp_path / "a"))  # a reader that listed before the swap
    assert archiver.compact(NOW) == 2  # the hour of NOW is open: not compacted
    files = parquet_files(tmp_path / "a")
    per_hour = collections.Counter(f.rsplit("/", 1)[0] for f in files)
    assert per_hour == {
        "stream=web/date=2025-11-25/hour=13": 1,
        "stream=web/date=2025-11-25/hour=14": 1,
        "stream=db/date=2025-11-27/hour=13": 6,
    }
    assert offsets(tmp_path / "a") == list(range(24))
    listed = ds.dataset(tmp_path / "a", partitioning="hive").to_table(columns=["offset"])
    assert sorted(listed["offset"].to_pylist()) == list(range(24))  # old files are gone
    with pytest.raises(FileNotFoundError):  # a reader that listed before fails, never doubles
        before.to_table()
    assert metrics.archive_compactions._value.get() == 2
    assert archiver.compact(NOW) == 0


def test_crash_during_compaction(tmp_path, monkeypatch):
    tank = SqliteTank(tmp_path / "t.db")
    archiver = ParquetArchiver(tank, str(tmp_path / "a"))
    for i in range(3):
        tank.append(ingest_table("web", [f"a{i}"], T0))
        archiver.flush()

    def die(*args, **kwargs):
        raise SystemExit("killed after writing the merged file, before the manifest")

    monkeypatch.setattr(archiver.manifest, "commit", die)
    with pytest.raises(SystemExit):
        archiver.compact(NOW)
    assert len(parquet_files(tmp_path / "a")) == 4  # three parts and the uncommitted merge
    assert offsets(tmp_path / "a") == [0, 1, 2]  # readers see the committed files only
    restarted = ParquetArchiver(tank, str(tmp_path / "a"))
    restarted.flush()
    assert len(parquet_files(tmp_path / "a")) == 3
    assert restarted.compact(NOW) == 1
    assert parquet_files(tmp_path / "a")[0].endswith("compact-00000000000000000004.parquet")
    assert offsets(tmp_path / "a") == [0, 1, 2]


def test_retention_drops_old_hours(tmp_path):
    tank = SqliteTank(tmp_path / "t.db")
    archiver = ParquetArchiver(tank, str(tmp_path / "a"), ArchiveConfig(retention_days=1))
    tank.append(ingest_table("web", ["old"], T0))
    tank.append(ingest_table("web", ["new"], NOW - HOUR_NS))
    archiver.flush()
    assert archiver.expire(NOW) == 1
    table = open_dataset(str(tmp_path / "a")).to_table()
    assert table.column("message").to_pylist() == ["new"]
    assert parquet_files(tmp_path / "a") == [
        "stream=web/date=2025-11-27/hour=12/part-00000000000000000000-00000000000000000001.parquet"
    ]


def test_manifest_checkpoint_keeps_the_state(tmp_path, monkeypatch):
    from logradar.archive import parquet

    monkeypatch.setattr(parquet, "CHECKPOINT_EVERY", 3)
    tank = SqliteTank(tmp_path / "t.db")
    archiver = ParquetArchiver(tank, str(tmp_path / "a"))
    for i in range(4):
        tank.append(ingest_table("web", [f"a{i}"], T0 + i * HOUR_NS))
        archiver.flush()
    archiver.maintain(T0)
    entries = sorted(p.name for p in (tmp_path / "a" / "_manifest").iterdir())
    assert entries == ["00000000000000000004.checkpoint.json"]
    tank.append(ingest_table("web", ["z"], T0))
    archiver.flush()
    assert offsets(tmp_path / "a") == list(range(5))
    assert ParquetArchiver(tank, str(tmp_path / "a")).flush() == 0


def test_compaction_work_per_run_is_bounded(tmp_path, monkeypatch):
    from logradar.archive import parquet

    monkeypatch.setattr(parquet, "COMPACT_FILES_PER_RUN", 4)
    tank = SqliteTank(tmp_path / "t.db")
    archiver = ParquetArchiver(tank, str(tmp_path / "a"))
    for i in range(10):
        tank.append(ingest_table("web", [f"a{i}"], T0 + i))
        archiver.flush()
    runs = 0
    while archiver.compact(NOW):
        runs += 1
        assert len(parquet_files(tmp_path / "a")) == 10 - 3 * runs  # 4 files become 1
    assert runs == 3
    assert len(parquet_files(tmp_path / "a")) == 1
    assert offsets(tmp_path / "a") == list(range(10))
    assert archiver.state.rows == {archiver.state.files.copy().pop(): 10}
    restarted = ParquetArchiver(tank, str(tmp_path / "a"))  # row counts survive a restart
    assert restarted.state.rows == archiver.state.rows
