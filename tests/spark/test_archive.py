"""The Parquet archive written by Spark: Hive-partitioned, every line once across restarts."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.dataset as ds
import pytest

from logradar.spark.sources import file_source, start_archive

from .conftest import write_inputs

pytestmark = pytest.mark.spark


def test_archive_has_every_line_once_after_a_rerun(spark, tmp_path):
    parts = write_inputs(tmp_path / "in")
    out = tmp_path / "archive"
    for _ in range(2):  # the second run finds nothing new in its checkpoint
        query = start_archive(
            file_source(spark, str(tmp_path / "in"), max_files_per_trigger=2),
            str(out),
            str(tmp_path / "checkpoint"),
            available_now=True,
        )
        query.awaitTermination()
    table = spark.read.parquet(str(out)).toArrow()  # through the sink's metadata log
    assert sorted(table.column("message").to_pylist()) == sorted(x for p in parts for x in p)
    assert set(table.column("stream").to_pylist()) == {"main"}
    files = ds.dataset(out, format="parquet", partitioning="hive", exclude_invalid_files=True)
    assert {f.split("/")[-4] for f in files.files} == {"stream=main"}
    assert all(f.split("/")[-3].startswith("date=2023-11-14") for f in files.files)


def test_train_reads_the_spark_archive(spark, tmp_path):
    """One layout: what Spark's archiver wrote, ``train`` reads (columns, partitions, ts)."""
    from logradar.archive import layout
    from logradar.config import load_config
    from logradar.engine.train import archive_batches

    parts = write_inputs(tmp_path / "in")
    out = tmp_path / "archive"
    start_archive(
        file_source(spark, str(tmp_path / "in"), max_files_per_trigger=2),
        str(out),
        str(tmp_path / "checkpoint"),
        available_now=True,
    ).awaitTermination()
    settings = load_config(None, archive={"url": str(out)})
    total, hours, batches = archive_batches(settings, stream="main")
    table = pa.concat_tables(list(batches))
    assert total == table.num_rows == sum(len(p) for p in parts)
    assert hours >= 1
    assert table.column_names == list(layout.COLUMNS)
    assert sorted(table.column("message").to_pylist()) == sorted(x for p in parts for x in p)
    assert str(table.schema.field("ts").type) == "timestamp[ns, tz=UTC]"
