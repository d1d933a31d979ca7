"""Found by the disk-full fault run: an archive flush whose files were written but whose
offset commit failed (the tank's disk full) is retried in the same process with a batch
that grew meanwhile; the first attempt's files must not stay next to the retry's."""

from __future__ import annotations

import collections

import pyarrow.dataset as ds

from logradar.archive.parquet import ParquetArchiver
from logradar.schema import ingest_table
from logradar.tank import SqliteTank, TankFull

T0 = 1_764_075_600_000_000_000


def test_a_failed_commit_then_a_bigger_retry_archives_each_record_once(tmp_path, monkeypatch):
    tank = SqliteTank(tmp_path / "t.db")
    tank.append(ingest_table("web", [f"GET /a {i}" for i in range(50)], T0))
    archiver = ParquetArchiver(tank, str(tmp_path / "archive"))
    real_commit = tank.commit

    def full_once(consumer: str, offset: int) -> None:
        monkeypatch.setattr(tank, "commit", real_commit)
        raise TankFull("database or disk is full")

    monkeypatch.setattr(tank, "commit", full_once)
    archiver._safe(archiver.flush)  # files written, commit failed: retried later
    tank.append(ingest_table("web", [f"GET /b {i}" for i in range(20)], T0))
    archiver._safe(archiver.flush)
    offsets = ds.dataset(tmp_path / "archive", partitioning="hive").to_table()["offset"]
    counts = collections.Counter(offsets.to_pylist())
    assert sorted(counts) == list(range(70))
    assert set(counts.values()) == {1}
    tank.close()
