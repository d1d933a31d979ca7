"""Inputs and outputs of the streaming job: streaming DataFrames and the queries on them.

Inputs (:func:`file_source`, :func:`kafka_source`, :func:`tank_source`) are streaming
DataFrames with ``stream``, ``message``, ``record_ts`` (ns, used when a line has no parsable
time) and either ``offset`` (a global order, e.g. the tank's) or ``part`` plus a per-part
order (file path or Kafka partition), from which the reducer numbers offsets itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from logradar.backtest import DEFAULT_STREAM
from logradar.spark.executors import PART

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming import StreamingQuery

    from logradar.spark.reducer import StreamReducer


def file_source(
    spark: SparkSession,
    path: str,
    stream: str = DEFAULT_STREAM,
    max_files_per_trigger: int | None = None,
) -> DataFrame:
    """Text files under ``path`` (local, ``s3a://``, ``obs://``, ``hdfs://``), new files picked
    up as they land; one line per record, e.g. what LTS's transfer to OBS writes.

    A line without a parsable time takes its file's modification time.
    """
    from pyspark.sql import functions as F

    reader = spark.readStream.format("text")
    if max_files_per_trigger:
        reader = reader.option("maxFilesPerTrigger", str(max_files_per_trigger))
    return reader.load(path).select(
        F.col("_metadata.file_path").alias(PART),
        F.lit(stream).alias("stream"),
        (F.unix_micros(F.col("_metadata.file_modification_time")) * 1000).alias("record_ts"),
        F.col("value").alias("message"),
    )


def kafka_source(
    spark: SparkSession,
    bootstrap_servers: str,
    topics: str,
    options: dict[str, str] | None = None,
) -> DataFrame:
    """Kafka topics (Spark's connector; e.g. Huawei DMS for Kafka): the value is the line,
    the topic the stream, the Kafka timestamp the fallback time; ordered per partition.

    Needs ``--packages org.apache.spark:spark-sql-kafka-0-10_2.13:<spark version>``.
    """
    from pyspark.sql import functions as F

    reader = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", bootstrap_servers)
        .option("subscribe", topics)
    )
    for key, value in (options or {}).items():
        reader = reader.option(key, value)
    return reader.load().select(
        F.format_string("%s/%010d", "topic", "partition").alias(PART),
        F.col("topic").alias("stream"),
        (F.unix_micros("timestamp") * 1000).alias("record_ts"),
        F.col("value").cast("string").alias("message"),
    )


def tank_source(spark: SparkSession, tank_path: Path | str, max_rows: int) -> DataFrame:
    """logradar's own tank through the Python streaming data source ``logradar_tank``."""
    from logradar.spark.tank import TankDataSource

    spark.dataSource.register(TankDataSource)
    return (
        spark.readStream.format(TankDataSource.name())
        .option("path", str(tank_path))
        .option("maxRows", str(max_rows))
        .load()
    )


def start_detection(
    source: DataFrame,
    reducer: StreamReducer,
    checkpoint: str,
    *,
    trigger_seconds: float | None = None,
    available_now: bool = False,
    query_name: str = "logradar-detect",
) -> StreamingQuery:
    """Start the detection query: ``source`` through ``reducer`` with its checkpoint."""
    writer = (
        source.writeStream.queryName(query_name)
        .foreachBatch(reducer)
        .option("checkpointLocation", checkpoint)
    )
    if available_now:
        writer = writer.trigger(availableNow=True)
    elif trigger_seconds:
        writer = writer.trigger(processingTime=f"{trigger_seconds} seconds")
    return writer.start()


def start_archive(
    source: DataFrame, url: str, checkpoint: str, *, available_now: bool = False
) -> StreamingQuery:
    """Parquet archive written by Spark's file sink (exactly once through its metadata log),
    in the archive layout (:mod:`logradar.archive.layout`) the local archiver writes."""
    from logradar.archive import layout

    writer = (
        layout.spark_layout(source)
        .writeStream.queryName("logradar-archive")
        .format("parquet")
        .option("compression", "zstd")
        .option("checkpointLocation", checkpoint)
        .partitionBy(*layout.PARTITION_KEYS)
    )
    if available_now:
        writer = writer.trigger(availableNow=True)
    return writer.start(url)
