"""The Parquet archive: layout, exactly-once, crash recovery."""

from __future__ import annotations

from pathlib import Path

import pyarrow.dataset as ds
import pytest

from logradar.archive.parquet import CONSUMER, ParquetArchiver
from logradar.schema import ingest_table
from logradar.tank import SqliteTank

HOUR_NS = 3_600_000_000_000
T0 = 1_764_075_600_000_000_000  # 2025-11-25T13:00:00Z


def fill(tank: SqliteTank) -> None:
    tank.append(ingest_table("web", [f"GET /a {i}" for i in range(50)], T0))
    tank.append(ingest_table("db", [f"query {i}" for i in range(30)], T0 + HOUR_NS))
    tank.append(ingest_table("web", [f"GET /b {i}" for i in range(20)], T0 + HOUR_NS))


def read_archive(root: Path):
    return ds.dataset(root, partitioning="hive").to_table()


def test_layout_is_hive_partitioned_and_complete(tmp_path):
    tank = SqliteTank(tmp_path / "t.db")
    fill(tank)
    archiver = ParquetArchiver(tank, str(tmp_path / "archive"))
    assert archiver.flush() == 100
    table = read_archive(tmp_path / "archive")
    assert {"stream", "ts", "message", "offset", "date", "hour"} <= set(table.column_names)
    assert sorted(table.column("offset").to_pylist()) == list(range(100))
    dirs = sorted(
        p.relative_to(tmp_path / "archive").parent.as_posix()
        for p in (tmp_path / "archive").rglob("*.parquet")
    )
    assert dirs == [
        "stream=db/date=2025-11-25/hour=14",
        "stream=web/date=2025-11-25/hour=13",
        "stream=web/date=2025-11-25/hour=14",
    ]
    assert tank.committed(CONSUMER) == 99
    assert archiver.flush() == 0  # nothing twice


def test_crash_between_manifest_and_tank_commit_writes_nothing_twice(tmp_path):
    tank = SqliteTank(tmp_path / "t.db")
    fill(tank)
    archiver = ParquetArchiver(tank, str(tmp_path / "archive"), max_rows_per_file=60)
    batch = tank.read(-1, 60)
    archiver._write(batch, archiver.state)  # files + manifest, then "dies" before the tank
    tank.append(ingest_table("web", ["late line"], T0))
    # restart: the manifest is ahead of the tank, so the tank's offset moves up to it
    archiver = ParquetArchiver(tank, str(tmp_path / "archive"), max_rows_per_file=60)
    archiver.flush()
    offsets = read_archive(tmp_path / "archive").column("offset").to_pylist()
    assert sorted(offsets) == list(range(101))


def test_crash_before_the_manifest_commit_leaves_no_orphan(tmp_path, monkeypatch):
    tank = SqliteTank(tmp_path / "t.db")
    fill(tank)
    archiver = ParquetArchiver(tank, str(tmp_path / "archive"), max_rows_per_file=60)

    def die(*args, **kwargs):
        raise SystemExit("killed between the file writes and the manifest commit")

    monkeypatch.setattr(archiver.manifest, "commit", die)
    with pytest.raises(SystemExit):
        archiver.flush()
    assert list((tmp_path / "archive").rglob("part-*.parquet"))  # the attempt's files
    tank.append(ingest_table("web", ["late line"], T0))
    archiver = ParquetArchiver(tank, str(tmp_path / "archive"), max_rows_per_file=60)
    archiver.flush()
    offsets = read_archive(tmp_path / "archive").column("offset").to_pylist()
    assert sorted(offsets) == list(range(101))


def test_temporary_files_are_invisible_and_cleaned(tmp_path):
    tank = SqliteTank(tmp_path / "t.db")
    fill(tank)
    folder = tmp_path / "archive" / "stream=web" / "date=2025-11-25" / "hour=13"
    folder.mkdir(parents=True)
    (folder / ".part-00000000000000000000-00000000000000000049.parquet.tmp").write_bytes(b"junk")
    archiver = ParquetArchiver(tank, str(tmp_path / "archive"))
    archiver.flush()  # the first flush recovers: temporary files go
    assert not list(folder.glob(".*"))
    assert read_archive(tmp_path / "archive").num_rows == 100
