"""The archive's one layout: where a record goes and which columns it has.

Every writer (the local archiver, the Spark archiver, compaction) and every reader
(``train``, ``backtest --archive``, ``search``) goes through this module.

Layout: ``<root>/stream=<name>/date=<YYYY-MM-DD>/hour=<HH>/<file>.parquet`` (zstd),
partitioned by *event* time (``ts``) in UTC, with the columns of
:data:`~logradar.schema.RECORD_SCHEMA` in the files (``stream`` both in the file and the path;
``date`` and ``hour`` only in the path).
When ``<root>/_manifest/`` exists, the committed manifest (:mod:`logradar.archive.manifest`)
is the list of files; a reader never lists the folders then (an archive written by Spark's
file sink has no manifest and is listed, ``_spark_metadata`` being skipped).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from logradar.schema import RECORD_SCHEMA, TIMESTAMP

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from logradar.config import ArchiveConfig

HOUR_NS = 3600 * 10**9
#: The schema of every archive file, and its column names in order.
SCHEMA = RECORD_SCHEMA
COLUMNS: tuple[str, ...] = tuple(SCHEMA.names)
#: Hive partition keys, outermost first (strings: ``date=2025-11-25``, ``hour=07``).
PARTITION_KEYS: tuple[str, ...] = ("stream", "date", "hour")
PARTITIONING = ds.partitioning(
    pa.schema([(key, pa.string()) for key in PARTITION_KEYS]), flavor="hive"
)
#: Dictionary-encode only the low-cardinality columns: messages are nearly all distinct, so
#: trying a dictionary for them costs ~35 % of the write and makes the file larger.
PARQUET_OPTIONS = {"compression": "zstd", "use_dictionary": ["stream", "host", "labels"]}


def partition_folder(stream: str, hour: int) -> str:
    """``stream=S/date=YYYY-MM-DD/hour=HH`` for an hour number (hours since the epoch)."""
    at = datetime.fromtimestamp(hour * 3600, UTC)
    return f"stream={stream}/{at:date=%Y-%m-%d/hour=%H}"


def partition_codes(table: pa.Table) -> tuple[np.ndarray, list[str], int, int]:
    """Per row a small integer naming its partition: ``(codes, streams, low_hour, span)``;
    ``code = stream_index * span + (hour - low_hour)``."""
    streams = pc.dictionary_encode(table.column("stream").combine_chunks())
    hours = table.column("ts").cast(pa.int64()).to_numpy() // HOUR_NS
    low = int(hours.min())
    span = int(hours.max()) - low + 1
    codes = streams.indices.to_numpy().astype(np.int64) * span + (hours - low)
    return codes, streams.dictionary.to_pylist(), low, span


def partitions(table: pa.Table) -> Iterator[tuple[str, pa.Table]]:
    """``(folder, rows)`` per partition of ``table``, in order of first appearance."""
    codes, names, low, span = partition_codes(table)
    _, first = np.unique(codes, return_index=True)
    for code in codes[np.sort(first)]:
        folder = partition_folder(names[code // span], int(code % span + low))
        yield folder, table.filter(pa.array(codes == code))


def to_layout(table: pa.Table) -> pa.Table:
    """``table`` with exactly the archive's columns and types."""
    return table.select(list(COLUMNS)).cast(SCHEMA)


def _date_hour(ns: int) -> tuple[str, str]:
    at = time.gmtime(ns // 10**9)
    return time.strftime("%Y-%m-%d", at), time.strftime("%H", at)


def record_filter(
    start_ns: int | None = None, end_ns: int | None = None, stream: str | None = None
) -> ds.Expression:
    """Rows of ``stream`` with ``start_ns <= ts < end_ns``, pruned to the partitions (stream,
    date and hour) that can hold them."""
    expr = ds.scalar(True)
    date, hour = ds.field("date"), ds.field("hour")
    if stream is not None:
        expr &= ds.field("stream") == stream
    if start_ns is not None:
        expr &= ds.field("ts") >= pa.scalar(start_ns, pa.int64()).cast(TIMESTAMP)
        d, h = _date_hour(start_ns)
        expr &= (date > d) | ((date == d) & (hour >= h))
    if end_ns is not None:
        expr &= ds.field("ts") < pa.scalar(end_ns, pa.int64()).cast(TIMESTAMP)
        d, h = _date_hour(max(end_ns - 1, 0))
        expr &= (date < d) | ((date == d) & (hour <= h))
    return expr


#: The schema a reader sees: the stored columns, then the partition keys.
DATASET_SCHEMA = pa.schema(
    [*RECORD_SCHEMA, *(pa.field(k, pa.string()) for k in PARTITION_KEYS if k not in COLUMNS)]
)


def open_dataset(url: str, cfg: ArchiveConfig | None = None) -> ds.Dataset:
    """The archive at ``url`` as a pyarrow dataset of its committed files (empty when the
    folder does not exist)."""
    from logradar.archive.manifest import Manifest
    from logradar.archive.storage import open_filesystem

    fs, root = open_filesystem(url, cfg, create=False)
    options = {"filesystem": fs, "format": "parquet", "partitioning": PARTITIONING}
    if fs.get_file_info(root).type == pafs.FileType.NotFound:
        return ds.dataset([], schema=DATASET_SCHEMA, **options)
    files = Manifest(fs, root).files()
    if files is None:  # no manifest (Spark's file sink): list the folders
        return ds.dataset(root, schema=DATASET_SCHEMA, **options)
    paths = [f"{root}/{name}" for name in sorted(files)]
    return ds.dataset(paths, schema=DATASET_SCHEMA, partition_base_dir=root, **options)


def spark_layout(df: DataFrame) -> DataFrame:
    """A Spark frame with ``stream, record_ts (ns), message`` (and ``offset`` when read from
    the tank) in the archive's columns, plus the partition keys (``partitionBy``)."""
    from pyspark.sql import functions as F

    ts = F.timestamp_micros(F.floor(F.col("record_ts") / 1000).cast("long"))
    offset = F.col("offset") if "offset" in df.columns else F.lit(None)  # file sources: none
    return df.select(
        offset.cast("long").alias("offset"),
        F.col("stream"),
        ts.alias("ts"),
        ts.alias("ingest_ts"),
        F.lit(None).cast("string").alias("host"),
        F.lit(None).cast("string").alias("labels"),
        F.col("message"),
        F.date_format(ts, "yyyy-MM-dd").alias("date"),
        F.date_format(ts, "HH").alias("hour"),
    )
