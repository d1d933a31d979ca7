"""The Parquet archive written by Spark: Hive-partitioned, every line once across restarts."""

from __future__ import annotations

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
