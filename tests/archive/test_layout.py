"""One archive layout: the local archiver writes it, ``train``'s reader reads it back."""

from __future__ import annotations

import pyarrow as pa

from logradar.archive import layout
from logradar.archive.parquet import ParquetArchiver
from logradar.config import load_config
from logradar.engine.train import archive_batches
from logradar.schema import ingest_table
from logradar.tank import SqliteTank

HOUR_NS = 3_600_000_000_000
T0 = 1_764_075_600_000_000_000  # 2025-11-25T13:00:00Z


def test_local_archiver_round_trip_through_train(tmp_path):
    tank = SqliteTank(tmp_path / "t.db")
    tank.append(ingest_table("web", ["b", "a"], [T0 + 5, T0 + 1], host="h1"))
    tank.append(ingest_table("web", ["c"], T0 + HOUR_NS, labels={"k": "v"}))
    tank.append(ingest_table("db", ["q"], T0))
    ParquetArchiver(tank, str(tmp_path / "archive")).flush()
    settings = load_config(None, archive={"url": str(tmp_path / "archive")})
    total, hours, batches = archive_batches(settings, stream="web")
    table = pa.concat_tables(list(batches))
    assert (total, hours) == (3, 2)
    assert table.column_names == list(layout.COLUMNS)
    assert table.column("message").to_pylist() == ["a", "b", "c"]  # event-time order
    assert table.column("host").to_pylist() == ["h1", "h1", None]
    assert table.column("labels").to_pylist() == [None, None, '{"k":"v"}']
    total, _, batches = archive_batches(settings, T0 + HOUR_NS, T0 + 2 * HOUR_NS)
    assert total == 1
    assert pa.concat_tables(list(batches)).column("message").to_pylist() == ["c"]


def test_partition_folders_follow_event_time(tmp_path):
    table = ingest_table("s", ["x", "y", "z"], [T0, T0 + HOUR_NS, T0 + 30])
    table = table.add_column(0, "offset", pa.array([0, 1, 2], pa.int64()))
    folders = [(f, rows.column("message").to_pylist()) for f, rows in layout.partitions(table)]
    assert folders == [
        ("stream=s/date=2025-11-25/hour=13", ["x", "z"]),
        ("stream=s/date=2025-11-25/hour=14", ["y"]),
    ]


def test_reading_a_missing_archive_finds_nothing(tmp_path):
    assert layout.open_dataset(str(tmp_path / "nothing")).count_rows() == 0
    assert not (tmp_path / "nothing").exists()


def test_train_cli_reads_an_archive_url(tmp_path):
    from click.testing import CliRunner

    from logradar.cli import main

    tank = SqliteTank(tmp_path / "t.db")
    tank.append(ingest_table("web", ["GET /a 200", "GET /b 200"], T0))
    ParquetArchiver(tank, str(tmp_path / "elsewhere")).flush()
    result = CliRunner().invoke(
        main,
        [
            "train",
            "--archive",
            str(tmp_path / "elsewhere"),
            "--data-dir",
            str(tmp_path / "d"),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "trained on 2 lines in 1 hour partitions" in result.output
    assert (tmp_path / "d" / "state" / "trained.json").is_file()
